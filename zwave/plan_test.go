package zwave_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/zwave"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func code(person, c string) store.ZWaveCode {
	return store.ZWaveCode{PersonID: person, Code: c, NotBefore: t0.Add(-time.Hour), Digest: person + ":" + c}
}

func held(c store.ZWaveCode) store.ZWaveSlot {
	return store.ZWaveSlot{PersonID: c.PersonID, Digest: c.Digest}
}

func TestPlan(t *testing.T) {
	ana, bo, cy := code("ana", "1111"), code("bo", "2222"), code("cy", "3333")
	t.Run("WritesIntoFreeSlots", func(t *testing.T) {
		ops, over, _ := zwave.Plan([]store.ZWaveCode{ana, bo}, nil, 5, t0)
		if over != 0 || len(ops) != 2 || ops[0].Slot != 1 || ops[1].Slot != 2 || ops[0].Clear || ops[0].Code.PersonID != "ana" {
			t.Fatalf("ops %+v over %d", ops, over)
		}
	})
	t.Run("InSyncIsNothing", func(t *testing.T) {
		ops, over, _ := zwave.Plan([]store.ZWaveCode{ana, bo}, map[int]store.ZWaveSlot{3: held(ana), 1: held(bo)}, 5, t0)
		if len(ops) != 0 || over != 0 {
			t.Fatalf("ops %+v over %d for a lock in sync", ops, over)
		}
	})
	t.Run("RevokedClearedFirst", func(t *testing.T) {
		ops, _, _ := zwave.Plan([]store.ZWaveCode{cy}, map[int]store.ZWaveSlot{1: held(ana), 2: held(bo)}, 2, t0)
		// Cy takes a slot being freed: rewriting it removes the old code in
		// the same write; the other is cleared, and clears come first.
		if len(ops) != 2 || !ops[0].Clear || ops[1].Clear || ops[1].Code.PersonID != "cy" {
			t.Fatalf("ops %+v", ops)
		}
		if ops[0].Slot == ops[1].Slot {
			t.Fatal("a slot both cleared and written")
		}
	})
	t.Run("ChangedCodeRewrittenInPlace", func(t *testing.T) {
		newAna := code("ana", "9999")
		ops, _, _ := zwave.Plan([]store.ZWaveCode{newAna}, map[int]store.ZWaveSlot{4: held(ana)}, 5, t0)
		if len(ops) != 1 || ops[0].Slot != 4 || ops[0].Clear || ops[0].Code.Code != "9999" {
			t.Fatalf("ops %+v", ops)
		}
	})
	t.Run("ForeignSlotsLeftAloneNotFree", func(t *testing.T) {
		foreign := map[int]store.ZWaveSlot{1: {Foreign: true}, 3: {Foreign: true}}
		ops, over, _ := zwave.Plan([]store.ZWaveCode{ana, bo}, foreign, 3, t0)
		if over != 1 || len(ops) != 1 || ops[0].Slot != 2 || ops[0].Clear {
			t.Fatalf("ops %+v over %d, want slot 2 written and 1 over (slots 1 and 3 are another's)", ops, over)
		}
	})
	t.Run("OverFullCounted", func(t *testing.T) {
		ops, over, _ := zwave.Plan([]store.ZWaveCode{ana, bo, cy}, nil, 2, t0)
		if len(ops) != 2 || over != 1 {
			t.Fatalf("ops %+v over %d, want 2 writes and 1 over", ops, over)
		}
	})
	t.Run("WindowsEnforcedByAddingAndClearing", func(t *testing.T) {
		later := code("dee", "4444")
		later.NotBefore = t0.Add(time.Hour)
		ended := code("eve", "5555")
		ended.NotAfter = t0
		ending := code("fay", "6666")
		ending.NotAfter = t0.Add(30 * time.Minute)
		ops, _, next := zwave.Plan([]store.ZWaveCode{later, ended, ending}, map[int]store.ZWaveSlot{1: held(ended)}, 5, t0)
		// Eve's slot is rewritten with Fay's code (which removes Eve's);
		// Dee's window has not opened.
		if len(ops) != 1 || ops[0].Slot != 1 || ops[0].Clear || ops[0].Code.PersonID != "fay" {
			t.Fatalf("ops %+v: want eve's slot given to fay, dee not yet", ops)
		}
		ops, _, _ = zwave.Plan([]store.ZWaveCode{later, ended}, map[int]store.ZWaveSlot{1: held(ended)}, 5, t0)
		if len(ops) != 1 || !ops[0].Clear || ops[0].Slot != 1 {
			t.Fatalf("ops %+v: want eve's ended code cleared", ops)
		}
		if !next.Equal(t0.Add(30 * time.Minute)) {
			t.Fatalf("next %v, want when fay's window closes", next)
		}
	})
	t.Run("DuplicateHolderCleared", func(t *testing.T) {
		ops, _, _ := zwave.Plan([]store.ZWaveCode{ana}, map[int]store.ZWaveSlot{1: held(ana), 2: held(ana)}, 5, t0)
		if len(ops) != 1 || !ops[0].Clear || ops[0].Slot != 2 {
			t.Fatalf("ops %+v", ops)
		}
	})
	t.Run("SlotBeyondCapacityCleared", func(t *testing.T) {
		ops, _, _ := zwave.Plan([]store.ZWaveCode{ana}, map[int]store.ZWaveSlot{9: held(ana)}, 5, t0)
		if len(ops) != 2 || !ops[0].Clear || ops[0].Slot != 9 || ops[1].Slot != 1 {
			t.Fatalf("ops %+v", ops)
		}
	})
}

// TestPlanSchedule: a key's weekly schedule, read on the property's wall
// clock, decides when a code is in the lock; the syncer wakes at its edges.
func TestPlanSchedule(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal("no tzdata:", err)
	}
	// Mondays 08:00–18:00 in New York (UTC-5 in early March 2026).
	c := code("ana", "1111")
	c.Schedule, c.Loc = lockproto.Schedule{{Day: time.Monday, Start: 8 * 60, End: 18 * 60}}, ny
	sunday := t0 // 2026-03-01 12:00 UTC, a Sunday
	monOpen := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	monClose := time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)

	ops, _, next := zwave.Plan([]store.ZWaveCode{c}, nil, 5, sunday)
	if len(ops) != 0 || !next.Equal(monOpen) {
		t.Fatalf("outside the schedule: ops %+v next %v, want none and %v", ops, next, monOpen)
	}
	ops, _, next = zwave.Plan([]store.ZWaveCode{c}, nil, 5, monOpen)
	if len(ops) != 1 || ops[0].Clear || ops[0].Code.PersonID != "ana" || !next.Equal(monClose) {
		t.Fatalf("at the schedule's start: ops %+v next %v, want a write and %v", ops, next, monClose)
	}
	ops, _, next = zwave.Plan([]store.ZWaveCode{c}, map[int]store.ZWaveSlot{1: held(c)}, 5, monOpen.Add(time.Hour))
	if len(ops) != 0 || !next.Equal(monClose) {
		t.Fatalf("inside the schedule: ops %+v next %v", ops, next)
	}
	nextMon := time.Date(2026, 3, 9, 8, 0, 0, 0, ny) // 12:00 UTC: daylight saving time began on the 8th
	ops, _, next = zwave.Plan([]store.ZWaveCode{c}, map[int]store.ZWaveSlot{1: held(c)}, 5, monClose)
	if len(ops) != 1 || !ops[0].Clear || ops[0].Slot != 1 || !next.Equal(nextMon) {
		t.Fatalf("at the schedule's end: ops %+v next %v, want a clear and %v", ops, next, nextMon)
	}
	// 12:00 UTC on a Monday is 07:00 in New York: not yet (a UTC reading would say yes).
	if ops, _, _ := zwave.Plan([]store.ZWaveCode{c}, nil, 5, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)); len(ops) != 0 {
		t.Fatalf("schedule read in UTC, not the property's time: %+v", ops)
	}
	// A code's own window still bounds it inside the schedule.
	c.NotAfter = monOpen.Add(time.Hour)
	if ops, _, _ := zwave.Plan([]store.ZWaveCode{c}, map[int]store.ZWaveSlot{1: held(c)}, 5, monOpen.Add(2*time.Hour)); len(ops) != 1 || !ops[0].Clear {
		t.Fatalf("an expired code kept for its schedule: %+v", ops)
	}
}
