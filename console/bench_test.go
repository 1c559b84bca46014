package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// seedPeople inserts n people straight into the people table (the use
// case would take minutes for 100,000) plus one key each for the first
// page's worth, so the page also renders keys.
func seedPeople(b *testing.B, st *store.Store, f storetest.Fixture, n int) {
	b.Helper()
	ctx := context.Background()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	q := `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES (?,?,?,?,?,'','app',TRUE,?,?,?,?,?,?)`
	g := `INSERT INTO grants (person_id, key_id, may_share, granted_at) VALUES (?,?,FALSE,?)`
	if st.Dialect() == store.Postgres {
		q = `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES ($1,$2,$3,$4,$5,'','app',TRUE,$6,$7,$8,$9,$10,$11)`
		g = `INSERT INTO grants (person_id, key_id, may_share, granted_at) VALUES ($1,$2,FALSE,$3)`
	}
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	gstmt, err := tx.PrepareContext(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	lasts := []string{"Garcia", "Smith", "Nguyen", "Okafor", "Müller", "Rossi", "Kim", "Novak", "Silva", "Haddad"}
	now := time.Now().UnixMicro()
	for i := 0; i < n; i++ {
		first, last := fmt.Sprintf("Person%06d", i), lasts[i%len(lasts)]
		id := fmt.Sprintf("per_bench%07d", i)
		if _, err := stmt.ExecContext(ctx, id, f.Property.ID, first, last, fmt.Sprintf("p%06d@example.com", i), now, now, now,
			fmt.Sprintf("%s %s", lowerASCII(last), lowerASCII(first)), lowerASCII(first), lowerASCII(last)); err != nil {
			b.Fatal(err)
		}
		if _, err := gstmt.ExecContext(ctx, id, f.Building.ID, now); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// Autovacuum would analyze a table grown this much; do it now so the
	// planner sees 100,000 rows rather than an empty table.
	analyze := "ANALYZE"
	if _, err := st.DB().ExecContext(ctx, analyze); err != nil {
		b.Fatal(err)
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// BenchmarkPeoplePage renders the People tab over HTTP (session check,
// store query, template) at 100,000 people: the first page, a search, and
// a page deep in the list reached by cursor.
func BenchmarkPeoplePage(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend.Name, func(b *testing.B) {
			st := backend.Open(b)
			e := newEnv(b, st)
			const n = 100_000
			start := time.Now()
			seedPeople(b, st, e.f, n)
			b.Logf("seeded %d people in %v", n, time.Since(start).Round(time.Millisecond))
			c := e.login(storetest.PMEmail)
			// A cursor about half-way down the list.
			_, next, err := st.ListPeople(context.Background(), e.f.PM, e.f.Property.ID, domain.PeopleFilter{Query: "novak", Limit: 200})
			if err != nil || next == "" {
				b.Fatalf("cursor: %q %v", next, err)
			}
			pages := []struct{ name, path string }{
				{"first", e.p("people")},
				{"search", e.p("people") + "?q=okafor"},
				{"search_email", e.p("people") + "?q=p0500"},
				{"deep_cursor", e.p("people") + "?cursor=" + url.QueryEscape(next)},
				{"show_expired", e.p("people") + "?expired=1"},
			}
			for _, pg := range pages {
				b.Run(pg.name, func(b *testing.B) {
					var bytes int
					for b.Loop() {
						r := c.get(pg.path)
						if r.Status != http.StatusOK {
							b.Fatalf("status %d", r.Status)
						}
						bytes = len(r.Body)
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
					b.ReportMetric(float64(bytes), "bytes/page")
				})
			}
		})
	}
}
