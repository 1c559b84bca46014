package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestPendingDoorPushesPlan: the query every lock ack runs reads the
// partial index of pending rows, not a door's whole delivered history
// (migration 00027).
func TestPendingDoorPushesPlan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plan.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := st.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+pendingDoorPushes, "door", TopicDoorState)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX outbox_subject_pending") {
		t.Fatalf("plan of the pending door pushes query: %q, want it to use outbox_subject_pending", got)
	}
}

// TestOutboxForSubjectPlan: a person's delivery history is read through
// outbox_subject, which leaves door pushes out (migration 00028): door.state
// rows are not in that index.
func TestOutboxForSubjectPlan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plan.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := st.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+outboxForSubject, "per_x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX outbox_subject ") {
		t.Fatalf("plan of OutboxForSubject: %q, want it to use outbox_subject", got)
	}
	// The index holds no door push.
	var sql string
	if err := st.db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'outbox_subject'`).Scan(&sql); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, "WHERE topic <> 'door.state'") {
		t.Fatalf("outbox_subject: %s", sql)
	}
}
