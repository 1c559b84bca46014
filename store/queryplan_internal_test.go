package store

import (
	"context"
	"strings"
	"testing"
)

// TestPendingDoorPushesPlan: the query every lock ack runs reads the
// partial index of pending rows, not a door's whole delivered history
// (migration 00027).
func TestPendingDoorPushesPlan(t *testing.T) {
	plan, _ := queryPlan(t, pendingDoorPushes, "outbox_subject_pending", "door", TopicDoorState)
	if !strings.Contains(plan, "USING INDEX outbox_subject_pending") {
		t.Fatalf("plan of the pending door pushes query: %q, want it to use outbox_subject_pending", plan)
	}
}

// queryPlan is SQLite's plan of q on a migrated database, and the
// definition of the named index.
func queryPlan(t *testing.T, q, index string, args ...any) (plan, indexSQL string) {
	t.Helper()
	ctx := context.Background()
	st := migratedSQLite(t)
	rows, err := st.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		details = append(details, detail)
	}
	if err := st.db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = ?`, index).Scan(&indexSQL); err != nil {
		t.Fatal(err)
	}
	return strings.Join(details, "; "), indexSQL
}

// TestOutboxForSubjectPlan: a person's delivery history is read through
// outbox_subject, which leaves door pushes out (migration 00028): door.state
// rows are not in that index.
func TestOutboxForSubjectPlan(t *testing.T) {
	plan, index := queryPlan(t, outboxForSubject, "outbox_subject", "per_x")
	if !strings.Contains(plan, "USING INDEX outbox_subject ") {
		t.Fatalf("plan of OutboxForSubject: %q, want it to use outbox_subject", plan)
	}
	if !strings.Contains(index, "WHERE topic <> 'door.state'") {
		t.Fatalf("outbox_subject: %s", index)
	}
}

// TestGuestsPlan: a host's guests are read through people_invited_by,
// which leaves out everyone who is nobody's guest (migration 00028).
func TestGuestsPlan(t *testing.T) {
	plan, index := queryPlan(t, guestsOf, "people_invited_by", "per_x")
	if !strings.Contains(plan, "USING INDEX people_invited_by ") {
		t.Fatalf("plan of the guests query: %q, want it to use people_invited_by", plan)
	}
	if !strings.Contains(index, "WHERE invited_by IS NOT NULL") {
		t.Fatalf("people_invited_by: %s", index)
	}
}

// TestActivityByDoorPlan: Activity filtered by door walks the property's
// events newest first and probes event_doors' primary key for each; there
// is no index of event_doors by door to write (migration 00029).
func TestActivityByDoorPlan(t *testing.T) {
	sqlite := &Tx{s: &Store{dialect: SQLite}}
	q := `SELECT id FROM events WHERE property_id = ? AND (door_id = ? OR ` + sqlite.atEventDoors(`door_id = ?`) + `) ORDER BY at DESC, id DESC LIMIT 51`
	plan, _ := queryPlan(t, q, "events_property", "prop", "door", "door")
	if !strings.Contains(plan, "USING INDEX events_property") || !strings.Contains(plan, "USING COVERING INDEX sqlite_autoindex_event_doors_1 (event_id=? AND door_id=?)") {
		t.Fatalf("plan of Activity by door: %q, want the property's events probing event_doors by event", plan)
	}
	var n int
	if err := migratedSQLite(t).db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event_doors' AND sql IS NOT NULL`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("event_doors has %d indexes of its own (%v), want none: each would put a wide event's rows in one leaf per door", n, err)
	}
}

// TestActivityByDoorPlanPostgres: on PostgreSQL too, Activity by door
// probes event_doors' primary key for each event it walks, also in the
// generic plan of a prepared statement (the one pgx's statement cache
// ends up running). Without the OFFSET 0 fence (Tx.atEventDoors) that
// plan hashed the subquery: a sequential scan of the whole of event_doors
// for each page.
func TestActivityByDoorPlanPostgres(t *testing.T) {
	st := migratedPostgres(t)
	ctx := context.Background()
	conn, err := st.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`INSERT INTO events (id, property_id, at, received_at, kind, actor_id, actor_name, detail)
			SELECT 'evt_' || g, 'prop', g, g, 'person.revoked', '', 'pm', '' FROM generate_series(1, 2000) g`,
		`INSERT INTO event_doors (event_id, door_id) SELECT 'evt_' || g, 'door_' || d FROM generate_series(1, 2000) g, generate_series(1, 50) d`,
		`ANALYZE events`,
		`ANALYZE event_doors`,
		`SET plan_cache_mode = force_generic_plan`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	pg := &Tx{s: &Store{dialect: Postgres}}
	if _, err := conn.ExecContext(ctx, `PREPARE by_door (text, text, text) AS SELECT id FROM events WHERE property_id = $1 AND (door_id = $2 OR `+
		pg.atEventDoors(`door_id = $3`)+`) ORDER BY at DESC, id DESC LIMIT 51`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, `EXPLAIN EXECUTE by_door ('prop', 'door_7', 'door_7')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	p := strings.Join(plan, "\n")
	if strings.Contains(p, "hashed SubPlan") || !strings.Contains(p, "event_doors_pkey") || !strings.Contains(p, "events_property") {
		t.Fatalf("generic plan of Activity by door:\n%s\nwant the property's events probing event_doors_pkey per event, no hashed subplan", p)
	}
}
