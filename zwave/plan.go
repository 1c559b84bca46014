package zwave

import (
	"sort"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
)

// Op is one write to a User Code slot: a code to put there, or Clear.
type Op struct {
	Slot  int
	Clear bool
	Code  store.ZWaveCode
}

// Plan decides the slot writes that make a lock hold the codes that are
// in force at now, given what its slots hold and how many it has. Codes
// outside their window are not in force: a Z-Wave lock has no windows of
// its own here, so DOOR OS adds a code when its window opens and clears it
// when it closes, and likewise at the edges of a key's weekly schedule;
// next is the earliest such moment after now (zero: none).
// A person keeps their slot; a changed code is rewritten in place; clears
// come first, so a revocation is never queued behind additions. Codes that
// do not fit are counted in overFull, never dropped silently. A Foreign
// slot (a code DOOR OS did not write) is never written nor cleared.
func Plan(codes []store.ZWaveCode, slots map[int]store.ZWaveSlot, capacity int, now time.Time) (ops []Op, overFull int, next time.Time) {
	later := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	want := map[string]store.ZWaveCode{}
	for _, c := range codes {
		later(c.NotBefore)
		if !c.NotAfter.IsZero() {
			later(c.NotAfter)
		}
		if c.NotBefore.After(now) || (!c.NotAfter.IsZero() && !now.Before(c.NotAfter)) {
			continue
		}
		if len(c.Schedule) > 0 {
			loc := c.Loc
			if loc == nil {
				loc = time.UTC
			}
			later(scheduleEdge(c.Schedule, loc, now))
			if !c.Schedule.Allows(now, loc) {
				continue
			}
		}
		want[c.PersonID] = c
	}
	used := map[int]bool{}
	placed := map[string]bool{}
	var clears, writes []Op
	for _, slot := range sortedSlots(slots) {
		held := slots[slot]
		c, ok := want[held.PersonID]
		switch {
		case held.Foreign:
			used[slot] = true // another's code, there before DOOR OS: left alone
		case !ok || placed[held.PersonID]:
			clears = append(clears, Op{Slot: slot, Clear: true})
		case slot > capacity && capacity > 0:
			clears = append(clears, Op{Slot: slot, Clear: true}) // the node has fewer slots than we thought
		case held.Digest != c.Digest:
			writes = append(writes, Op{Slot: slot, Code: c})
			used[slot], placed[c.PersonID] = true, true
		default:
			used[slot], placed[c.PersonID] = true, true
		}
	}
	var missing []store.ZWaveCode
	for _, c := range want {
		if !placed[c.PersonID] {
			missing = append(missing, c)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].PersonID < missing[j].PersonID })
	slot := 1
	for _, c := range missing {
		for slot <= capacity && used[slot] {
			slot++
		}
		if slot > capacity {
			overFull++
			continue
		}
		// A slot being cleared may take the new code at once.
		writes = append(writes, Op{Slot: slot, Code: c})
		used[slot] = true
	}
	// A cleared slot that is rewritten needs no clear first.
	rewritten := map[int]bool{}
	for _, w := range writes {
		rewritten[w.Slot] = true
	}
	for _, c := range clears {
		if !rewritten[c.Slot] {
			ops = append(ops, c)
		}
	}
	return append(ops, writes...), overFull, next
}

// scheduleEdge is the first moment after now at which a weekly schedule
// opens or closes (wall clock of loc; zero: never, for an empty one).
func scheduleEdge(s lockproto.Schedule, loc *time.Location, now time.Time) time.Time {
	var next time.Time
	lt := now.In(loc)
	for d := 0; d <= 7; d++ {
		y, m, day := lt.AddDate(0, 0, d).Date()
		wd := time.Date(y, m, day, 12, 0, 0, 0, loc).Weekday()
		for _, w := range s {
			if w.Day != wd {
				continue
			}
			for _, edge := range []uint16{w.Start, w.End} {
				t := time.Date(y, m, day, 0, int(edge), 0, 0, loc)
				if t.After(now) && (next.IsZero() || t.Before(next)) {
					next = t
				}
			}
		}
	}
	return next
}

func sortedSlots(m map[int]store.ZWaveSlot) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
