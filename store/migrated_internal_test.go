package store

import (
	"context"
	"path/filepath"
	"testing"
)

// migratedSQLite opens a fresh, migrated SQLite store for an internal
// test; it is closed when the test ends.
func migratedSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
