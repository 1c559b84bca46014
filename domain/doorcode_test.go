package domain_test

import (
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestTrivialDoorcode(t *testing.T) {
	for code, want := range map[string]bool{
		"0000": true, "7777777": true, "1234567": true, "7654321": true, "7890123": true, "3210987": true,
		"123456789": true, "0123": true,
		"1234568": false, "1357924": false, "1122334": false, "8264913": false, "1212": false,
	} {
		if got := domain.TrivialDoorcode(code); got != want {
			t.Errorf("TrivialDoorcode(%s) = %v, want %v", code, got, want)
		}
	}
}

func TestGenerateDoorcode(t *testing.T) {
	for length := domain.MinDoorcodeLength; length <= domain.MaxDoorcodeLength; length++ {
		code, err := domain.GenerateDoorcode(length, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != length || strings.Trim(code, "0123456789") != "" || domain.TrivialDoorcode(code) {
			t.Fatalf("length %d: bad code %q", length, code)
		}
	}
	t.Run("ErrLength", func(t *testing.T) {
		for _, n := range []int{0, 3, 10} {
			_, err := domain.GenerateDoorcode(n, func(string) bool { return false })
			wantErr(t, err, domain.EInvalid, "doorcode_length")
		}
	})
	t.Run("SkipsTakenCodes", func(t *testing.T) {
		// Take every 4-digit code but one: the generator must find it.
		const free = "4817"
		code, err := domain.GenerateDoorcode(4, func(c string) bool { return c != free })
		if err == nil && code != free {
			t.Fatalf("got taken code %s", code)
		}
	})
	t.Run("UniqueAcrossDraws", func(t *testing.T) {
		taken := map[string]bool{}
		for i := 0; i < 2000; i++ {
			code, err := domain.GenerateDoorcode(5, func(c string) bool { return taken[c] })
			if err != nil {
				t.Fatal(err)
			}
			if taken[code] {
				t.Fatalf("code %s drawn twice", code)
			}
			taken[code] = true
		}
	})
	t.Run("ConflictWhenExhausted", func(t *testing.T) {
		_, err := domain.GenerateDoorcode(4, func(string) bool { return true })
		wantErr(t, err, domain.EConflict, "")
	})
}
