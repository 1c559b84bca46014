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
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plan.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
