package store

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// ActivityFilter selects Activity entries.
type ActivityFilter struct {
	PersonID string
	DoorID   string
	Kind     string // exact kind or a prefix ending in "." ("person.")
	Since    *time.Time
	Until    *time.Time
	Cursor   string
	Limit    int
}

// ListActivity lists events newest first.
func (s *Store) ListActivity(ctx context.Context, a domain.Actor, propertyID string, f ActivityFilter) ([]domain.Event, string, error) {
	var out []domain.Event
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.Can(propertyID, domain.PermActivity); err != nil {
			return err
		}
		limit := f.Limit
		if limit <= 0 {
			limit = defaultPageSize
		}
		if limit > 1000 {
			limit = 1000
		}
		q := `SELECT id, at, kind, actor_id, actor_name, person_id, person_name, door_id, detail FROM events WHERE property_id = ?`
		args := []any{propertyID}
		if f.PersonID != "" {
			q += ` AND person_id = ?`
			args = append(args, f.PersonID)
		}
		if f.DoorID != "" {
			q += ` AND (door_id = ? OR id IN (SELECT event_id FROM event_doors WHERE door_id = ?))`
			args = append(args, f.DoorID, f.DoorID)
		}
		if f.Kind != "" {
			if strings.HasSuffix(f.Kind, ".") {
				q += ` AND kind >= ? AND kind < ?`
				args = append(args, f.Kind, f.Kind+"\U0010FFFF")
			} else {
				q += ` AND kind = ?`
				args = append(args, f.Kind)
			}
		}
		if f.Since != nil {
			q += ` AND at >= ?`
			args = append(args, micros(*f.Since))
		}
		if f.Until != nil {
			q += ` AND at < ?`
			args = append(args, micros(*f.Until))
		}
		if f.Cursor != "" {
			b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
			at, id, ok := strings.Cut(string(b), "\x00")
			n, perr := strconv.ParseInt(at, 10, 64)
			if err != nil || !ok || perr != nil {
				return domain.FieldError("cursor", "is not a cursor this server issued")
			}
			q += ` AND (at < ? OR (at = ? AND id < ?))`
			args = append(args, n, n, id)
		}
		q += ` ORDER BY at DESC, id DESC LIMIT ?`
		args = append(args, limit+1)
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []domain.Event{}
		for rows.Next() {
			var e domain.Event
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Kind, &e.ActorID, &e.Actor, &e.PersonID, &e.PersonName, &e.DoorID, &e.Detail); err != nil {
				return err
			}
			e.At, e.PropertyID = fromMicros(at), propertyID
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) > limit {
			out = out[:limit]
			last := out[limit-1]
			next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(micros(last.At), 10) + "\x00" + last.ID))
		}
		return nil
	})
	return out, next, err
}

// AddEvent appends an event reported by a device or a worker (unlocks,
// denials, syncs); admin actions are written by the use cases themselves.
func (s *Store) AddEvent(ctx context.Context, e domain.Event) error {
	return s.inTx(ctx, "add_event", func(t *Tx) error { return t.addEvent(ctx, e) })
}
