package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dooros/dooros/store/internal/pgschema"
)

// migratedSQLite opens a fresh, migrated SQLite store for an internal
// test; it is closed when the test ends.
func migratedSQLite(t *testing.T) *Store {
	t.Helper()
	return migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
}

// migratedPostgres is a migrated store in a fresh schema of the database
// named by DOOROS_TEST_POSTGRES_URL (skipped without it), dropped
// afterwards: storetest.OpenPostgres, which an internal test cannot
// import.
func migratedPostgres(t *testing.T) *Store {
	t.Helper()
	return migrated(t, pgschema.URL(t))
}

func migrated(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
