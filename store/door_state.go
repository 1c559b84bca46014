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
		s.Keycards[e.Serial] = StateEntry{Digest: digestOf(e), PersonID: e.PersonID}
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

// holderAccess is what one person may do at one door, folded over the
// grants whose keys contain it.
type holderAccess struct {
	person    domain.Person
	doorcodes bool
	start     time.Time
	end       *time.Time
	open      bool // some grant has no schedule at this door
	sched     lockproto.Schedule
}

// desiredLock computes the door state a door's lock should hold at now:
// resident doorcodes and keycards of everyone whose grants open the door
// (within the grant's window and the key's schedule there), revocations
// still in force (younger than the credential lifetime) and the day-code
// secrets of the keys giving doorcodes there.
//
// A person holding the door through several keys gets one entry spanning
// the earliest start to the latest end, with the union of the schedules.
func (t *Tx) desiredLock(ctx context.Context, sealer Sealer, prop domain.Property, doorID string, now time.Time) (DesiredLock, error) {
	var d DesiredLock
	rows, err := t.query(ctx, `SELECT g.person_id, g.starts_at, g.expires_at, kd.doorcodes, kd.schedule
		FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id AND kd.door_id = ?
		JOIN people p ON p.id = g.person_id
		WHERE p.deleted_at IS NULL AND p.revoked_at IS NULL ORDER BY g.person_id, g.key_id`, doorID)
	if err != nil {
		return d, err
	}
	type row struct {
		personID   string
		start, end sql.NullInt64
		doorcodes  bool
		sched      string
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.personID, &r.start, &r.end, &r.doorcodes, &r.sched); err != nil {
			rows.Close()
			return d, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, err
	}
	holders := map[string]*holderAccess{}
	var order []string
	for _, r := range rs {
		h := holders[r.personID]
		if h == nil {
			p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, r.personID))
			if err != nil {
				return d, err
			}
			h = &holderAccess{person: p}
		}
		g := domain.Grant{PersonID: r.personID, StartsAt: timePtr(r.start), ExpiresAt: timePtr(r.end)}
		w := g.EffectiveWindow(h.person)
		if w.End != nil && !w.End.After(now) {
			continue // over: nothing to hold
		}
		var sch domain.Schedule
		if err := json.Unmarshal([]byte(r.sched), &sch); err != nil {
			return d, err
		}
		ls, err := ScheduleToLock(sch)
		if err != nil {
			return d, err
		}
		if _, seen := holders[r.personID]; !seen {
			holders[r.personID] = h
			order = append(order, r.personID)
			h.start, h.end = w.Start, w.End
		} else {
			if w.Start.Before(h.start) {
				h.start = w.Start
			}
			if h.end != nil && (w.End == nil || w.End.After(*h.end)) {
				h.end = w.End
			}
		}
		h.doorcodes = h.doorcodes || r.doorcodes
		if len(ls) == 0 {
			h.open = true
		}
		h.sched = append(h.sched, ls...)
	}
	for _, id := range order {
		h := holders[id]
		var sched lockproto.Schedule
		if !h.open {
			sched = h.sched
		}
		var notAfter time.Time
		if h.end != nil {
			notAfter = h.end.Truncate(time.Second)
		}
		notBefore := h.start.Truncate(time.Second)
		if h.doorcodes {
			var code string
			err := t.queryRow(ctx, `SELECT code FROM doorcodes WHERE person_id = ?`, id).Scan(&code)
			if err != nil && err != sql.ErrNoRows {
				return d, err
			}
			if code != "" {
				d.Doorcodes = append(d.Doorcodes, lockproto.DoorcodeEntry{Code: code, PersonID: id, NotBefore: notBefore, NotAfter: notAfter, Schedule: sched})
			}
		}
		var serial string
		err := t.queryRow(ctx, `SELECT serial FROM keycards WHERE person_id = ? AND deactivated_at IS NULL`, id).Scan(&serial)
		if err != nil && err != sql.ErrNoRows {
			return d, err
		}
		if serial != "" {
			d.Keycards = append(d.Keycards, lockproto.KeycardEntry{Serial: serial, PersonID: id, NotBefore: notBefore, NotAfter: notAfter, Schedule: sched})
		}
	}
	sort.Slice(d.Doorcodes, func(i, j int) bool { return d.Doorcodes[i].Code < d.Doorcodes[j].Code })
	sort.Slice(d.Keycards, func(i, j int) bool { return d.Keycards[i].Serial < d.Keycards[j].Serial })

	lifetime := time.Duration(prop.CredentialLifetimeHours) * time.Hour
	rows, err = t.query(ctx, `SELECT person_id, MAX(at) FROM door_revocations WHERE door_id = ? AND at > ? GROUP BY person_id ORDER BY person_id`,
		doorID, micros(now.Add(-lifetime)))
	if err != nil {
		return d, err
	}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return d, err
		}
		d.Revocations = append(d.Revocations, lockproto.Revocation{PersonID: id, EffectiveAt: revocationTime(fromMicros(at))})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, err
	}
	d.DayKeys, err = t.s.DayKeysForDoor(withTx(ctx, t), sealer, doorID)
	return d, err
}
