package store

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// migration00005 is migration 5, in Go because part of it is for
// PostgreSQL only:
//
//   - people.welcomed_at: when the person's welcome email was queued
//     (Store.Invite, Store.GiveKey); cleared when they lose all access.
//     People welcomed before this migration count as welcomed at creation.
//   - PostgreSQL: the People columns that are sorted and prefix-searched
//     (sort_name, email, first_lc, last_lc) use the byte-order "C"
//     collation. ListPeople searches a prefix p as the range [p, p+1) and
//     pages by (sort_name, id) cursors, which is right only in byte order;
//     a database created with a language collation (en_US.UTF-8, ICU)
//     orders and compares differently — punctuation and case are weighed
//     apart, so a range can hold names that do not start with p and miss
//     some that do. ALTER COLUMN TYPE rebuilds the indexes on those columns
//     (people_email, people_sort, people_first, people_last). SQLite
//     compares TEXT bytewise already (BINARY).
func migration00005(dialect Dialect) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		stmts := []string{
			`ALTER TABLE people ADD COLUMN welcomed_at BIGINT`,
			`UPDATE people SET welcomed_at = created_at WHERE id IN (SELECT subject_id FROM outbox WHERE topic = 'email.welcome')`,
		}
		if dialect == Postgres {
			stmts = append(stmts, `ALTER TABLE people
				ALTER COLUMN sort_name TYPE TEXT COLLATE "C",
				ALTER COLUMN email TYPE TEXT COLLATE "C",
				ALTER COLUMN first_lc TYPE TEXT COLLATE "C",
				ALTER COLUMN last_lc TYPE TEXT COLLATE "C"`)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		if dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE people
				ALTER COLUMN sort_name TYPE TEXT COLLATE "default",
				ALTER COLUMN email TYPE TEXT COLLATE "default",
				ALTER COLUMN first_lc TYPE TEXT COLLATE "default",
				ALTER COLUMN last_lc TYPE TEXT COLLATE "default"`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `ALTER TABLE people DROP COLUMN welcomed_at`)
		return err
	}
	return goose.NewGoMigration(5, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}
