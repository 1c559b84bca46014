package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dooros/dooros/domain"
)

// Outbox topics written by the core; workers in other packages deliver them.
const (
	TopicWelcomeEmail      = "email.welcome"
	TopicManagerInvitation = "email.manager_invitation"
	TopicDoorState         = "door.state"
)

// addEvent appends one Activity entry.
func (t *Tx) addEvent(ctx context.Context, e domain.Event) error {
	return t.addEvents(ctx, []domain.Event{e})
}

// addEvents appends Activity entries. They are written before commit with
// the transaction's other appends (Activity is never read back by the
// transaction that writes it).
func (t *Tx) addEvents(_ context.Context, es []domain.Event) error {
	now := t.s.Now()
	for _, e := range es {
		if e.ID == "" {
			e.ID = domain.NewSeqID("evt")
		}
		if e.At.IsZero() {
			e.At = now
		}
		t.appends = append(t.appends, appendRow{insertEvent, "", []any{e.ID, e.PropertyID, micros(e.At), micros(now), e.Kind, e.ActorID, e.Actor, e.PersonID, e.PersonName, e.DoorID, e.Detail}})
		for _, d := range e.Doors {
			if d == e.DoorID {
				// The event's own door column answers the door filter
				// (ListActivity): a lock's ack, log or rotation writes no
				// event_doors row.
				continue
			}
			if e.DoorID != "" {
				// ListActivity looks in event_doors only for events
				// without a door of their own.
				return fmt.Errorf("event %s at door %s names another door, %s", e.Kind, e.DoorID, d)
			}
			t.appends = append(t.appends, appendRow{insertEventDoor, ` ON CONFLICT DO NOTHING`, []any{e.ID, d}})
		}
	}
	return nil
}

const (
	insertEvent     = `INSERT INTO events (id, property_id, at, received_at, kind, actor_id, actor_name, person_id, person_name, door_id, detail) VALUES `
	insertEventDoor = `INSERT INTO event_doors (event_id, door_id) VALUES `
	insertOutbox    = `INSERT INTO outbox (id, topic, subject_id, payload, created_at, available_at) VALUES `

	insertDoorChange     = `INSERT INTO door_changes (door_id, version, at, reason, revocation) VALUES `
	insertDoorRevocation = `INSERT INTO door_revocations (door_id, person_id, at) VALUES `
)

// maxParams keeps a multi-row statement under SQLite's limit of bound
// parameters (32766) and PostgreSQL's (65535).
const maxParams = 30000

// insertRows inserts rows with as few multi-row INSERT statements as the
// parameter limits allow; head ends with "VALUES ", tail may add a
// conflict clause. Every row has the same number of values.
func (t *Tx) insertRows(ctx context.Context, head string, rows [][]any, tail string) error {
	if len(rows) == 0 {
		return nil
	}
	if t.s.dialect == Postgres {
		if q, args, ok := unnestInsert(head, rows); ok {
			_, err := t.exec(ctx, q+tail, args...)
			return err
		}
	}
	per := max(1, maxParams/len(rows[0]))
	tuple := "(" + placeholders(len(rows[0])) + ")"
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(chunk)*len(rows[0]))
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		b.WriteString(tail)
		if _, err := t.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// adminEvent is the common shape of a manager's action on a person.
func adminEvent(a domain.Actor, propertyID, kind string, p *domain.Person, detail string, doors []string) domain.Event {
	e := domain.Event{PropertyID: propertyID, Kind: kind, ActorID: a.ManagerID, Actor: a.Name, Detail: detail, Doors: doors}
	if p != nil {
		e.PersonID, e.PersonName = p.ID, p.Name()
	}
	return e
}

// bumpDoors records that the changed doors need a new desired-state
// version. The changes are kept on the transaction and flushed once, just
// before it commits (flushDoors), so a transaction that changes a door
// several times — a request touching many people, an import batch of 100
// rows joined into one transaction, a PMS run — gives each door one new
// version, one change record and one door.state push, whatever the number
// of changes. Nothing in a use case reads a door's version after bumping
// it in the same transaction (bundles are built from committed versions).
func (t *Tx) bumpDoors(_ context.Context, changes []domain.DoorChange) error {
	t.doorChanges = append(t.doorChanges, changes...)
	return nil
}

// doorAcked records that the door's lock holds version (a DOOR OS lock's
// ack, a phone's AckDoor, a Z-Wave lock's codes written): the door's
// acknowledged version moves up to it, never down nor past the door's
// version, and it was synced at now.
//
// The change records at or below the acknowledged version go (forgetting
// acknowledged changes). Every reader asks for the changes above it
// (version > acked_version: Door Sync tasks, exposure, couriers, metrics),
// and kept for ever they grew door_changes' primary key to a leaf per
// door, so a revoke at 10,000 doors wrote 10,000 of its pages
// (docs/bench-fleet.md, session 9). A re-provisioned lock starts again at
// version 0: its provisioning change is a revocation (ProvisionLock), and
// exposure counts every revocation for a lock with no acknowledged state.
func (t *Tx) doorAcked(ctx context.Context, doorID string, version int64, now time.Time) error {
	res, err := t.exec(ctx, `UPDATE doors SET acked_version = ?, last_synced_at = ? WHERE id = ? AND acked_version <= ? AND version >= ?`,
		version, micros(now), doorID, version, version)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = t.exec(ctx, `DELETE FROM door_changes WHERE door_id = ? AND version <= ?`, doorID, version)
	return err
}

// maxChangeReason bounds a merged change's reason (an import batch merges
// a hundred "access given to …").
const maxChangeReason = 500

// flushDoors gives every door changed in this transaction a new version,
// records the change — merged per door: the union of reasons, revocation
// and revoked people — (for Door Sync tasks) and any revocation (for lock
// bundles), and queues one push per door for the Door Sync workers. It
// runs a fixed number of statements whatever the number of doors, and
// bumps doors in id order so concurrent transactions on PostgreSQL lock
// them in the same order; locking them only here, at the end, also keeps
// the door rows locked for the shortest time.
func (t *Tx) flushDoors(ctx context.Context) error {
	merged := domain.MergeDoorChanges(t.doorChanges)
	t.doorChanges = nil
	if len(merged) == 0 {
		return t.flushAppends(ctx)
	}
	sort.Slice(merged, func(i, j int) bool { return merged[i].DoorID < merged[j].DoorID })
	now := t.s.Now()
	versions := make(map[string]int64, len(merged))
	for lo := 0; lo < len(merged); lo += 1000 {
		chunk := merged[lo:min(lo+1000, len(merged))]
		ids := make([]string, len(chunk))
		for i, c := range chunk {
			ids[i] = c.DoorID
		}
		// OR FAIL: no statement journal (see sqliteAppendRows).
		q := `UPDATE OR FAIL doors SET version = version + 1 WHERE id IN (` + placeholders(len(ids)) + `) RETURNING id, version`
		if t.s.dialect == Postgres {
			// An UPDATE locks rows in scan order, which follows where the
			// row versions lie on disk; lock them in id order first (in the
			// same statement) so two transactions bumping the same doors
			// queue instead of deadlocking.
			q = `WITH locked AS MATERIALIZED (SELECT id FROM doors WHERE id IN (` + placeholders(len(ids)) + `) ORDER BY id FOR UPDATE)
				UPDATE doors d SET version = d.version + 1 FROM locked WHERE d.id = locked.id RETURNING d.id, d.version`
		}
		rows, err := t.query(ctx, q, anySlice(ids)...)
		if err != nil {
			return fmt.Errorf("bump doors: %w", err)
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			versions[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var doorRows []appendRow
	var revoked []RevokedDoor
	for _, c := range merged {
		version, ok := versions[c.DoorID]
		if !ok {
			return fmt.Errorf("bump door %s: %w", c.DoorID, sql.ErrNoRows)
		}
		if c.Narrows() {
			revoked = append(revoked, RevokedDoor{DoorID: c.DoorID, Version: version, PersonIDs: c.PersonIDs, DayKeys: c.DayKeys, Cards: c.Cards, Doorcodes: c.Doorcodes})
		}
		doorRows = append(doorRows, appendRow{insertDoorChange, ``,
			[]any{c.DoorID, version, micros(now), capReason(c.Reason), c.Revocation}})
		for _, p := range c.PersonIDs {
			doorRows = append(doorRows, appendRow{insertDoorRevocation, ` ON CONFLICT DO NOTHING`,
				[]any{c.DoorID, p, micros(now)}})
		}
		payload, err := json.Marshal(doorStatePayload{c.DoorID, version})
		if err != nil {
			return err
		}
		doorRows = append(doorRows, appendRow{insertOutbox, ``, []any{domain.NewSeqID("obx"), TopicDoorState, c.DoorID, string(payload), micros(now), micros(now)}})
	}
	t.appends = append(doorRows, t.appends...)
	t.queuedDoorState = t.queuedDoorState || len(merged) > 0
	if len(revoked) > 0 {
		// After the commit, never before: a notice must not refuse anyone
		// for a change that rolled back.
		t.after = append(t.after, func() { t.s.revoked(revoked) })
	}
	return t.flushAppends(ctx)
}

// doorStatePayload is a door.state outbox row's payload (the same JSON as
// the map it replaced: keys in this order).
type doorStatePayload struct {
	DoorID  string `json:"door_id"`
	Version int64  `json:"version"`
}

// appendGroup is the deferred rows of one table (one INSERT head).
type appendGroup struct {
	head, tail string
	rows       [][]any
}

// flushAppends writes the deferred rows: one multi-row INSERT per table
// (first-use order, so events go before their event_doors), all of them in
// one statement on PostgreSQL (data-modifying WITH clauses), where each
// statement is a network round trip.
func (t *Tx) flushAppends(ctx context.Context) error {
	if len(t.appends) == 0 {
		return nil
	}
	if err := t.queueWebhooks(ctx); err != nil { // webhooks.go
		return err
	}
	var groups []*appendGroup
	idx := map[string]*appendGroup{}
	params := 0
	for _, a := range t.appends {
		g := idx[a.head]
		if g == nil {
			g = &appendGroup{head: a.head, tail: a.tail}
			idx[a.head] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, a.row)
		params += len(a.row)
	}
	t.appends = nil
	if t.s.dialect == Postgres && len(groups) > 1 {
		var b strings.Builder
		args := make([]any, 0, params)
		for i, g := range groups {
			uq, uargs, unnest := unnestInsert(g.head, g.rows)
			if !unnest && params > maxParams {
				return t.insertGroups(ctx, groups)
			}
			switch {
			case i == 0:
				b.WriteString("WITH ")
			case i < len(groups)-1:
				b.WriteString(", ")
			}
			if i < len(groups)-1 {
				fmt.Fprintf(&b, "w%d AS (", i)
			} else {
				b.WriteString(" ")
			}
			if unnest {
				b.WriteString(uq)
				args = append(args, uargs...)
			} else {
				b.WriteString(g.head)
				tuple := "(" + placeholders(len(g.rows[0])) + ")"
				for j, r := range g.rows {
					if j > 0 {
						b.WriteByte(',')
					}
					b.WriteString(tuple)
					args = append(args, r...)
				}
			}
			b.WriteString(g.tail)
			if i < len(groups)-1 {
				b.WriteString(")")
			}
		}
		_, err := t.exec(ctx, b.String(), args...)
		return err
	}
	return t.insertGroups(ctx, groups)
}

// insertGroups writes each group of deferred rows: with insertRows, or on
// SQLite with sqliteAppendRows.
func (t *Tx) insertGroups(ctx context.Context, groups []*appendGroup) error {
	for _, g := range groups {
		var err error
		if t.s.dialect == SQLite {
			err = t.sqliteAppendRows(ctx, g.head, g.rows, g.tail)
		} else {
			err = t.insertRows(ctx, g.head, g.rows, g.tail)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fkChildSpread maps the deferred-row tables with an immediate foreign
// key whose rows may land all over their primary key (door_changes and
// door_revocations reference doors) to the column that leads it, which
// decides how many of its leaves a batch of rows touches: the door.
// event_doors (referencing events) is not here: its key leads with the
// event's time-ordered id (domain.NewSeqID), so a transaction's rows all
// land at the index's right edge, a few leaves however many events there
// are; one multi-row statement journals those few pages, where a statement
// per row cost an import batch 3,000 executions (session 13: import of
// 10,000 rows 0.86–0.91 → 0.83–0.88 s, docs/bench-bulk.md).
var fkChildSpread = map[string]int{
	insertDoorChange:     0,
	insertDoorRevocation: 0,
}

// sqliteAppendRows writes deferred rows on SQLite, without a statement
// journal where that is cheaper. Inside a transaction SQLite opens one for
// every statement that writes several rows and may abort part-way (a NOT
// NULL, UNIQUE or immediate foreign-key check with the default ABORT),
// and copies into it, in memory, every page the statement touches: a
// revoke at 1,000 doors touches about a thousand index leaves in each of
// three tables, and copying and freeing them was a third of its time.
// Deferred rows are written only by flushDoors, as a transaction's last
// statements, and any error there rolls the whole transaction back, so
// undoing the failed statement alone is never needed:
//   - the other tables take one multi-row INSERT OR FAIL: FAIL stops the
//     statement without undoing its earlier rows, so for a table without
//     a foreign key (outbox, events) SQLite needs no journal (an upsert's
//     DO NOTHING still applies; the foreign keys of webhook_deliveries
//     and event_doors keep its journal, of the few right-edge pages their
//     time-ordered keys touch);
//   - door_changes and door_revocations (a foreign-key check makes any
//     multi-row statement journal, defer_foreign_keys or not)
//     take a single-row statement per row, prepared once, when
//     the rows are spread over many keys of their primary key (a leaf
//     each: a revoke at 1,000 doors), and the multi-row INSERT when many
//     rows share few (an import batch: 1,500 rows at 3 doors touch a few
//     pages, and a statement per row would cost more than journaling
//     them).
func (t *Tx) sqliteAppendRows(ctx context.Context, head string, rows [][]any, tail string) error {
	if len(rows) == 0 {
		return nil
	}
	col, fk := fkChildSpread[head]
	if !fk || len(rows) == 1 {
		return t.insertRows(ctx, strings.Replace(head, "INSERT INTO", "INSERT OR FAIL INTO", 1), rows, tail)
	}
	leading := map[any]bool{}
	for _, r := range rows {
		leading[r[col]] = true
	}
	if 4*len(leading) < len(rows) {
		return t.insertRows(ctx, head, rows, tail)
	}
	q := head + "(" + placeholders(len(rows[0])) + ")" + tail
	st := t.stmt(ctx, q)
	if st == nil {
		var err error
		if st, err = t.tx.PrepareContext(ctx, q); err != nil {
			return err
		}
		defer st.Close()
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}

// capReason shortens a merged reason to about maxChangeReason bytes,
// keeping whole reasons and saying how many were left out.
func capReason(r string) string {
	if len(r) <= maxChangeReason {
		return r
	}
	parts := strings.Split(r, "; ")
	if len(parts) == 1 {
		return cutRunes(r, maxChangeReason-3) + "..."
	}
	kept, n := 0, 0
	for kept < len(parts) {
		add := len(parts[kept]) + 2
		if n+add+len("; and 99999 more") > maxChangeReason {
			break
		}
		n += add
		kept++
	}
	if kept == 0 {
		return cutRunes(parts[0], maxChangeReason/2) + fmt.Sprintf("...; and %d more", len(parts)-1)
	}
	return strings.Join(parts[:kept], "; ") + fmt.Sprintf("; and %d more", len(parts)-kept)
}

// cutRunes cuts s to at most n bytes without splitting a character.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// enqueue adds an outbox row to the current transaction (written before
// it commits, with its other appends).
func (t *Tx) enqueue(_ context.Context, topic, subject string, payload any, availableAt time.Time) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	now := t.s.Now()
	t.queuedDoorState = t.queuedDoorState || topic == TopicDoorState
	t.appends = append(t.appends, appendRow{insertOutbox, ``, []any{domain.NewSeqID("obx"), topic, subject, string(b), micros(now), micros(availableAt)}})
	return nil
}
