package store_test

import (
	"strings"
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorRowsHaveTheirParents: every door_changes and door_revocations
// row names an existing door, and every event_doors row an existing event,
// after invites, a revocation and a deletion. On PostgreSQL no foreign key
// enforces it since migration 00032 (a trigger query per row was a quarter
// of a wide revoke): it holds because Tx.flushDoors, the only writer,
// writes them for the doors it just bumped and the events of the same
// transaction, and nothing deletes doors or events — which a statement
// trigger on PostgreSQL now refuses.
func TestDoorRowsHaveTheirParents(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ana := e.invite("Ana", "Test", "ana@example.com")
		bo := e.invite("Bo", "Test", "bo@example.com")
		e.invite("Cy", "Test", "cy@example.com")
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), ana.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.DeletePerson(ctx, e.f.PM, e.prop(), bo.ID); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, rows, orphans string }{
			{"door_changes", `SELECT COUNT(*) FROM door_changes`,
				`SELECT COUNT(*) FROM door_changes c WHERE NOT EXISTS (SELECT 1 FROM doors d WHERE d.id = c.door_id)`},
			{"door_revocations", `SELECT COUNT(*) FROM door_revocations`,
				`SELECT COUNT(*) FROM door_revocations r WHERE NOT EXISTS (SELECT 1 FROM doors d WHERE d.id = r.door_id)`},
			{"event_doors", `SELECT COUNT(*) FROM event_doors`,
				`SELECT COUNT(*) FROM event_doors ed WHERE NOT EXISTS (SELECT 1 FROM events ev WHERE ev.id = ed.event_id)`},
		} {
			var rows, orphans int
			if err := st.DB().QueryRow(c.rows).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if err := st.DB().QueryRow(c.orphans).Scan(&orphans); err != nil {
				t.Fatal(err)
			}
			if rows == 0 || orphans != 0 {
				t.Errorf("%s: %d rows, %d without their parent; want some rows, none orphaned", c.name, rows, orphans)
			}
		}
		// The schema as migration 00032 leaves it: no key on PostgreSQL,
		// SQLite's kept.
		var keys int
		q := `SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('door_changes'::regclass, 'door_revocations'::regclass, 'event_doors'::regclass)`
		want := 0
		if st.Dialect() != store.Postgres {
			q = `SELECT (SELECT COUNT(*) FROM pragma_foreign_key_list('door_changes')) + (SELECT COUNT(*) FROM pragma_foreign_key_list('door_revocations')) + (SELECT COUNT(*) FROM pragma_foreign_key_list('event_doors'))`
			want = 3
		}
		if err := st.DB().QueryRow(q).Scan(&keys); err != nil {
			t.Fatal(err)
		}
		if keys != want {
			t.Fatalf("foreign keys on door_changes, door_revocations and event_doors: %d, want %d", keys, want)
		}
		// What PostgreSQL enforces instead: doors and events are never
		// deleted (not even a statement that would delete nothing).
		if st.Dialect() == store.Postgres {
			for _, q := range []string{`DELETE FROM doors WHERE id = 'dor_none'`, `DELETE FROM events WHERE id = 'evt_none'`, `TRUNCATE events CASCADE`} {
				if _, err := st.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "never deleted") {
					t.Errorf("%s: %v, want refused (never deleted)", q, err)
				}
			}
		}
	})
}
