package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPeopleByteOrder: the People tab sorts and prefix-searches in byte
// order (its cursors and search ranges assume it), also on a PostgreSQL
// database created with a language collation, where names with
// punctuation would otherwise interleave ("O'Brien", "O-Neil", "Obrien")
// and a search for "o'" would match "Obrien".
func TestPeopleByteOrder(t *testing.T) {
	check := func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var want []string // sort names in byte order
		byName := map[string]string{}
		for _, p := range []struct{ last, email string }{
			{"Obrien", "obrien@example.com"}, {"O'Brien", "o.brien@example.com"}, {"O-Neil", "o-neil@example.com"},
			{"Oconnor", "oconnor@example.com"}, {"O_Hara", "o_hara@example.com"}, {"Öberg", "oeberg@example.com"},
		} {
			v := e.invite("Ann", p.last, p.email)
			name := strings.ToLower(p.last + " ann")
			want = append(want, name)
			byName[name] = v.ID
		}
		slices.Sort(want)
		var wantIDs []string
		for _, n := range want {
			wantIDs = append(wantIDs, byName[n])
		}
		for _, limit := range []int{0, 2} { // one page, and pages of two (cursors)
			if got := ids(e.people(domain.PeopleFilter{Limit: limit})); !slices.Equal(got, wantIDs) {
				t.Errorf("People (page size %d) in order %v, want byte order %v (%v)", limit, got, wantIDs, want)
			}
		}
		for _, tc := range []struct{ q, want string }{
			{"o'", "o'brien ann"}, {"o-", "o-neil ann"}, {"o_", "o_hara ann"}, {"o.b", "o'brien ann"}, {"ob", "obrien ann"},
		} {
			got := ids(e.people(domain.PeopleFilter{Query: tc.q}))
			if !slices.Equal(got, []string{byName[tc.want]}) {
				t.Errorf("search %q found %v, want only %s (%s)", tc.q, got, tc.want, byName[tc.want])
			}
		}
	}
	storetest.Run(t, check)
	t.Run("postgres-language-collation", func(t *testing.T) {
		st, db := openLanguageCollationDB(t)
		rows, err := db.Query(`SELECT column_name, COALESCE(collation_name, '') FROM information_schema.columns
			WHERE table_name = 'people' AND column_name IN ('sort_name', 'email', 'first_lc', 'last_lc') ORDER BY column_name`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var col, coll string
			if err := rows.Scan(&col, &coll); err != nil {
				t.Fatal(err)
			}
			n++
			if coll != "C" {
				t.Errorf("people.%s has collation %q, want C", col, coll)
			}
		}
		rows.Close()
		if n != 4 {
			t.Errorf("%d of the 4 People columns found", n)
		}
		check(t, st)
	})
}

// openLanguageCollationDB creates a PostgreSQL database whose default
// collation is a language's (en_US.UTF-8 when the system has it, else
// ICU en-US), migrates a store on it, and drops it afterwards.
func openLanguageCollationDB(t *testing.T) (*store.Store, *sql.DB) {
	base := os.Getenv("DOOROS_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("DOOROS_TEST_POSTGRES_URL not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "dooros_coll_" + strings.ToLower(strings.TrimPrefix(domain.NewID("d"), "d_"))
	created := false
	for _, how := range []string{
		`LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'`,
		`LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
	} {
		if _, err := admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE template0 ENCODING 'UTF8' ` + how); err == nil {
			created = true
			t.Logf("database with %s", how)
			break
		} else {
			t.Logf("no database with %s: %v", how, err)
		}
	}
	if !created {
		t.Skip("this PostgreSQL has neither the en_US.UTF-8 locale nor ICU")
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	st, err := store.Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, st.DB()
}
