package lock

import (
	"testing"
	"time"
)

// A suspension file written before day keys, cards and doorcodes (each
// entry PersonID, Until, Expires) loads as the people's suspensions it
// held, under the person kind.
func TestLoadSuspensionsOldFormat(t *testing.T) {
	type oldSuspension struct {
		PersonID string
		Until    uint64
		Expires  time.Time
	}
	fs := NewMemFS()
	exp := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	old := struct{ Suspended []oldSuspension }{[]oldSuspension{{"p-ana", 3, exp}, {"p-bob", 4, exp}}}
	if err := writeAtomic(fs, suspendFile, &old); err != nil {
		t.Fatal(err)
	}
	got, err := loadSuspensions(fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[suspPerson+"p-ana"]) != 1 || got[suspPerson+"p-bob"][0].Until != 4 || !got[suspPerson+"p-bob"][0].Expires.Equal(exp) {
		t.Fatalf("loaded %+v", got)
	}
}
