package store

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// ActivityFilter selects Activity entries.
type ActivityFilter struct {
	PersonID string
	DoorID   string
	Kind     string // exact kind or a prefix ending in "." ("person.")
	// ExcludeKinds leaves these exact kinds out (the console hides Door
	// Sync's bookkeeping unless asked), in the query so pages stay full.
	ExcludeKinds []string
	Since        *time.Time
	Until        *time.Time
	Cursor       string
	Limit        int
}

// atEventDoors is the test of an event's doors when it has no door of its
// own (an event with one names no other, Tx.addEvents), cond being a test
// of ed.door_id: a probe of event_doors' primary key (event_id, door_id)
// for each such event the newest-first scan of the property's events
// reaches, in time order like the events themselves. There is no index of
// event_doors by door (migration 00029): an event at 10,000 doors wrote
// one entry in each door's own leaf of it, the biggest part of a wide
// revoke's writes. On PostgreSQL, OFFSET 0 keeps it a probe: without it
// the planner may hash the subquery instead (its generic plan for a
// prepared statement did), which reads the whole of event_doors — every
// door of every wide revoke — for each page (session 14: 4.7 ms at
// 100,000 rows, and growing with them).
func (t *Tx) atEventDoors(cond string) string {
	fence := ``
	if t.s.dialect == Postgres {
		fence = ` OFFSET 0`
	}
	return `(door_id = '' AND EXISTS (SELECT 1 FROM event_doors ed WHERE ed.event_id = events.id AND ed.` + cond + fence + `))`
}

// DefaultActivityScan is how many of a property's newest Activity entries
// (from the page's cursor) one page filtered by door walks at most. With
// no index of events by door (Tx.atEventDoors), a door with few entries had
// the whole property's history walked for each page: ≈ 0.5 s at 350,000
// entries (docs/bench-fleet.md, session 9). Each page now stops at this
// many entries; when it found fewer than asked, its next cursor continues
// below where it stopped (a short page, or an empty one, with a next
// cursor: more may be older). A page that walks 20,000 entries takes
// ≈ 16 ms on SQLite and 20 ms on PostgreSQL, against 240–318 / 91–147 ms
// for one that walks 300,000 (BenchmarkActivityQuietDoor, session 13).
const DefaultActivityScan = 20000

// ListActivity lists events newest first. A page filtered by door (or
// seen by a manager scoped to some doors), and not by person, walks at
// most the property's ActivityScan newest entries below its cursor; it
// may then hold fewer entries than asked and still have a next cursor.
func (s *Store) ListActivity(ctx context.Context, a domain.Actor, propertyID string, f ActivityFilter) ([]domain.Event, string, error) {
	var out []domain.Event
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermActivity); err != nil {
			return err
		}
		_, scoped, err := t.scope(ctx, a, propertyID, domain.PermActivity)
		if err != nil {
			return err
		}
		limit := pageLimit(f.Limit, maxLogPage)
		q := `SELECT id, at, kind, actor_id, actor_name, person_id, person_name, door_id, detail FROM events WHERE property_id = ?`
		args := []any{propertyID}
		if scoped != nil {
			// "Specific": the entries at the doors of his keys, and his
			// own actions (domain.Actor.Scope).
			q += ` AND (actor_id = ?`
			args = append(args, a.ManagerID)
			if doors := slices.Sorted(maps.Keys(scoped)); len(doors) > 0 {
				in := placeholders(len(doors))
				q += ` OR door_id IN (` + in + `) OR ` + t.atEventDoors(`door_id IN (`+in+`)`)
				args = append(append(args, anySlice(doors)...), anySlice(doors)...)
			}
			q += `)`
		}
		if f.PersonID != "" {
			q += ` AND person_id = ?`
			args = append(args, f.PersonID)
		}
		if f.DoorID != "" {
			q += ` AND (door_id = ? OR ` + t.atEventDoors(`door_id = ?`) + `)`
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
		if len(f.ExcludeKinds) > 0 {
			q += ` AND kind NOT IN (` + placeholders(len(f.ExcludeKinds)) + `)`
			args = append(args, anySlice(f.ExcludeKinds)...)
		}
		// window is the page's time range: From, To and the cursor, the
		// same for the page and for its scan budget's floor below.
		var window string
		var windowArgs []any
		if f.Since != nil {
			window += ` AND at >= ?`
			windowArgs = append(windowArgs, micros(*f.Since))
		}
		if f.Until != nil {
			window += ` AND at < ?`
			windowArgs = append(windowArgs, micros(*f.Until))
		}
		if f.Cursor != "" {
			n, id, err := decodeIntCursor(f.Cursor)
			if err != nil {
				return err
			}
			// at <= ? alone bounds the index range (PostgreSQL leaves the
			// OR as a filter over every newer entry); the OR settles ties.
			window += ` AND at <= ? AND (at < ? OR id < ?)`
			windowArgs = append(windowArgs, n, n, id)
		}
		q += window
		args = append(args, windowArgs...)
		// run reads the page of q: out, and next when there is more.
		run := func(q string, args []any) error {
			rows, err := t.query(ctx, q+` ORDER BY at DESC, id DESC LIMIT ?`, append(slices.Clip(args), limit+1)...)
			evs, err := collect(rows, err, func(sc rowScanner) (domain.Event, error) {
				var e domain.Event
				var at int64
				if err := sc.Scan(&e.ID, &at, &e.Kind, &e.ActorID, &e.Actor, &e.PersonID, &e.PersonName, &e.DoorID, &e.Detail); err != nil {
					return e, err
				}
				e.At, e.PropertyID = fromMicros(at), propertyID
				return e, nil
			})
			if err != nil {
				return err
			}
			out, next = page(evs, limit, func(e domain.Event) (string, string) { return microsKey(micros(e.At), e.ID) })
			return nil
		}
		if (f.DoorID == "" && scoped == nil) || f.PersonID != "" { // events_person bounds a person's walk
			return run(q, args)
		}
		// The scan budget: the n-th newest entry of the window, found on
		// events_property's index alone, is where this page stops looking.
		// A busy door's page fills within its first few entries, so a
		// twentieth of the budget is tried first: finding the 20,000th
		// entry costs ≈ 10 ms on PostgreSQL, the 1,000th well under one.
		// What that try finds, when the page fills, is what the whole
		// budget would (the same newest entries); when it does not, the
		// page is read again under the whole budget.
		budget := s.activityScan()
		tries := []int{budget}
		if first := max(1, budget/20); first < budget {
			tries = []int{first, budget}
		}
		for _, n := range tries {
			var floorAt int64
			var floorID string
			err := t.queryRow(ctx, `SELECT at, id FROM events WHERE property_id = ?`+window+` ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`,
				append(append([]any{propertyID}, windowArgs...), n-1)...).Scan(&floorAt, &floorID)
			bounded := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) { // ErrNoRows: fewer entries left than n, no bound
				return err
			}
			fq, fargs := q, args
			if bounded {
				// at >= ? alone bounds the index range; the OR settles ties.
				fq += ` AND at >= ? AND (at > ? OR id >= ?)`
				fargs = append(slices.Clip(args), floorAt, floorAt, floorID)
			}
			if err := run(fq, fargs); err != nil {
				return err
			}
			if next != "" || !bounded {
				return nil
			}
			if n == budget {
				// The budget ran out before the page filled: older entries
				// may match; the next page starts below the last one walked.
				next = encodeCursor(microsKey(floorAt, floorID))
			}
		}
		return nil
	})
	return out, next, err
}

func (s *Store) activityScan() int {
	if s.ActivityScan > 0 {
		return s.ActivityScan
	}
	return DefaultActivityScan
}

// AddEvent appends an event reported by a device or a worker (unlocks,
// denials, syncs); admin actions are written by the use cases themselves.
func (s *Store) AddEvent(ctx context.Context, e domain.Event) error {
	return s.inTx(ctx, "add_event", func(t *Tx) error { return t.addEvent(ctx, e) })
}
