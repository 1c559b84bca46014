package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Commits leave WAL checkpoints to the background checkpointer: every
// connection's automatic checkpoint is raised to the backstop, and after
// commits the checkpointer copies the whole WAL into the database (no
// read is open, so a PASSIVE checkpoint copies every frame). Close stops
// it, twice without harm.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ckpt.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type result struct{ log, copied int }
	ran := make(chan result, 100)
	s.ckpt.mu.Lock()
	s.ckpt.ran = func(log, copied int) { ran <- result{log, copied} }
	s.ckpt.mu.Unlock()

	var auto int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != walBackstopPages {
		t.Fatalf("wal_autocheckpoint %d, want %d", auto, walBackstopPages)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	write := func(n int) {
		t.Helper()
		for i := range n {
			if err := s.inTx(ctx, "test", func(tx *Tx) error {
				_, err := tx.exec(ctx, `INSERT INTO t (x) VALUES (?)`, strings.Repeat("x", 5000+i))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// wait returns the next checkpoint's result (the deadline only guards
	// against a hang: a checkpointer that never runs).
	wait := func() result {
		t.Helper()
		select {
		case r := <-ran:
			return r
		case <-time.After(time.Minute):
			t.Fatal("no background checkpoint within a minute of the commits")
		}
		return result{}
	}
	// A burst of commits (ckptCommits and more), then one commit alone
	// (checkpointed ckptIdle later): each time the whole WAL ends up
	// copied. A checkpoint that starts while the burst is still committing
	// stops at the snapshot the committing transaction holds (PASSIVE: it
	// waits for nobody), so it may copy part of the WAL; the commits after
	// it start another, which copies the rest.
	for _, n := range []int{ckptCommits + 5, 1} {
		write(n)
		for {
			r := wait()
			if r.log < 0 {
				t.Fatalf("after %d commits: the background checkpoint failed", n)
			}
			if r.copied == r.log {
				break
			}
			t.Logf("after %d commits: a checkpoint during the commits copied %d of %d frames", n, r.copied, r.log)
		}
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != ckptCommits+6 {
		t.Fatalf("%d rows, want %d", rows, ckptCommits+6)
	}
	s.ckpt.close()
	s.ckpt.close()
}
