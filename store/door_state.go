package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// LockState is what a lock holds, kept per door as digests of its entries:
// enough to compute a delta (diff of acknowledged and desired state) and no
// secrets (day-code secrets and card serials' digests only).
type LockState struct {
	Doorcodes   map[string]StateEntry `json:"c"` // by code
	Keycards    map[string]StateEntry `json:"k"` // by card serial
	DayKeys     map[string]StateEntry `json:"d"` // by key id
	Revocations map[string]StateEntry `json:"r"` // by person id
}

// StateEntry is one entry of a LockState.
type StateEntry struct {
	Digest   string `json:"h"`
	PersonID string `json:"p,omitempty"`
}

// DesiredLock is the full door state a lock should hold now.
type DesiredLock struct {
	Doorcodes   []lockproto.DoorcodeEntry
	Keycards    []lockproto.KeycardEntry
	Revocations []lockproto.Revocation
	DayKeys     []lockproto.DayKey
	// SecureCards are the serials of secure cards among Keycards; their
	// entries carry keys only when built with a sealer.
	SecureCards map[string]bool
}

func digestOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// State returns the digests of d.
func (d DesiredLock) State() LockState {
	s := LockState{Doorcodes: map[string]StateEntry{}, Keycards: map[string]StateEntry{}, DayKeys: map[string]StateEntry{}, Revocations: map[string]StateEntry{}}
	for _, e := range d.Doorcodes {
		s.Doorcodes[e.Code] = StateEntry{Digest: digestOf(e), PersonID: e.PersonID}
	}
	for _, e := range d.Keycards {
		// The key is derived from the serial; whether there is one is what
		// the lock must learn, and exposure (built without keys) compares.
		e.Key = nil
		digest := digestOf(e)
		if d.SecureCards[e.Serial] {
			digest = digestOf([]any{e, "secure"})
		}
		s.Keycards[e.Serial] = StateEntry{Digest: digest, PersonID: e.PersonID}
	}
	for _, e := range d.DayKeys {
		s.DayKeys[e.KeyID] = StateEntry{Digest: digestOf(e)}
	}
	for _, r := range d.Revocations {
		s.Revocations[r.PersonID] = StateEntry{Digest: digestOf(r.EffectiveAt.Unix()), PersonID: r.PersonID}
	}
	return s
}

// PlanBundle fills b with the change from acked to desired: a delta when
// the lock's state is known and the delta is not larger than a snapshot,
// otherwise a full snapshot. It reports whether b is a snapshot.
func PlanBundle(b *lockproto.Bundle, desired DesiredLock, acked *LockState) bool {
	if acked == nil || b.Base == 0 {
		b.Base, b.Snapshot = 0, true
		b.Doorcodes, b.Keycards, b.Revocations, b.DayKeys = desired.Doorcodes, desired.Keycards, desired.Revocations, desired.DayKeys
		return true
	}
	want := desired.State()
	var d lockproto.Bundle
	for _, e := range desired.Doorcodes {
		if acked.Doorcodes[e.Code] != want.Doorcodes[e.Code] {
			d.Doorcodes = append(d.Doorcodes, e)
		}
	}
	for _, code := range sortedKeys(acked.Doorcodes) {
		if _, ok := want.Doorcodes[code]; !ok {
			d.RemoveDoorcodes = append(d.RemoveDoorcodes, code)
		}
	}
	for _, e := range desired.Keycards {
		if acked.Keycards[e.Serial] != want.Keycards[e.Serial] {
			d.Keycards = append(d.Keycards, e)
		}
	}
	for _, serial := range sortedKeys(acked.Keycards) {
		if _, ok := want.Keycards[serial]; !ok {
			d.RemoveKeycards = append(d.RemoveKeycards, serial)
		}
	}
	for _, e := range desired.DayKeys {
		if acked.DayKeys[e.KeyID] != want.DayKeys[e.KeyID] {
			d.DayKeys = append(d.DayKeys, e)
		}
	}
	for _, id := range sortedKeys(acked.DayKeys) {
		if _, ok := want.DayKeys[id]; !ok {
			d.RemoveDayKeys = append(d.RemoveDayKeys, id)
		}
	}
	// Revocations are additive on the lock; expired ones it drops itself.
	for _, r := range desired.Revocations {
		if acked.Revocations[r.PersonID] != want.Revocations[r.PersonID] {
			d.Revocations = append(d.Revocations, r)
		}
	}
	changes := len(d.Doorcodes) + len(d.RemoveDoorcodes) + len(d.Keycards) + len(d.RemoveKeycards) + len(d.DayKeys) + len(d.RemoveDayKeys) + len(d.Revocations)
	total := len(desired.Doorcodes) + len(desired.Keycards) + len(desired.DayKeys) + len(desired.Revocations)
	if changes > total && changes > 16 {
		// Too far behind: the snapshot is smaller than the delta.
		return PlanBundle(b, desired, nil)
	}
	b.Snapshot = false
	b.Doorcodes, b.RemoveDoorcodes = d.Doorcodes, d.RemoveDoorcodes
	b.Keycards, b.RemoveKeycards = d.Keycards, d.RemoveKeycards
	b.DayKeys, b.RemoveDayKeys = d.DayKeys, d.RemoveDayKeys
	b.Revocations = d.Revocations
	return false
}

func sortedKeys(m map[string]StateEntry) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// revocationTime rounds a revocation up to the next whole second: lock
// protocol times are whole seconds, and a credential issued in the same
// second before the change must still be refused.
func revocationTime(t time.Time) time.Time {
	r := t.Truncate(time.Second)
	if r.Before(t) {
		r = r.Add(time.Second)
	}
	return r
}

// HolderGrant is one grant through which a person holds a door: its
// effective window and, at this door, whether its key gives a doorcode and
// the key's schedule there (nil: no restriction).
type HolderGrant struct {
	Start     time.Time
	End       *time.Time
	Doorcodes bool
	Schedule  lockproto.Schedule
}

// HolderEntry is the one entry a lock holds for a person's doorcode or
// keycard: a lock keys its entries by code and by serial, so a person gets
// one window per door, not one per grant.
type HolderEntry struct {
	NotBefore, NotAfter time.Time // NotAfter zero: open-ended
	Schedule            lockproto.Schedule
}

// LockEntryWindow folds the grants through which a person holds a door
// into the one entry the lock should hold at now. Windows that overlap or
// touch are merged (union of their schedules; no schedule on any of them
// means none). When the grants leave a gap, the entry covers only the
// current (or next) merged window — the union would leave the gap open at
// the lock — and refreshAt is when that window ends: the door must get a
// new version then, carrying the next window. ok is false when nothing is
// left to hold (every window over or empty).
func LockEntryWindow(grants []HolderGrant, now time.Time) (e HolderEntry, refreshAt *time.Time, ok bool) {
	live := make([]HolderGrant, 0, len(grants))
	for _, g := range grants {
		if g.End != nil && (!g.End.After(now) || !g.End.After(g.Start)) {
			continue // over, or empty
		}
		live = append(live, g)
	}
	if len(live) == 0 {
		return e, nil, false
	}
	sort.SliceStable(live, func(i, j int) bool { return live[i].Start.Before(live[j].Start) })
	start, end := live[0].Start, live[0].End
	open, sched := false, lockproto.Schedule(nil)
	fold := func(g HolderGrant) {
		if len(g.Schedule) == 0 {
			open = true
		}
		sched = append(sched, g.Schedule...)
	}
	fold(live[0])
	for _, g := range live[1:] {
		if end != nil && g.Start.After(*end) {
			r := *end
			refreshAt = &r // a gap: the next window comes with a new version
			break
		}
		if end != nil && (g.End == nil || g.End.After(*end)) {
			end = g.End
		}
		fold(g)
	}
	e.NotBefore = start.Truncate(time.Second)
	if end != nil {
		e.NotAfter = end.Truncate(time.Second)
	}
	if !open {
		e.Schedule = sched
	}
	return e, refreshAt, true
}

// desiredBatch is the desired state of a set of doors, and when each needs
// a new version because a holder's next access window begins.
type desiredBatch struct {
	locks     map[string]DesiredLock
	refreshAt map[string]time.Time
	clocks    map[string]propertyClock // by property id
}

// desiredLocks computes, in a few queries for all of doorIDs, the state
// each door's lock should hold at now: resident doorcodes and keycards of
// everyone whose grants open the door (LockEntryWindow: within the
// grants' windows and the keys' schedules there; a doorcode only through
// keys giving doorcodes at that door), revocations still in force (younger
// than the property's credential lifetime) and the day-code secrets of the
// keys giving doorcodes there (none when sealer is nil, which also leaves
// the entries unsorted). props gives each door's property.
func (t *Tx) desiredLocks(ctx context.Context, sealer Sealer, props map[string]domain.Property, doorIDs []string, now time.Time) (desiredBatch, error) {
	out := desiredBatch{locks: make(map[string]DesiredLock, len(doorIDs)), refreshAt: map[string]time.Time{}}
	if len(doorIDs) == 0 {
		return out, nil
	}
	in := placeholders(len(doorIDs))
	type grantRow struct {
		doorID, personID string
		start, end       sql.NullInt64
		doorcodes        bool
		sched            string
	}
	var grs []grantRow
	rows, err := t.query(ctx, `SELECT kd.door_id, g.person_id, g.starts_at, g.expires_at, kd.doorcodes, kd.schedule
		FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id
		JOIN people p ON p.id = g.person_id
		WHERE kd.door_id IN (`+in+`) AND p.deleted_at IS NULL AND p.revoked_at IS NULL
		ORDER BY kd.door_id, g.person_id, g.key_id`, anySlice(doorIDs)...)
	if err != nil {
		return out, err
	}
	personSet := map[string]bool{}
	var personIDs []string
	for rows.Next() {
		var r grantRow
		if err := rows.Scan(&r.doorID, &r.personID, &r.start, &r.end, &r.doorcodes, &r.sched); err != nil {
			rows.Close()
			return out, err
		}
		grs = append(grs, r)
		if !personSet[r.personID] {
			personSet[r.personID] = true
			personIDs = append(personIDs, r.personID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	people := map[string]domain.Person{}
	codes := map[string]string{}
	cards := map[string]string{}
	secureCards := map[string]string{} // person → serial of a secure card
	for lo := 0; lo < len(personIDs); lo += 500 {
		chunk := anySlice(personIDs[lo:min(lo+500, len(personIDs))])
		pin := placeholders(len(chunk))
		ps, err := t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE id IN (`+pin+`)`, chunk...)
		if err != nil {
			return out, err
		}
		for _, p := range ps {
			people[p.ID] = p
		}
		if err := t.scanPairs(ctx, codes, `SELECT person_id, code FROM doorcodes WHERE person_id IN (`+pin+`)`, chunk...); err != nil {
			return out, err
		}
		if err := t.scanPairs(ctx, cards, `SELECT person_id, serial FROM keycards WHERE person_id IN (`+pin+`) AND deactivated_at IS NULL`, chunk...); err != nil {
			return out, err
		}
		if err := t.scanPairs(ctx, secureCards, `SELECT person_id, serial FROM keycards WHERE person_id IN (`+pin+`) AND deactivated_at IS NULL AND secure`, chunk...); err != nil {
			return out, err
		}
	}

	// Per door and person: the grants (rows are ordered by door, person).
	schedules := map[string]lockproto.Schedule{}
	toLock := func(raw string) (lockproto.Schedule, error) {
		if ls, ok := schedules[raw]; ok {
			return ls, nil
		}
		var sch domain.Schedule
		if err := json.Unmarshal([]byte(raw), &sch); err != nil {
			return nil, err
		}
		ls, err := sch.ToLock()
		if err == nil {
			schedules[raw] = ls
		}
		return ls, err
	}
	masters := map[string][]byte{} // property → card master key
	var flushErr error
	flush := func(doorID, personID string, all, withCodes []HolderGrant) {
		d := out.locks[doorID]
		refresh := func(at *time.Time) {
			if at != nil {
				if cur, ok := out.refreshAt[doorID]; !ok || at.Before(cur) {
					out.refreshAt[doorID] = *at
				}
			}
		}
		if code := codes[personID]; code != "" {
			if e, at, ok := LockEntryWindow(withCodes, now); ok {
				d.Doorcodes = append(d.Doorcodes, lockproto.DoorcodeEntry{Code: code, PersonID: personID, NotBefore: e.NotBefore, NotAfter: e.NotAfter, Schedule: e.Schedule})
				refresh(at)
			}
		}
		if serial := cards[personID]; serial != "" {
			if e, at, ok := LockEntryWindow(all, now); ok {
				entry := lockproto.KeycardEntry{Serial: serial, PersonID: personID, NotBefore: e.NotBefore, NotAfter: e.NotAfter, Schedule: e.Schedule}
				if secureCards[personID] == serial {
					if d.SecureCards == nil {
						d.SecureCards = map[string]bool{}
					}
					d.SecureCards[serial] = true
					if sealer != nil {
						propID := props[doorID].ID
						master, ok := masters[propID]
						if !ok {
							var err error
							if master, err = t.cardMasterKey(ctx, sealer, propID); err != nil && flushErr == nil {
								flushErr = err
							}
							masters[propID] = master
						}
						entry.Key = lockproto.CardKey(master, serial)
					}
				}
				d.Keycards = append(d.Keycards, entry)
				refresh(at)
			}
		}
		out.locks[doorID] = d
	}
	var all, withCodes []HolderGrant
	for i, r := range grs {
		p := people[r.personID]
		w := domain.Grant{PersonID: r.personID, StartsAt: timePtr(r.start), ExpiresAt: timePtr(r.end)}.EffectiveWindow(p)
		ls, err := toLock(r.sched)
		if err != nil {
			return out, err
		}
		g := HolderGrant{Start: w.Start, End: w.End, Doorcodes: r.doorcodes, Schedule: ls}
		all = append(all, g)
		if r.doorcodes {
			withCodes = append(withCodes, g)
		}
		if i+1 == len(grs) || grs[i+1].doorID != r.doorID || grs[i+1].personID != r.personID {
			flush(r.doorID, r.personID, all, withCodes)
			all, withCodes = all[:0], withCodes[:0]
		}
	}
	if flushErr != nil {
		return out, flushErr
	}

	// Revocations still in force: kept for the longest credential lifetime
	// the property ever issued (the locks' rule too), not the current one.
	var propIDs []string
	seenProp := map[string]bool{}
	for _, id := range doorIDs {
		if pid := props[id].ID; !seenProp[pid] {
			seenProp[pid] = true
			propIDs = append(propIDs, pid)
		}
	}
	clocks, err := t.propertyClocks(ctx, propIDs)
	if err != nil {
		return out, err
	}
	out.clocks = clocks
	byRetention := map[time.Duration][]string{}
	for _, id := range doorIDs {
		r := max(clocks[props[id].ID].retention, time.Duration(props[id].CredentialLifetimeHours)*time.Hour)
		byRetention[r] = append(byRetention[r], id)
	}
	for retention, ids := range byRetention {
		rows, err := t.query(ctx, `SELECT door_id, person_id, MAX(at) FROM door_revocations WHERE door_id IN (`+placeholders(len(ids))+`) AND at > ?
			GROUP BY door_id, person_id ORDER BY door_id, person_id`, append(anySlice(ids), micros(now.Add(-retention)))...)
		if err != nil {
			return out, err
		}
		for rows.Next() {
			var doorID, personID string
			var at int64
			if err := rows.Scan(&doorID, &personID, &at); err != nil {
				rows.Close()
				return out, err
			}
			d := out.locks[doorID]
			d.Revocations = append(d.Revocations, lockproto.Revocation{PersonID: personID, EffectiveAt: revocationTime(fromMicros(at))})
			out.locks[doorID] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, err
		}
	}

	// Day-code secrets of the keys giving doorcodes at each door (left out
	// without a sealer: exposure compares people's entries only).
	if sealer == nil {
		return out, nil
	}
	rows, err = t.query(ctx, `SELECT door_id, key_id, schedule FROM key_doors WHERE door_id IN (`+in+`) AND doorcodes ORDER BY door_id, key_id`, anySlice(doorIDs)...)
	if err != nil {
		return out, err
	}
	drs, err := collect(rows, nil, func(sc rowScanner) (dayRow, error) {
		var r dayRow
		err := sc.Scan(&r.doorID, &r.keyID, &r.sched)
		return r, err
	})
	if err != nil {
		return out, err
	}
	allocated, err := t.allocatedSlots(ctx, drs, props, now)
	if err != nil {
		return out, err
	}
	type secret struct {
		b     []byte
		slots int
	}
	secrets := map[string]secret{}
	for _, r := range drs {
		sec, ok := secrets[r.keyID]
		if !ok {
			b, slots, err := t.daySecret(ctx, sealer, r.keyID)
			if err != nil {
				return out, err
			}
			sec = secret{b, slots}
			secrets[r.keyID] = sec
		}
		ls, err := toLock(r.sched)
		if err != nil {
			return out, err
		}
		d := out.locks[r.doorID]
		d.DayKeys = append(d.DayKeys, lockproto.DayKey{KeyID: r.keyID, Secret: sec.b, Digits: uint8(props[r.doorID].DoorcodeLength), Slots: uint16(sec.slots), Schedule: ls,
			ActiveSlots: domain.ActiveCodeSlots(allocated[r.keyID], sec.slots)})
		out.locks[r.doorID] = d
	}
	for id, d := range out.locks {
		sort.Slice(d.Doorcodes, func(i, j int) bool { return d.Doorcodes[i].Code < d.Doorcodes[j].Code })
		sort.Slice(d.Keycards, func(i, j int) bool { return d.Keycards[i].Serial < d.Keycards[j].Serial })
		out.locks[id] = d
	}
	return out, nil
}

type dayRow struct{ doorID, keyID, sched string }

// allocatedSlots returns, per key of drs, the guest-code slots allocated
// to codes not released whose day is not over (from yesterday in the
// property's zone: a day code lasts until local midnight).
func (t *Tx) allocatedSlots(ctx context.Context, drs []dayRow, props map[string]domain.Property, now time.Time) (map[string]map[int]bool, error) {
	out := map[string]map[int]bool{}
	if len(drs) == 0 {
		return out, nil
	}
	var keyIDs []string
	fromDay := int64(-1)
	for _, r := range drs {
		if _, ok := out[r.keyID]; !ok {
			out[r.keyID] = map[int]bool{}
			keyIDs = append(keyIDs, r.keyID)
		}
		if d := lockproto.DayNumber(now, props[r.doorID].Location()) - 1; fromDay < 0 || d < fromDay {
			fromDay = d
		}
	}
	rows, err := t.query(ctx, `SELECT key_id, slot FROM guest_codes WHERE key_id IN (`+placeholders(len(keyIDs))+`) AND released_at IS NULL AND day >= ?`,
		append(anySlice(keyIDs), fromDay)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var keyID string
		var slot int
		if err := rows.Scan(&keyID, &slot); err != nil {
			return nil, err
		}
		out[keyID][slot] = true
	}
	return out, rows.Err()
}

// scanPairs adds the (key, value) rows of q to m.
func (t *Tx) scanPairs(ctx context.Context, m map[string]string, q string, args ...any) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		m[k] = v
	}
	return rows.Err()
}
