package domain

import (
	"slices"
	"sort"
)

// KeyChanges lists the door changes of replacing key old by next (next with
// no doors is a deleted key). Anything that can take away access — a door
// removed, doorcodes switched off, a schedule narrowed — is a revocation for
// every holder at that door, and at a door where the key gave doorcodes it
// names the key for its guest codes too (DayKeys: they belong to no
// holder).
func KeyChanges(old, next Key, holders []string) []DoorChange {
	nextDoors := map[string]KeyDoor{}
	for _, d := range next.Doors {
		nextDoors[d.DoorID] = d
	}
	var out []DoorChange
	narrowed := func(o KeyDoor, reason string) DoorChange {
		c := DoorChange{DoorID: o.DoorID, Reason: reason, Revocation: len(holders) > 0, PersonIDs: holders}
		if o.Doorcodes && len(holders) > 0 {
			// Guest codes come from a holder sharing the key: none
			// without holders.
			c.DayKeys = []string{old.ID}
		}
		return c
	}
	for _, o := range old.Doors {
		n, ok := nextDoors[o.DoorID]
		switch {
		case !ok:
			out = append(out, narrowed(o, "key "+old.Name+" no longer opens this door"))
		case o.Doorcodes && !n.Doorcodes, n.Schedule.Narrows(o.Schedule):
			out = append(out, narrowed(o, "key "+old.Name+" narrowed"))
		case o.Doorcodes != n.Doorcodes || !slices.EqualFunc(o.Schedule, n.Schedule, equalWindow):
			out = append(out, DoorChange{DoorID: o.DoorID, Reason: "key " + old.Name + " widened"})
		}
		delete(nextDoors, o.DoorID)
	}
	added := make([]string, 0, len(nextDoors))
	for id := range nextDoors {
		added = append(added, id)
	}
	sort.Strings(added)
	for _, id := range added {
		out = append(out, DoorChange{DoorID: id, Reason: "key " + old.Name + " now opens this door"})
	}
	return out
}

func equalWindow(a, b ScheduleWindow) bool {
	return a.Start == b.Start && a.End == b.End && slices.Equal(a.Days, b.Days)
}

// GrantDoors lists the doors a set of grants opens, sorted and unique.
func GrantDoors(keys map[string]Key, grants []Grant) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range grants {
		for _, d := range keys[g.KeyID].Doors {
			if !seen[d.DoorID] {
				seen[d.DoorID] = true
				out = append(out, d.DoorID)
			}
		}
	}
	sort.Strings(out)
	return out
}

// DoorcodeDoors lists the doors where a holder of grants can open with a
// doorcode: the doors of their keys that take doorcodes, sorted and unique.
func DoorcodeDoors(keys map[string]Key, grants []Grant) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range grants {
		for _, d := range keys[g.KeyID].Doors {
			if d.Doorcodes && !seen[d.DoorID] {
				seen[d.DoorID] = true
				out = append(out, d.DoorID)
			}
		}
	}
	sort.Strings(out)
	return out
}

// NeedsDoorcode reports whether any grant's key provides doorcodes, which
// is when a person holds a doorcode (app and doorcode people alike).
func NeedsDoorcode(keys map[string]Key, grants []Grant) bool {
	for _, g := range grants {
		if keys[g.KeyID].ProvidesDoorcodes() {
			return true
		}
	}
	return false
}

// CheckAccessMode refuses a doorcode-only person whose keys provide no
// doorcode anywhere: they could open nothing.
func CheckAccessMode(mode AccessMode, keys map[string]Key, grants []Grant) error {
	if mode == AccessDoorcode && len(grants) > 0 && !NeedsDoorcode(keys, grants) {
		return FieldError("keys", "none of these keys provides doorcodes, so a doorcode-only person could open nothing; enable doorcodes on a door of the key or invite with app access")
	}
	return nil
}

// Changes builds one door change per door with a reason; revocation marks
// the people whose access narrows.
func Changes(doors []string, reason string, revoked ...string) []DoorChange {
	out := make([]DoorChange, len(doors))
	for i, d := range doors {
		out[i] = DoorChange{DoorID: d, Reason: reason, Revocation: len(revoked) > 0, PersonIDs: revoked}
	}
	return out
}
