package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// Exposure is one door that could still admit a person whose access there
// was narrowed or taken away — a key taken or deleted, doors removed from a
// key, an expiration moved earlier, a phone removed, doorcodes switched off,
// a keycard deactivated, Revoke All Keys, Delete Person — and until when:
// the answer to "a revoked resident is still able to unlock days later".
type Exposure struct {
	PersonID     string              `json:"person_id"`
	PersonName   string              `json:"person_name"`
	Status       domain.Status       `json:"status"`
	DoorID       string              `json:"door_id"`
	DoorName     string              `json:"door_name"`
	Connectivity domain.Connectivity `json:"connectivity"`
	RevokedAt    time.Time           `json:"revoked_at"`
	// LockVersion is what the door's lock acknowledged; the revocation is in
	// RevocationVersion and later.
	LockVersion       int64 `json:"lock_version"`
	RevocationVersion int64 `json:"revocation_version"`
	// Until is when the last way in stops working by itself; null means it
	// works until the door's lock syncs.
	Until *time.Time    `json:"until"`
	Ways  []ExposureWay `json:"ways"`
}

// ExposureWay is one way the person could still get in, listed once per
// kind whatever the number of credentials, codes or cards behind it.
type ExposureWay struct {
	// Kind: credential (phone credentials issued before the revocation,
	// until the last of them expires), doorcode or keycard (still held by
	// the lock until it syncs), guest_code (a doorcode guest's day or
	// 15-minute code, computed by the lock from the key's day secret until
	// a sync brings the rotated one, and at most until the code's day
	// ends). pending_sync is no longer produced: a lock that never synced
	// holds no codes, cards or day keys, so only credentials open it.
	Kind string `json:"kind"`
	// Ref names what is still held: the keycard serials (comma-separated).
	Ref string `json:"ref,omitempty"`
	// Count is how many credentials (or codes, cards) this way stands for.
	Count int `json:"count"`
	// Until is when the way closes by itself (the latest credential
	// expiry); null: when the lock syncs.
	Until *time.Time `json:"until"`
}

// exposedDoor is a door with a provisioned lock behind its desired state.
type exposedDoor struct {
	id, name     string
	conn         domain.Connectivity
	acked        int64
	state        *LockState // nil: the lock never acknowledged a state
	firstChange  int64      // first unacknowledged version, and when
	firstAt      int64
	firstRevoked int64 // first unacknowledged revocation version (0: none)
	firstRevAt   int64
	// unacked maps the time of each unacknowledged change to its version:
	// a revocation is recorded with its change's time.
	unacked map[int64]int64
}

// lacks reports whether the door's lock lacks the revocation made at at:
// one of its unacknowledged changes made it, or the lock acknowledged no
// state (never synced, or re-provisioned: the changes its old lock
// acknowledged are gone, doorAcked), so it holds no revocation.
func (d *exposedDoor) lacks(at int64) bool {
	_, ok := d.unacked[at]
	return ok || d.state == nil
}

// ListExposure lists every person whose access was narrowed at a door
// whose lock has not acknowledged it yet — whatever their status now — and
// how they could still get in there: a revocation the lock lacks (phone
// credentials issued before it; nothing known of a lock that never
// synced), or a doorcode or keycard the lock still holds that the door's
// desired state no longer gives them. A door with no lock admits nobody
// and is left out, as are doors whose lock is up to date and people whose
// every way in has closed by itself.
func (s *Store) ListExposure(ctx context.Context, a domain.Actor, propertyID string) ([]Exposure, error) {
	return s.listExposure(ctx, a, propertyID, "")
}

// PersonExposure is ListExposure for one person: the rows of personID only.
func (s *Store) PersonExposure(ctx context.Context, a domain.Actor, propertyID, personID string) ([]Exposure, error) {
	return s.listExposure(ctx, a, propertyID, personID)
}

// listExposure is ListExposure, of personID only when it is set. It reads
// each exposed door (and its acknowledged state) once, the revocations in
// one query, and the people and their credentials in one query each.
func (s *Store) listExposure(ctx context.Context, a domain.Actor, propertyID, personID string) ([]Exposure, error) {
	out := []Exposure{}
	err := s.read(ctx, func(t *Tx) error {
		prop, err := t.property(ctx, a, propertyID)
		if err != nil {
			return err
		}
		if err := a.CanPeopleOrDevices(propertyID); err != nil {
			return err
		}
		now := s.Now()
		doors, err := t.exposedDoors(ctx, propertyID)
		if err != nil || len(doors) == 0 {
			return err
		}
		// "Specific" sees the doors of his keys only (domain.Actor.Scope).
		_, scoped, err := t.scope(ctx, a, propertyID, domain.PermActivity)
		if err != nil {
			return err
		}
		for id := range doors {
			if scoped != nil && !scoped[id] {
				delete(doors, id)
			}
		}
		if len(doors) == 0 {
			return nil
		}
		ids := make([]string, 0, len(doors))
		props := map[string]domain.Property{}
		for id := range doors {
			ids = append(ids, id)
			props[id] = prop
		}
		sort.Strings(ids)
		// Revocations the locks lack, per door and person.
		type key struct{ door, person string }
		revs := map[key]int64{}
		q := `SELECT door_id, person_id, MAX(at) FROM door_revocations WHERE door_id IN (` + placeholders(len(ids)) + `)`
		args := anySlice(ids)
		if personID != "" {
			q += ` AND person_id = ?`
			args = append(args, personID)
		}
		rows, err := t.query(ctx, q+` GROUP BY door_id, person_id`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k key
			var at int64
			if err := rows.Scan(&k.door, &k.person, &at); err != nil {
				rows.Close()
				return err
			}
			if d := doors[k.door]; d.lacks(at) {
				revs[k] = at
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// People whose unacked revocations at a door are all changes of
		// their access window (start or end moved): while they hold access
		// there, the lock's older entries admit them now only as the new
		// ones do (checked below).
		windowOnly := map[key]bool{}
		q = `SELECT r.door_id, r.person_id, r.at, c.reason FROM door_revocations r
			JOIN door_changes c ON c.door_id = r.door_id AND c.at = r.at AND c.revocation
			WHERE r.door_id IN (` + placeholders(len(ids)) + `)`
		if personID != "" {
			q += ` AND r.person_id = ?`
		}
		rows, err = t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		notWindow := map[key]bool{}
		for rows.Next() {
			var k key
			var at int64
			var reason string
			if err := rows.Scan(&k.door, &k.person, &at, &reason); err != nil {
				rows.Close()
				return err
			}
			if !doors[k.door].lacks(at) {
				continue
			}
			if onlyWindowChanges(reason) && !notWindow[k] {
				windowOnly[k] = true
			} else {
				notWindow[k], windowOnly[k] = true, false
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		desired, err := t.desiredLocks(ctx, nil, props, ids, now)
		if err != nil {
			return err
		}
		// Who each door's lock could still admit beyond what they hold now.
		type doorWho struct {
			codes map[string]int
			cards map[string][]string
			// inPlace counts, per person, the codes narrowed in place
			// (still desired for the same person, with another window or
			// schedule); cardInPlace marks such cards.
			inPlace     map[string]int
			cardInPlace map[string]bool
			who         []string
		}
		byDoor := make(map[string]doorWho, len(ids))
		everyone := map[string]bool{}
		for _, doorID := range ids {
			d := doors[doorID]
			want := desired.locks[doorID].State()
			dw := doorWho{codes: map[string]int{}, cards: map[string][]string{}, inPlace: map[string]int{}, cardInPlace: map[string]bool{}}
			var held []string
			if d.state != nil {
				for _, code := range sortedKeys(d.state.Doorcodes) {
					e := d.state.Doorcodes[code]
					if w, ok := want.Doorcodes[code]; ok && w == e {
						continue
					}
					if w, ok := want.Doorcodes[code]; ok && w.PersonID == e.PersonID {
						if revs[key{doorID, e.PersonID}] == 0 {
							continue // changed, not narrowed (a narrowing records a revocation)
						}
						dw.inPlace[e.PersonID]++
					}
					dw.codes[e.PersonID]++
					held = append(held, e.PersonID)
				}
				for _, serial := range sortedKeys(d.state.Keycards) {
					e := d.state.Keycards[serial]
					if w, ok := want.Keycards[serial]; ok && w == e {
						continue
					}
					if w, ok := want.Keycards[serial]; ok && w.PersonID == e.PersonID {
						if revs[key{doorID, e.PersonID}] == 0 {
							continue
						}
						dw.cardInPlace[serial] = true
					}
					dw.cards[e.PersonID] = append(dw.cards[e.PersonID], serial)
					held = append(held, e.PersonID)
				}
			}
			for k := range revs {
				if k.door == doorID {
					dw.who = append(dw.who, k.person)
				}
			}
			for _, p := range held {
				if personID == "" || p == personID {
					dw.who = append(dw.who, p)
				}
			}
			sort.Strings(dw.who)
			dw.who = slices.Compact(dw.who)
			for _, p := range dw.who {
				everyone[p] = true
			}
			byDoor[doorID] = dw
		}
		who := slices.Sorted(maps.Keys(everyone))
		people, creds, err := t.exposedPeople(ctx, propertyID, who, now)
		if err != nil {
			return err
		}
		holds, codes, err := t.exposedAccess(ctx, who, now)
		if err != nil {
			return err
		}
		loc := prop.Location()
		for _, doorID := range ids {
			d, dw := doors[doorID], byDoor[doorID]
			for _, personID := range dw.who {
				p, ok := people[personID]
				if !ok {
					continue
				}
				e := Exposure{PersonID: p.ID, PersonName: p.Name(), Status: p.Status(now), DoorID: doorID, DoorName: d.name,
					Connectivity: d.conn, LockVersion: d.acked, RevokedAt: fromMicros(d.firstAt), RevocationVersion: d.firstChange}
				revAt, revoked := revs[key{doorID, personID}]
				if revoked {
					e.RevokedAt, e.RevocationVersion = fromMicros(revAt), d.unacked[revAt]
				} else if d.firstRevoked != 0 {
					e.RevokedAt, e.RevocationVersion = fromMicros(d.firstRevAt), d.firstRevoked
				}
				// Given a key to this door again after the revocation: the
				// lock admits them rightly, by old credentials and codes as
				// by new ones.
				if revoked && p.Status(now).HoldsAccess() && holds[key{doorID, personID}] > revAt {
					continue
				}
				// Holds access there now and only their window moved (an
				// end moved earlier, still ahead): not exposed now. Once the
				// new end passes they are expired and listed again.
				if revoked && windowOnly[key{doorID, personID}] && p.Status(now) == domain.StatusActive && holds[key{doorID, personID}] > 0 {
					continue
				}
				// Not started yet (never active): a code or card narrowed
				// in place opens nothing before the new window does; only
				// what the lock should no longer hold at all counts.
				nCodes, cards := dw.codes[personID], dw.cards[personID]
				if p.Status(now) == domain.StatusPending {
					nCodes -= dw.inPlace[personID]
					cards = nil
					for _, serial := range dw.cards[personID] {
						if !dw.cardInPlace[serial] {
							cards = append(cards, serial)
						}
					}
				}
				unbounded := false
				// A lock that never synced holds no codes, cards or day
				// keys: only phone credentials (below) can open it.
				var guestUntil time.Time
				nGuest := 0
				if revoked && d.state != nil {
					for _, g := range codes[personID] {
						if _, ok := d.state.DayKeys[g.keyID]; !ok {
							continue
						}
						// The code dies at local midnight after its day; the
						// rotated day secret reaches the lock with the sync.
						if end := lockproto.DayStart(g.day+1, loc); end.After(now) {
							nGuest++
							if end.After(guestUntil) {
								guestUntil = end
							}
						}
					}
				}
				if nCodes > 0 {
					e.Ways = append(e.Ways, ExposureWay{Kind: "doorcode", Count: nCodes})
					unbounded = true
				}
				if serials := cards; len(serials) > 0 {
					e.Ways = append(e.Ways, ExposureWay{Kind: "keycard", Ref: strings.Join(serials, ", "), Count: len(serials)})
					unbounded = true
				}
				var until time.Time
				n := 0
				if revoked {
					for _, c := range creds[personID] {
						if c.IssuedAt.Before(revocationTime(e.RevokedAt)) && slices.Contains(c.DoorIDs, doorID) {
							n++
							if c.NotAfter.After(until) {
								until = c.NotAfter
							}
						}
					}
				}
				if n > 0 {
					u := until
					e.Ways = append(e.Ways, ExposureWay{Kind: "credential", Count: n, Until: &u})
				}
				if nGuest > 0 {
					u := guestUntil
					e.Ways = append(e.Ways, ExposureWay{Kind: "guest_code", Count: nGuest, Until: &u})
					if u.After(until) {
						until = u
					}
				}
				if len(e.Ways) == 0 {
					continue
				}
				if !unbounded {
					e.Until = &until
				}
				out = append(out, e)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].RevokedAt.After(out[j].RevokedAt) })
		return nil
	})
	return out, err
}

// exposedGuestCode is a doorcode guest's code, released or not: the locks
// compute it from the key's day secret until a sync brings the rotated one.
type exposedGuestCode struct {
	keyID string
	day   int64
}

// exposedAccess loads, for the people ids, the doors they hold a key to
// now (a grant not expired) with the latest grant's time, and their guest
// codes.
func (t *Tx) exposedAccess(ctx context.Context, ids []string, now time.Time) (map[struct{ door, person string }]int64, map[string][]exposedGuestCode, error) {
	holds := map[struct{ door, person string }]int64{}
	codes := map[string][]exposedGuestCode{}
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := anySlice(ids[lo:min(lo+500, len(ids))])
		in := placeholders(len(chunk))
		rows, err := t.query(ctx, `SELECT kd.door_id, g.person_id, g.granted_at FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id
			WHERE g.person_id IN (`+in+`) AND (g.expires_at IS NULL OR g.expires_at > ?)`, append(chunk, micros(now))...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var k struct{ door, person string }
			var at int64
			if err := rows.Scan(&k.door, &k.person, &at); err != nil {
				rows.Close()
				return nil, nil, err
			}
			holds[k] = max(holds[k], at)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		rows, err = t.query(ctx, `SELECT person_id, key_id, day FROM guest_codes WHERE person_id IN (`+in+`)`, chunk...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var p string
			var g exposedGuestCode
			if err := rows.Scan(&p, &g.keyID, &g.day); err != nil {
				rows.Close()
				return nil, nil, err
			}
			codes[p] = append(codes[p], g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return holds, codes, nil
}

// exposedPeople loads the property's people among ids (deleted ones too)
// and their phone credentials still valid at now, 500 ids a query.
func (t *Tx) exposedPeople(ctx context.Context, propertyID string, ids []string, now time.Time) (map[string]domain.Person, map[string][]CredentialRecord, error) {
	people := make(map[string]domain.Person, len(ids))
	creds := map[string][]CredentialRecord{}
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := anySlice(ids[lo:min(lo+500, len(ids))])
		in := placeholders(len(chunk))
		ps, err := t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE property_id = ? AND id IN (`+in+`)`, append([]any{propertyID}, chunk...)...)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range ps {
			people[p.ID] = p
		}
		if err := t.issuedCredentialsIn(ctx, creds, `person_id IN (`+in+`)`, now, chunk...); err != nil {
			return nil, nil, err
		}
	}
	return people, creds, nil
}

// exposedDoors loads the property's doors whose provisioned lock has not
// acknowledged the latest version, with their first unacknowledged change
// and revocation. Doors without a lock admit nobody.
func (t *Tx) exposedDoors(ctx context.Context, propertyID string) (map[string]*exposedDoor, error) {
	rows, err := t.query(ctx, `SELECT d.id, d.name, d.connectivity, d.acked_version, `+ackedState+` FROM doors d JOIN door_locks l ON l.door_id = d.id`+ackedStateJoin+`
		WHERE d.property_id = ? AND d.version > d.acked_version`, propertyID)
	if err != nil {
		return nil, err
	}
	doors := map[string]*exposedDoor{}
	for rows.Next() {
		d := &exposedDoor{unacked: map[int64]int64{}}
		var state string
		if err := rows.Scan(&d.id, &d.name, &d.conn, &d.acked, &state); err != nil {
			rows.Close()
			return nil, err
		}
		var st LockState
		if state != "" && json.Unmarshal([]byte(state), &st) == nil {
			d.state = &st
		}
		doors[d.id] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(doors) == 0 {
		return doors, nil
	}
	rows, err = t.query(ctx, `SELECT c.door_id, c.version, c.at, c.revocation FROM door_changes c JOIN doors d ON d.id = c.door_id
		WHERE d.property_id = ? AND c.version > d.acked_version ORDER BY c.door_id, c.version`, propertyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var doorID string
		var v, at int64
		var rev bool
		if err := rows.Scan(&doorID, &v, &at, &rev); err != nil {
			return nil, err
		}
		d := doors[doorID]
		if d == nil {
			continue
		}
		if _, ok := d.unacked[at]; !ok {
			d.unacked[at] = v
		}
		if d.firstChange == 0 {
			d.firstChange, d.firstAt = v, at
		}
		if rev && d.firstRevoked == 0 {
			d.firstRevoked, d.firstRevAt = v, at
		}
	}
	return doors, rows.Err()
}

// issuedCredentialsIn adds to by, per person, the credentials matching
// where (on person_id) that are still valid at now, by issue time.
func (t *Tx) issuedCredentialsIn(ctx context.Context, by map[string][]CredentialRecord, where string, now time.Time, args ...any) error {
	rows, err := t.query(ctx, `SELECT person_id, serial, device_id, issued_at, not_before, not_after, door_ids FROM issued_credentials
		WHERE `+where+` AND not_after > ? ORDER BY issued_at, serial`, append(args, micros(now))...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c CredentialRecord
		var serial, issued, nb, na int64
		var doors string
		if err := rows.Scan(&c.PersonID, &serial, &c.DeviceID, &issued, &nb, &na, &doors); err != nil {
			return err
		}
		c.Serial, c.IssuedAt, c.NotBefore, c.NotAfter = uint64(serial), fromMicros(issued), fromMicros(nb), fromMicros(na)
		if err := json.Unmarshal([]byte(doors), &c.DoorIDs); err != nil {
			return err
		}
		by[c.PersonID] = append(by[c.PersonID], c)
	}
	return rows.Err()
}

// MailboxDoor is a door a resident's phone can carry a bundle to.
type MailboxDoor struct {
	DoorID     string
	PropertyID string
}

// MailboxDoors lists the doors whose provisioned lock has not acknowledged
// the latest version that the login's phone may carry a bundle to: for
// each of its records, courierDoors (the doors of its keys, shared doors,
// its unit's doors and doors with a pending revocation while it holds
// access; the doors of its stale credentials once revoked or deleted).
func (s *Store) MailboxDoors(ctx context.Context, r Resident) ([]MailboxDoor, error) {
	var out []MailboxDoor
	err := s.read(ctx, func(t *Tx) error {
		now := s.Now()
		seen := map[string]bool{}
		for _, rp := range r.People {
			ids, err := t.courierDoors(ctx, rp, now, true)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					out = append(out, MailboxDoor{DoorID: id, PropertyID: rp.PropertyID})
				}
			}
		}
		return nil
	})
	return out, err
}

// PersonCanReach reports whether the door belongs to a property where the
// login has a (not deleted) person record. Any such phone may courier the
// lock's acks and logs: they are lock-signed, so a phone can only deliver
// them, not forge them, and a revoked resident's phone still brings back
// the log of their refused attempts.
func (s *Store) PersonCanReach(ctx context.Context, r Resident, doorID string) (bool, error) {
	var propertyID string
	err := s.queryRow(ctx, `SELECT property_id FROM doors WHERE id = ?`, doorID).Scan(&propertyID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, rp := range r.People {
		if rp.DeletedAt == nil && rp.PropertyID == propertyID {
			return true, nil
		}
	}
	// A deleted record's app brings back the ack of its own revocation
	// from the doors of its stale credentials (MailboxDoors).
	var ok bool
	err = s.read(ctx, func(t *Tx) error {
		for _, rp := range r.People {
			if rp.DeletedAt == nil || rp.PropertyID != propertyID {
				continue
			}
			ids, err := t.courierDoors(ctx, rp, s.Now(), false)
			if err != nil {
				return err
			}
			if slices.Contains(ids, doorID) {
				ok = true
				return nil
			}
		}
		return nil
	})
	return ok, err
}

// windowChangedReason is the door change reason of a person's access window
// moved (PATCH of starts_at / expires_at); onlyWindowChanges recognises it.
func windowChangedReason(name string) string { return "access window of " + name + " changed" }

// onlyWindowChanges reports whether every part of a (merged, "; "-joined)
// change reason is a window change; anything else, or a part it cannot
// read (a name holding "; ", a capped reason), is not.
func onlyWindowChanges(reason string) bool {
	for _, part := range strings.Split(reason, "; ") {
		if !strings.HasPrefix(part, "access window of ") || !strings.HasSuffix(part, " changed") {
			return false
		}
	}
	return reason != ""
}
