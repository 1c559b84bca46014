package store_test

import (
	"database/sql"
	"testing"

	"github.com/dooros/dooros/store/storetest"
)

// Every SQLite connection of the pool keeps statement journals and other
// temporary files in memory (temp_store = MEMORY, 2): a bulk write's
// undo pages cost no file writes (docs/bench-bulk.md). WAL and
// synchronous = NORMAL are checked beside it, as the same DSN sets them,
// and the automatic checkpoint raised to its backstop (checkpoint.go).
func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	st := storetest.OpenSQLite(t)
	// Hold several connections at once so the pool opens new ones.
	var conns []*sql.Conn
	for range 4 {
		c, err := st.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var tempStore, synchronous, autoCheckpoint int
		var journal string
		if err := c.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&tempStore); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&synchronous); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&autoCheckpoint); err != nil {
			t.Fatal(err)
		}
		if tempStore != 2 || synchronous != 1 || journal != "wal" || autoCheckpoint != 10000 {
			t.Errorf("connection %d: temp_store %d, synchronous %d, journal_mode %q, wal_autocheckpoint %d; want 2 (MEMORY), 1 (NORMAL), wal, 10000 (checkpoints in the background)", i, tempStore, synchronous, journal, autoCheckpoint)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}
