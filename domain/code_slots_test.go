package domain_test

import (
	"reflect"
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestActiveCodeSlots(t *testing.T) {
	for _, tc := range []struct {
		name      string
		allocated []int
		slots     int
		want      []uint16
	}{
		{"NoneAllocated", nil, 20, []uint16{0, 1}},
		{"LowestTaken", []int{0, 1, 2}, 20, []uint16{0, 1, 2, 3, 4}},
		{"HoleFilledFirst", []int{0, 2, 5}, 20, []uint16{0, 1, 2, 3, 5}},
		{"Full", []int{0, 1, 2}, 3, []uint16{0, 1, 2}},
		{"AllocatedBeyondSlotsIgnored", []int{25}, 3, []uint16{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[int]bool{}
			for _, s := range tc.allocated {
				m[s] = true
			}
			if got := domain.ActiveCodeSlots(m, tc.slots); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			// The next slot any allocation takes is active already.
			next, err := domain.FreeCodeSlot(m, "k")
			if err == nil && next < tc.slots {
				found := false
				for _, s := range domain.ActiveCodeSlots(m, tc.slots) {
					found = found || int(s) == next
				}
				if !found {
					t.Fatalf("next allocation %d is not active", next)
				}
			}
		})
	}
}
