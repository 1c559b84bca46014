package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// Exposure is one door that could still admit a revoked or deleted person,
// and until when: the answer to "a revoked resident is still able to
// unlock days later".
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
	// Kind: pending_sync (the lock's state is unknown: never synced),
	// credential (phone credentials issued before the revocation, until
	// the last of them expires), doorcode or keycard (still held by the
	// lock until it syncs).
	Kind string `json:"kind"`
	// Ref names what is still held: the keycard serials (comma-separated).
	Ref string `json:"ref,omitempty"`
	// Count is how many credentials (or codes, cards) this way stands for.
	Count int `json:"count"`
	// Until is when the way closes by itself (the latest credential
	// expiry); null: when the lock syncs.
	Until *time.Time `json:"until"`
}

// ListExposure lists, for every revoked or deleted person of a property,
// each door whose lock has not acknowledged their revocation and how they
// could still get in there. Doors that acknowledged it, and doors whose
// lock holds nothing of theirs any more (credentials expired, no code or
// card), are left out.
func (s *Store) ListExposure(ctx context.Context, a domain.Actor, propertyID string) ([]Exposure, error) {
	out := []Exposure{}
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.Can(propertyID, domain.PermPeople); err != nil {
			if a.Can(propertyID, domain.PermDevices) != nil {
				return err
			}
		}
		now := s.Now()
		rows, err := t.query(ctx, `SELECT p.id, r.door_id, MAX(r.at) FROM people p JOIN door_revocations r ON r.person_id = p.id
			WHERE p.property_id = ? AND p.revoked_at IS NOT NULL GROUP BY p.id, r.door_id ORDER BY p.id, r.door_id`, propertyID)
		if err != nil {
			return err
		}
		type rev struct {
			person, door string
			at           int64
		}
		var revs []rev
		for rows.Next() {
			var r rev
			if err := rows.Scan(&r.person, &r.door, &r.at); err != nil {
				rows.Close()
				return err
			}
			revs = append(revs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		people := map[string]domain.Person{}
		creds := map[string][]CredentialRecord{}
		for _, r := range revs {
			var e Exposure
			var state sql.NullString
			err := t.queryRow(ctx, `SELECT d.name, d.connectivity, d.acked_version, l.acked_state FROM doors d LEFT JOIN door_locks l ON l.door_id = d.id WHERE d.id = ?`, r.door).
				Scan(&e.DoorName, &e.Connectivity, &e.LockVersion, &state)
			if err != nil {
				return err
			}
			if err := t.queryRow(ctx, `SELECT COALESCE(MIN(version), 0) FROM door_changes WHERE door_id = ? AND at = ?`, r.door, r.at).Scan(&e.RevocationVersion); err != nil {
				return err
			}
			if e.LockVersion >= e.RevocationVersion {
				continue // the lock refuses them
			}
			p, ok := people[r.person]
			if !ok {
				if p, err = scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, r.person)); err != nil {
					return err
				}
				people[r.person] = p
				if creds[r.person], err = t.issuedCredentials(ctx, r.person, now); err != nil {
					return err
				}
			}
			e.PersonID, e.PersonName, e.Status, e.DoorID, e.RevokedAt = p.ID, p.Name(), p.Status(now), r.door, fromMicros(r.at)
			unbounded := false
			var st LockState
			if !state.Valid || state.String == "" || json.Unmarshal([]byte(state.String), &st) != nil {
				e.Ways = append(e.Ways, ExposureWay{Kind: "pending_sync", Count: 1})
				unbounded = true
			} else {
				codes := 0
				for _, code := range sortedKeys(st.Doorcodes) {
					if st.Doorcodes[code].PersonID == p.ID {
						codes++
					}
				}
				if codes > 0 {
					e.Ways = append(e.Ways, ExposureWay{Kind: "doorcode", Count: codes})
					unbounded = true
				}
				var serials []string
				for _, serial := range sortedKeys(st.Keycards) {
					if st.Keycards[serial].PersonID == p.ID {
						serials = append(serials, serial)
					}
				}
				if len(serials) > 0 {
					e.Ways = append(e.Ways, ExposureWay{Kind: "keycard", Ref: strings.Join(serials, ", "), Count: len(serials)})
					unbounded = true
				}
			}
			var until time.Time
			n := 0
			for _, c := range creds[r.person] {
				if c.IssuedAt.Before(revocationTime(e.RevokedAt)) && slices.Contains(c.DoorIDs, r.door) {
					n++
					if c.NotAfter.After(until) {
						until = c.NotAfter
					}
				}
			}
			if n > 0 {
				u := until
				e.Ways = append(e.Ways, ExposureWay{Kind: "credential", Count: n, Until: &u})
			}
			if len(e.Ways) == 0 {
				continue
			}
			if !unbounded {
				e.Until = &until
			}
			out = append(out, e)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].RevokedAt.After(out[j].RevokedAt) })
		return nil
	})
	return out, err
}

// issuedCredentials is IssuedCredentials inside a transaction.
func (t *Tx) issuedCredentials(ctx context.Context, personID string, now time.Time) ([]CredentialRecord, error) {
	rows, err := t.query(ctx, `SELECT serial, device_id, issued_at, not_before, not_after, door_ids FROM issued_credentials
		WHERE person_id = ? AND not_after > ? ORDER BY issued_at, serial`, personID, micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CredentialRecord
	for rows.Next() {
		c := CredentialRecord{PersonID: personID}
		var serial, issued, nb, na int64
		var doors string
		if err := rows.Scan(&serial, &c.DeviceID, &issued, &nb, &na, &doors); err != nil {
			return nil, err
		}
		c.Serial, c.IssuedAt, c.NotBefore, c.NotAfter = uint64(serial), fromMicros(issued), fromMicros(nb), fromMicros(na)
		if err := json.Unmarshal([]byte(doors), &c.DoorIDs); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MailboxDoor is a door a resident's phone can carry a bundle to.
type MailboxDoor struct {
	DoorID     string
	PropertyID string
}

// MailboxDoors lists the doors, among those the resident's active records
// can open, whose provisioned lock has not acknowledged the latest version.
func (s *Store) MailboxDoors(ctx context.Context, r Resident) ([]MailboxDoor, error) {
	var out []MailboxDoor
	err := s.read(ctx, func(t *Tx) error {
		now := s.Now()
		seen := map[string]bool{}
		for _, rp := range r.People {
			if st := rp.Status(now); st != domain.StatusActive && st != domain.StatusPending {
				continue
			}
			rows, err := t.query(ctx, `SELECT DISTINCT d.id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id JOIN doors d ON d.id = kd.door_id
				JOIN door_locks l ON l.door_id = d.id
				WHERE g.person_id = ? AND (d.version > d.acked_version OR l.need_snapshot) ORDER BY d.id`, rp.ID)
			if err != nil {
				return err
			}
			ids, err := scanStrings(rows)
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
	return false, nil
}
