package store

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
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

// migratedPostgres is a migrated store in a fresh schema of the database
// named by DOOROS_TEST_POSTGRES_URL (skipped without it), dropped
// afterwards (storetest.OpenPostgres, which an internal test cannot
// import).
func migratedPostgres(t *testing.T) *Store {
	t.Helper()
	base := os.Getenv("DOOROS_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("DOOROS_TEST_POSTGRES_URL not set (CI sets it)")
	}
	schema := "t_" + strings.TrimPrefix(domain.NewID("s"), "s_")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("postgres at DOOROS_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
