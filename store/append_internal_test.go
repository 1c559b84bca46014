package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
)

// On SQLite the deferred rows are written without statement journals
// (sqliteAppendRows: INSERT OR FAIL, or one statement per row for tables
// with a foreign key whose rows are spread over many doors), so a failing
// statement may leave its earlier rows in place: the whole transaction
// must still roll back, leaving nothing.
func TestSQLiteAppendFailureRollsBackTransaction(t *testing.T) {
	ctx := context.Background()
	s := migratedSQLite(t)
	manyDoors := func() []appendRow {
		var rows []appendRow
		for i := range 8 {
			rows = append(rows, appendRow{insertEventDoor, ` ON CONFLICT DO NOTHING`, []any{"evt_x", fmt.Sprintf("door_%d", i)}})
		}
		return append(rows, appendRow{insertEventDoor, ` ON CONFLICT DO NOTHING`, []any{"evt_missing", "door_1"}})
	}
	outbox := func(id string) appendRow {
		return appendRow{insertOutbox, ``, []any{id, "test.topic", "", "{}", int64(1), int64(1)}}
	}
	for _, c := range []struct {
		name, want string
		rows       []appendRow
	}{
		// The third row repeats the first one's primary key: the
		// multi-row INSERT OR FAIL stops after two rows.
		{"unique in a multi-row insert", "already exists", []appendRow{outbox("obx_a"), outbox("obx_b"), outbox("obx_a")}},
		// The outbox rows go first; the second event_doors row names no
		// event (a foreign key), its single-row statement fails.
		{"foreign key in a single-row insert", "FOREIGN KEY", []appendRow{outbox("obx_a"), outbox("obx_b"),
			{insertEventDoor, ` ON CONFLICT DO NOTHING`, []any{"evt_x", "door_1"}},
			{insertEventDoor, ` ON CONFLICT DO NOTHING`, []any{"evt_missing", "door_1"}}}},
		// Many rows of few events (one event at many doors): one
		// multi-row INSERT (with its journal).
		{"foreign key in a multi-row insert", "FOREIGN KEY", append([]appendRow{outbox("obx_a")}, manyDoors()...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := s.inTx(ctx, "test_append", func(tx *Tx) error {
				if _, err := tx.exec(ctx, `INSERT INTO events (id, property_id, at, received_at, kind, actor_id, actor_name, detail) VALUES ('evt_x', '', 1, 1, 'test', '', '', ''), ('evt_y', '', 1, 1, 'test', '', '', ''), ('evt_z', '', 1, 1, 'test', '', '', ''), ('evt_w', '', 1, 1, 'test', '', '', '')`); err != nil {
					return err
				}
				tx.appends = append(tx.appends, c.rows...)
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM outbox WHERE id IN ('obx_a', 'obx_b')) + (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM event_doors)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d rows of the failed transaction are left (%v)", n, err)
			}
		})
	}
}

// An event with a door of its own names no other door: ListActivity
// looks in event_doors only for events without one (atEventDoors).
func TestEventWithItsDoorNamesNoOther(t *testing.T) {
	ctx := context.Background()
	s := migratedSQLite(t)
	err := s.inTx(ctx, "test_event", func(tx *Tx) error {
		return tx.addEvent(ctx, domain.Event{PropertyID: "p", Kind: "test", DoorID: "door_1", Doors: []string{"door_1", "door_2"}})
	})
	if err == nil || !strings.Contains(err.Error(), "names another door") {
		t.Fatalf("error %v, want the event refused", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d events written (%v), want none", n, err)
	}
}
