package storetest_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/store/storetest"
)

func TestMidnightWait(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		now  string
		want time.Duration
	}{
		{"2026-12-06 12:00:00", 0},
		{"2026-12-06 23:58:59", 0},                              // 61 s left: outside a minute
		{"2026-12-06 23:59:30", 30*time.Second + 5*time.Second}, // to midnight, and 5 s past it
		{"2026-12-07 00:00:02", 3 * time.Second},                // a lagging clock may still read yesterday
		{"2026-12-07 00:00:05", 0},
		{"2026-11-01 23:59:50", 15 * time.Second}, // the 25-hour day the clocks went back
		{"2026-03-08 23:59:50", 15 * time.Second}, // the 23-hour day
	} {
		if got := storetest.MidnightWait(at(c.now), ny, time.Minute); got != c.want {
			t.Errorf("at %s: wait %v, want %v", c.now, got, c.want)
		}
	}
	// Midnight is the property's, not the machine's: 23:59:30 in New York
	// is 04:59:30 UTC.
	if got := storetest.MidnightWait(at("2026-12-06 23:59:30").UTC(), ny, time.Minute); got != 35*time.Second {
		t.Errorf("from a UTC time: wait %v, want 35s", got)
	}
}
