package domain

import (
	"errors"
	"sort"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// ErrNothingToIssue is returned when the person holds no key that opens a
// door now or within the credential lifetime, so no phone credential is
// issued.
var ErrNothingToIssue = errors.New("no key opens a door now or within the credential lifetime")

// CredentialPlan is what one phone credential covers: the locks (lock id =
// door id) with their schedules, and its validity window.
type CredentialPlan struct {
	Locks     []lockproto.LockAccess
	NotBefore time.Time
	NotAfter  time.Time
}

// DoorIDs lists the plan's doors, sorted.
func (c CredentialPlan) DoorIDs() []string {
	out := make([]string, len(c.Locks))
	for i, l := range c.Locks {
		out[i] = l.LockID
	}
	return out
}

// SplitBy splits the plan into one plan per signing key: keyOf names the key whose signature the lock
// of a door verifies. During a property-key rotation doors whose lock
// already took the new key need a credential signed by it, the others one
// signed by the old key; the window is the same for every part.
func (c CredentialPlan) SplitBy(keyOf func(lockID string) string) map[string]CredentialPlan {
	out := map[string]CredentialPlan{}
	for _, l := range c.Locks {
		k := keyOf(l.LockID)
		p := out[k]
		p.NotBefore, p.NotAfter = c.NotBefore, c.NotAfter
		p.Locks = append(p.Locks, l)
		out[k] = p
	}
	return out
}

// PlanCredential decides what a phone credential issued at now covers. It
// never gives more than a grant allows (DESIGN.md §4.2):
//   - the doors of the grants active now; when none is, the grants starting
//     first, if they start within the lifetime (a pending resident's phone
//     then works at an offline door the moment access starts, no sync);
//   - per door the union of its keys' schedules, where a key without a
//     schedule makes the door unrestricted;
//   - the window lockproto.CredentialWindow gives for the latest start and
//     the earliest expiry of the included grants, so it ends with the first
//     of them; a door whose grant runs longer is renewed at the next refresh.
//
// It returns ErrNothingToIssue when no door qualifies.
func PlanCredential(p Person, gs []Grant, keys map[string]Key, now time.Time, lifetime time.Duration) (CredentialPlan, error) {
	var included []Grant
	var windows []Window
	for _, g := range gs {
		w := g.EffectiveWindow(p)
		if !w.Start.After(now) && (w.End == nil || now.Before(*w.End)) {
			included, windows = append(included, g), append(windows, w)
		}
	}
	if len(included) == 0 {
		var first *time.Time
		for _, g := range gs {
			w := g.EffectiveWindow(p)
			if w.Start.After(now) && (w.End == nil || w.End.After(w.Start)) && (first == nil || w.Start.Before(*first)) {
				s := w.Start
				first = &s
			}
		}
		if first == nil || !first.Before(now.Add(lifetime)) {
			return CredentialPlan{}, ErrNothingToIssue
		}
		for _, g := range gs {
			if w := g.EffectiveWindow(p); w.Start.Equal(*first) {
				included, windows = append(included, g), append(windows, w)
			}
		}
	}
	var start, expiry time.Time
	for _, w := range windows {
		if w.Start.After(start) {
			start = w.Start
		}
		if w.End != nil && (expiry.IsZero() || w.End.Before(expiry)) {
			expiry = *w.End
		}
	}
	type access struct {
		open  bool
		sched lockproto.Schedule
	}
	doors := map[string]*access{}
	for _, g := range included {
		for _, kd := range keys[g.KeyID].Doors {
			sch, err := kd.Schedule.ToLock()
			if err != nil {
				return CredentialPlan{}, err
			}
			a := doors[kd.DoorID]
			if a == nil {
				a = &access{}
				doors[kd.DoorID] = a
			}
			if len(sch) == 0 {
				a.open = true
			}
			a.sched = append(a.sched, sch...)
		}
	}
	if len(doors) == 0 {
		return CredentialPlan{}, ErrNothingToIssue
	}
	ids := make([]string, 0, len(doors))
	for id := range doors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	plan := CredentialPlan{Locks: make([]lockproto.LockAccess, len(ids))}
	for i, id := range ids {
		plan.Locks[i] = lockproto.LockAccess{LockID: id}
		if !doors[id].open {
			plan.Locks[i].Schedule = doors[id].sched
		}
	}
	plan.NotBefore, plan.NotAfter = lockproto.CredentialWindow(now, lifetime, start, expiry)
	return plan, nil
}

// ToLock converts a key's weekly schedule (weekday names, "HH:MM") into the
// lock protocol's windows (weekday, minutes after local midnight). An empty
// schedule stays empty: no restriction.
func (s Schedule) ToLock() (lockproto.Schedule, error) {
	var out lockproto.Schedule
	for i, w := range s {
		start, err := parseClock(w.Start)
		if err != nil {
			return nil, FieldError("schedule", "window %d: %v", i, err)
		}
		end, err := parseClock(w.End)
		if err != nil {
			return nil, FieldError("schedule", "window %d: %v", i, err)
		}
		for _, d := range w.Days {
			wd, ok := weekdays[d]
			if !ok {
				return nil, FieldError("schedule", "window %d: unknown weekday %q", i, d)
			}
			out = append(out, lockproto.Window{Day: wd, Start: uint16(start), End: uint16(end)})
		}
	}
	return out, nil
}
