// Package pgschema gives a test a fresh PostgreSQL schema. It is shared by
// storetest and the store's own internal tests, which cannot import
// storetest (it imports store).
package pgschema

import (
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/dooros/dooros/domain"
)

// URL makes a fresh schema in the database named by
// DOOROS_TEST_POSTGRES_URL (or skips the test), drops it afterwards, and
// returns a URL whose connections use it.
func URL(t testing.TB) string {
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
	return u.String()
}
