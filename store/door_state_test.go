package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
)

func TestLockEntryWindow(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return now.Add(time.Duration(n) * time.Hour) }
	hp := func(n int) *time.Time { v := h(n); return &v }
	mon := lockproto.Schedule{{Day: time.Monday, Start: 480, End: 1080}}
	tue := lockproto.Schedule{{Day: time.Tuesday, Start: 480, End: 1080}}
	tests := []struct {
		name      string
		grants    []store.HolderGrant
		ok        bool
		notBefore time.Time
		notAfter  time.Time // zero: open-ended
		schedule  lockproto.Schedule
		refreshAt *time.Time
	}{
		{name: "OneGrant", grants: []store.HolderGrant{{Start: h(-1), End: hp(2)}}, ok: true, notBefore: h(-1), notAfter: h(2)},
		{name: "OverlappingWindowsMerge", grants: []store.HolderGrant{{Start: h(-1), End: hp(2)}, {Start: h(1), End: hp(5)}}, ok: true, notBefore: h(-1), notAfter: h(5)},
		{name: "TouchingWindowsMerge", grants: []store.HolderGrant{{Start: h(-1), End: hp(2)}, {Start: h(2), End: hp(4)}}, ok: true, notBefore: h(-1), notAfter: h(4)},
		{name: "OpenEndedSwallowsLater", grants: []store.HolderGrant{{Start: h(-1)}, {Start: h(5), End: hp(6)}}, ok: true, notBefore: h(-1)},
		{name: "GapKeepsCurrentWindowOnly", grants: []store.HolderGrant{{Start: h(3), End: hp(5)}, {Start: h(-1), End: hp(1)}}, ok: true, notBefore: h(-1), notAfter: h(1), refreshAt: hp(1)},
		{name: "GapBeforeFirstWindowStarts", grants: []store.HolderGrant{{Start: h(1), End: hp(2)}, {Start: h(4), End: hp(6)}}, ok: true, notBefore: h(1), notAfter: h(2), refreshAt: hp(2)},
		{name: "OverWindowDropped", grants: []store.HolderGrant{{Start: h(-5), End: hp(-2)}, {Start: h(1), End: hp(2)}}, ok: true, notBefore: h(1), notAfter: h(2)},
		{name: "EmptyWindowDropped", grants: []store.HolderGrant{{Start: h(3), End: hp(2)}}, ok: false},
		{name: "AllOver", grants: []store.HolderGrant{{Start: h(-5), End: hp(0)}}, ok: false},
		{name: "SchedulesUnion", grants: []store.HolderGrant{{Start: h(-1), End: hp(2), Schedule: mon}, {Start: h(0), End: hp(3), Schedule: tue}}, ok: true, notBefore: h(-1), notAfter: h(3), schedule: append(append(lockproto.Schedule{}, mon...), tue...)},
		{name: "NoScheduleMeansNone", grants: []store.HolderGrant{{Start: h(-1), End: hp(2), Schedule: mon}, {Start: h(0), End: hp(3)}}, ok: true, notBefore: h(-1), notAfter: h(3)},
		{name: "LaterWindowScheduleNotUsedYet", grants: []store.HolderGrant{{Start: h(-1), End: hp(1), Schedule: mon}, {Start: h(2), End: hp(3), Schedule: tue}}, ok: true, notBefore: h(-1), notAfter: h(1), schedule: mon, refreshAt: hp(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, refreshAt, ok := store.LockEntryWindow(tt.grants, now)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if !e.NotBefore.Equal(tt.notBefore) || !e.NotAfter.Equal(tt.notAfter) {
				t.Errorf("window = %v → %v, want %v → %v", e.NotBefore, e.NotAfter, tt.notBefore, tt.notAfter)
			}
			if len(e.Schedule) != len(tt.schedule) {
				t.Errorf("schedule = %v, want %v", e.Schedule, tt.schedule)
			}
			for i := range min(len(e.Schedule), len(tt.schedule)) {
				if e.Schedule[i] != tt.schedule[i] {
					t.Errorf("schedule = %v, want %v", e.Schedule, tt.schedule)
				}
			}
			switch {
			case (refreshAt == nil) != (tt.refreshAt == nil):
				t.Errorf("refreshAt = %v, want %v", refreshAt, tt.refreshAt)
			case refreshAt != nil && !refreshAt.Equal(*tt.refreshAt):
				t.Errorf("refreshAt = %v, want %v", *refreshAt, *tt.refreshAt)
			}
		})
	}
}
