package store

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// migration00032 drops, on PostgreSQL only, the foreign keys of the three
// tables a wide change writes one row per door into: door_changes and
// door_revocations (→ doors) and event_doors (→ events). PostgreSQL
// checks a foreign key with a trigger that runs a query per inserted
// row: 3,000 of them in a revoke at 1,000 doors, about a quarter of its
// time (BenchmarkRevoke1000Doors/postgres p50 48–49 → 37 ms, session 14,
// docs/bench-bulk.md).
//
// What the keys guarded holds by construction:
//   - every row of the three tables is written by Tx.flushDoors, the only
//     writer: door_changes and door_revocations rows for the doors its
//     UPDATE … RETURNING just bumped (the door's row locked FOR UPDATE in
//     the same transaction; a door missing from RETURNING fails the
//     transaction), event_doors rows in the same transaction as their
//     events;
//   - nothing deletes doors or events (doors are never deleted, Activity
//     is append-only), so no row loses its parent afterwards; on
//     PostgreSQL a statement trigger now refuses any DELETE or TRUNCATE of
//     either table, so a change that starts deleting them has to deal
//     with their rows first.
//
// store_test.TestDoorRowsHaveTheirParents checks the invariant after a
// workload on both databases. SQLite keeps its keys: it cannot drop a
// constraint without rebuilding the table, and its inserts there already
// avoid the statement journal a key would add (sqliteAppendRows).
func migration00032(dialect Dialect) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		if dialect != Postgres {
			return nil
		}
		// By what they reference, not by name: whatever an earlier
		// migration called them.
		// Dropping a key locks its parent table too (doors, events): on a
		// busy database shared with running servers, give up rather than
		// queue every writer behind the migration.
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT conrelid::regclass::text, quote_ident(conname) FROM pg_constraint
			WHERE contype = 'f' AND conrelid IN ('door_changes'::regclass, 'door_revocations'::regclass, 'event_doors'::regclass)`)
		if err != nil {
			return err
		}
		var drops []string
		for rows.Next() {
			var table, name string
			if err := rows.Scan(&table, &name); err != nil {
				rows.Close()
				return err
			}
			drops = append(drops, `ALTER TABLE `+table+` DROP CONSTRAINT `+name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// What the keys relied on, enforced instead: doors and events are
		// never deleted (a statement trigger, no cost per row inserted).
		drops = append(drops,
			`CREATE FUNCTION dooros_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				RAISE EXCEPTION '% rows are never deleted: door_changes, door_revocations and event_doors name them without a foreign key (migration 00032)', TG_TABLE_NAME;
			END $$`,
			`CREATE TRIGGER doors_never_deleted BEFORE DELETE OR TRUNCATE ON doors FOR EACH STATEMENT EXECUTE FUNCTION dooros_never_deleted()`,
			`CREATE TRIGGER events_never_deleted BEFORE DELETE OR TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION dooros_never_deleted()`,
		)
		for _, q := range drops {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		if dialect != Postgres {
			return nil
		}
		for _, q := range []string{
			`DROP TRIGGER doors_never_deleted ON doors`,
			`DROP TRIGGER events_never_deleted ON events`,
			`DROP FUNCTION dooros_never_deleted()`,
			`ALTER TABLE door_changes ADD FOREIGN KEY (door_id) REFERENCES doors (id)`,
			`ALTER TABLE door_revocations ADD FOREIGN KEY (door_id) REFERENCES doors (id)`,
			`ALTER TABLE event_doors ADD FOREIGN KEY (event_id) REFERENCES events (id)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	return goose.NewGoMigration(32, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}
