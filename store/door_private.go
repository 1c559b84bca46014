package store

import (
	"context"
	"time"
)

// PrivateEvent is a resident's own entry at their own residence door:
// private to them, never in the managers' Activity.
type PrivateEvent struct {
	ID         string    `json:"id"`
	PropertyID string    `json:"property_id"`
	At         time.Time `json:"at"`          // the lock's own time
	ReceivedAt time.Time `json:"received_at"` // when a courier or MQTT brought it
	Kind       string    `json:"kind"`
	PersonID   string    `json:"person_id"`
	DoorID     string    `json:"door_id"`
	DoorName   string    `json:"door_name"`
	Detail     string    `json:"detail"`
}

// MyActivity lists the private entries of a resident login's person
// records, newest first, limit per page; cursor is the next_cursor of the
// previous page.
func (s *Store) MyActivity(ctx context.Context, r Resident, cursor string, limit int) ([]PrivateEvent, string, error) {
	out := []PrivateEvent{}
	limit = pageLimit(limit, maxPageSize)
	if len(r.People) == 0 {
		return out, "", nil
	}
	args := make([]any, 0, len(r.People)+4)
	for _, p := range r.People {
		args = append(args, p.ID)
	}
	q := `SELECT e.id, e.property_id, e.at, e.received_at, e.kind, e.person_id, e.door_id, COALESCE(d.name, ''), e.detail
		FROM private_events e LEFT JOIN doors d ON d.id = e.door_id
		WHERE e.person_id IN (` + placeholders(len(r.People)) + `)`
	if cursor != "" {
		at, id, err := decodeIntCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (e.at < ? OR (e.at = ? AND e.id < ?))`
		args = append(args, at, at, id)
	}
	q += ` ORDER BY e.at DESC, e.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.query(ctx, q, args...)
	out, err = collect(rows, err, func(sc rowScanner) (PrivateEvent, error) {
		var e PrivateEvent
		var at, received int64
		if err := sc.Scan(&e.ID, &e.PropertyID, &at, &received, &e.Kind, &e.PersonID, &e.DoorID, &e.DoorName, &e.Detail); err != nil {
			return e, err
		}
		e.At, e.ReceivedAt = fromMicros(at), fromMicros(received)
		return e, nil
	})
	if err != nil {
		return nil, "", err
	}
	out, next := page(out, limit, func(e PrivateEvent) (string, string) { return microsKey(micros(e.At), e.ID) })
	return out, next, nil
}
