package store_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// mixedImport has a row of every kind an import batch meets, in two
// files applied as one batch (the parser refuses an email repeated within
// one file; a batch may still hold one). Before it, Xena holds Building
// and Yuri holds Home 101; "Gym only" provides no doorcodes.
var mixedImport = []string{"First Name,Last Name,Email,Phone,Keys,May Share,Access,Start,Expiration\n" +
	"Nia,New,nia@example.com,,Building,yes,,,2031-01-01\n" + // 2 created
	"Xena,Old,xena@example.com,,Building,,,,\n" + // 3 unchanged
	"Yuri,Old,yuri@example.com,555 0100,Building,,,,\n" + // 4 changed: phone, key
	"Ona,Nokeys,ona@example.com,,,,,,\n" + // 5 created, no welcome email
	"Dee,Code,dee@example.com,,,,doorcode,,\n" + // 6 created, doorcode-only without keys
	"Una,Known,una@example.com,,Nope,,,,\n" + // 7 refused: unknown key
	strings.Repeat("L", 101) + ",Long,lou@example.com,,,,,,\n" + // 8 refused by the parser: name too long
	"Pia,Phone,pia@example.com,call me,,,,,\n" + // 9 refused by the parser: phone
	"Gil,Gym,gil@example.com,,Gym only,,doorcode,,\n" + // 10 refused by the invite's rules: no doorcode
	"Bad,Date,bad@example.com,,,,,,someday\n" + // 11 refused by the parser: date
	"Fay,Future,fay@example.com,,Home 101,,,2030-01-01,\n" + // 12 created, starting later
	"Gus,Code,gus@example.com,,Home 101,,doorcode,,\n", // 13 created, doorcode-only with a code
	"First Name,Last Name,Email,Keys,Access\n" +
		"Nia,New,NIA@example.com,Home 101,\n" + // 14 changed: an email seen in the batch
		"Gil,Gym,gil@example.com,Gym only,app\n" + // 15 created: its earlier row was refused
		"Xenia,Other,xena@example.com,,app\n", // 16 unchanged, with a note
}

// TestImportBatchSameAsRowByRow applies the same file to two identical
// stores, once through the batch path and once row by row, and requires
// the same row results and the same rows in every table a row writes.
func TestImportBatchSameAsRowByRow(t *testing.T) {
	for _, be := range storetest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			apply := func(rowByRow bool) (string, store.ImportJob) {
				e := newEnv(t, be.Open(t))
				if _, err := e.st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}}); err != nil {
					t.Fatal(err)
				}
				e.invite("Xena", "Old", "xena@example.com")
				e.invite("Yuri", "Old", "yuri@example.com", withKeys(key(e.f.Home.ID, false)))
				e.clock.Add(time.Minute)
				defer store.SetImportRowByRow(rowByRow)()
				job := e.applyFile(mixedImport...)
				return e.snapshot(job.ID), job
			}
			bulk, job := apply(false)
			rowByRow, _ := apply(true)
			if got, want := fmt.Sprintf("%+v", job.Counts), "{Created:6 Changed:2 Unchanged:2 Refused:5}"; got != want {
				t.Errorf("counts %s, want %s", got, want)
			}
			if bulk != rowByRow {
				t.Errorf("the batch path and the row-by-row path differ:\n%s", lineDiff(rowByRow, bulk))
			}
			for _, want := range []string{
				"2 created  invited with Building nia@example.com",
				"3 unchanged  already up to date xena@example.com",
				"4 changed  changed phone; gave key Building yuri@example.com",
				"7 refused Keys no key named \"Nope\" at this property",
				"10 refused Keys none of these keys provides doorcodes",
				"14 changed  gave key Home 101 nia@example.com",
				"15 created  invited with Gym only gil@example.com",
				"16 unchanged  already up to date; name kept as Xena Old (the file has Xenia Other) xena@example.com",
			} {
				if !strings.Contains(bulk, "\nresult "+want) {
					t.Errorf("no row result %q in\n%s", want, bulk)
				}
			}
		})
	}
}

// applyFile applies CSV files, refused records included, as one import
// batch (the rows of each file numbered on from the previous one's) and
// returns the job.
func (e *env) applyFile(files ...string) store.ImportJob {
	e.t.Helper()
	items := e.importItems(files...)
	job, err := e.st.CreateImport(ctx, e.f.PM, e.prop(), "t.csv", []byte(files[0]), len(items), false)
	if err != nil {
		e.t.Fatal(err)
	}
	if c, err := e.st.ClaimImportByID(ctx, job.ID, "w"); err != nil || c == nil {
		e.t.Fatalf("claim: %v %v", c, err)
	}
	used, out, err := e.st.ApplyImportBatch(ctx, job.ID, "w", items, time.Hour)
	if err != nil || used != len(items) {
		e.t.Errorf("batch: used %d of %d: %v", used, len(items), err)
	}
	return out
}

// importItems parses CSV files into import items, refused records
// included, the rows of each file numbered on from the previous one's.
func (e *env) importItems(files ...string) []store.ImportItem {
	e.t.Helper()
	var items []store.ImportItem
	for _, file := range files {
		ir, err := csvio.NewImportReader(bytes.NewReader([]byte(file)), time.UTC)
		if err != nil {
			e.t.Fatal(err)
		}
		offset := 0
		if len(items) > 0 {
			offset = items[len(items)-1].Row - 1
		}
		for {
			row, errs, err := ir.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				e.t.Fatal(err)
			}
			it := store.ImportItem{Data: row, Errors: errs}
			if row != nil {
				row.Row += offset
				it.Row = row.Row
			} else {
				it.Row = errs[0].Row + offset
				for i := range errs {
					errs[i].Row = it.Row
				}
			}
			items = append(items, it)
		}
	}
	return items
}

// snapshot lists, as sorted lines with ids replaced by names, the job's
// row results and every row of the tables an import writes.
func (e *env) snapshot(jobID string) string {
	e.t.Helper()
	names := map[string]string{}
	var lines []string
	add := func(prefix, q string, args ...any) {
		rows, err := e.st.DB().QueryContext(ctx, e.sql(q), args...)
		if err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = v.String
			}
			if prefix == "" {
				names[parts[0]] = parts[1]
				continue
			}
			lines = append(lines, prefix+" "+strings.Join(parts, " "))
		}
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, q := range []string{`SELECT id, email FROM people`, `SELECT id, name FROM doors`, `SELECT id, name FROM access_keys`,
		`SELECT id, name FROM units`, `SELECT id, 'property' FROM properties`} {
		add("", q)
	}
	add("result", `SELECT row_num, outcome, column_name, reason, person_id FROM import_rows WHERE job_id = ?`, jobID)
	add("person", `SELECT email, first_name, last_name, phone, access, resident, unit_id, starts_at, expires_at, invited_by,
		revoked_at, created_at, updated_at, sort_name, first_lc, last_lc, welcomed_at FROM people`)
	add("grant", `SELECT person_id, key_id, may_share, starts_at, expires_at, granted_at FROM grants`)
	add("doorcode", `SELECT person_id, property_id, LENGTH(code), created_at FROM doorcodes`)
	add("event", `SELECT e.kind, e.actor_name, e.person_id, e.person_name, e.door_id, e.detail, e.at, e.received_at,
		(SELECT COUNT(*) FROM event_doors d WHERE d.event_id = e.id) FROM events e`)
	add("event-door", `SELECT e.kind, e.person_id, d.door_id FROM event_doors d JOIN events e ON e.id = d.event_id`)
	add("outbox", `SELECT topic, subject_id, payload, available_at FROM outbox`)
	add("door", `SELECT id, version FROM doors`)
	add("door-change", `SELECT door_id, version, at, reason, revocation FROM door_changes`)
	add("revocation", `SELECT door_id, person_id, at FROM door_revocations`)
	pairs := make([]string, 0, 2*len(names))
	for id, name := range names {
		pairs = append(pairs, id, name)
	}
	r := strings.NewReplacer(pairs...)
	for i, l := range lines {
		lines[i] = r.Replace(l)
	}
	sort.Strings(lines)
	// Doorcodes are drawn at random: their length is compared, not them.
	return "\n" + strings.Join(lines, "\n") + "\n"
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "- "+l)
		case n < 0:
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestImportBatchInvitedMeanwhile: a person invited by another
// transaction after the batch looked its emails up (possible on
// PostgreSQL, where writers do not queue) makes the bulk write fail on
// the unique email; the batch is redone row by row and the row becomes
// an edit of that person, every other row going in once.
func TestImportBatchInvitedMeanwhile(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		now := e.clock.Now().UnixMicro()
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, e.sql(`INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at,
			created_at, updated_at, sort_name, first_lc, last_lc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
			domain.NewID("per"), e.prop(), "Mia", "Meanwhile", "mia@example.com", "", "app", true, now, now, now, "meanwhile mia", "mia", "meanwhile"); err != nil {
			t.Fatal(err)
		}
		done := make(chan store.ImportJob)
		go func() {
			done <- e.applyFile("First Name,Last Name,Email\nAl,Before,al@example.com\nMia,Meanwhile,mia@example.com\nZed,After,zed@example.com\n")
		}()
		// On PostgreSQL, commit once the batch's bulk insert waits on Mia's
		// uncommitted email: it then fails and the batch is redone. On
		// SQLite the batch waits for the database instead and then finds
		// Mia when it looks the emails up.
		if st.Dialect() == store.Postgres {
			e.waitForInsertWait(10 * time.Second)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var job store.ImportJob
		select {
		case job = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("import batch did not finish")
		}
		if got, want := fmt.Sprintf("%+v", job.Counts), "{Created:2 Changed:0 Unchanged:1 Refused:0}"; got != want {
			t.Errorf("counts %s, want %s", got, want)
		}
		if n := e.count(`SELECT COUNT(*) FROM people WHERE email IN ('al@example.com', 'mia@example.com', 'zed@example.com')`); n != 3 {
			t.Errorf("%d people, want 3", n)
		}
		if n := e.count(`SELECT COUNT(*) FROM events WHERE kind = 'person.invited'`); n != 2 {
			t.Errorf("%d invite events, want 2 (Al and Zed)", n)
		}
	})
}

// waitForInsertWait returns once a PostgreSQL backend's INSERT INTO
// people waits for a lock, and fails the test after max.
func (e *env) waitForInsertWait(max time.Duration) {
	e.t.Helper()
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if e.count(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO people %'`) > 0 {
			return
		}
	}
	e.t.Fatal("the batch's insert never waited on the uncommitted person")
}

// TestImportBatchBudgetReadsOnlyItsRows: a batch whose time budget is
// spent at once reads the people of one lookup chunk (250 rows), not of
// every row it was handed — which, when a busy machine made each
// transaction take one row, read the rest of the batch again for every
// row — and takes the rows of that chunk that need no statement of their
// own (new people), up to the first that does (an edit). The rows left
// over go in the next transactions with the same outcome as in one batch.
func TestImportBatchBudgetReadsOnlyItsRows(t *testing.T) {
	for _, be := range storetest.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be.Open(t))
			const n, known = 700, 100
			// Row 2+100 edits someone who is already there (a new phone).
			e.invite("Kim", "Known", fmt.Sprintf("p%d@example.com", known))
			var file strings.Builder
			file.WriteString("First Name,Last Name,Email,Phone,Keys\n")
			for i := range n {
				first, last, phone := "P", fmt.Sprint(i), ""
				if i == known {
					first, last, phone = "Kim", "Known", "555 0100"
				}
				fmt.Fprintf(&file, "%s,%s,p%d@example.com,%s,Building\n", first, last, i, phone)
			}
			items := e.importItems(file.String())
			job, err := e.st.CreateImport(ctx, e.f.PM, e.prop(), "t.csv", []byte(file.String()), len(items), false)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := e.st.ClaimImportByID(ctx, job.ID, "w"); err != nil || c == nil {
				t.Fatalf("claim: %v %v", c, err)
			}
			// Budget spent: rows 0–99 (new people; the edit stops it), then
			// the edit and the new people after it in its chunk (100–349),
			// then 350–599.
			for _, want := range []int{100, 250, 250} {
				before := store.ImportLookups()
				used, _, err := e.st.ApplyImportBatch(ctx, job.ID, "w", items, time.Nanosecond)
				if err != nil || used != want {
					t.Fatalf("spent budget: used %d rows (%v), want %d", used, err, want)
				}
				if looked := store.ImportLookups() - before; looked != 250 {
					t.Errorf("a transaction with a spent budget looked up %d emails of the %d rows handed to it, want 250", looked, len(items))
				}
				items = items[used:]
			}
			before := store.ImportLookups()
			used, out, err := e.st.ApplyImportBatch(ctx, job.ID, "w", items, time.Hour)
			if err != nil || used != len(items) || used != 100 {
				t.Fatalf("rest: used %d of %d: %v", used, len(items), err)
			}
			if looked := store.ImportLookups() - before; looked != int64(len(items)) {
				t.Errorf("the rest looked up %d emails, want each of the %d rows' once", looked, len(items))
			}
			if got, want := fmt.Sprintf("%+v", out.Counts), fmt.Sprintf("{Created:%d Changed:1 Unchanged:0 Refused:0}", n-1); got != want {
				t.Errorf("counts %s, want %s", got, want)
			}
			rs, _, err := e.st.ImportRows(ctx, e.f.PM, e.prop(), job.ID, store.OutcomeChanged, "", 10)
			if err != nil || len(rs) != 1 || rs[0].Row != known+2 || rs[0].Email != fmt.Sprintf("p%d@example.com", known) {
				t.Errorf("changed rows %+v %v, want row %d", rs, err, known+2)
			}
			var people, grants int
			q := fmt.Sprintf(`SELECT COUNT(*), COUNT(g.key_id) FROM people p LEFT JOIN grants g ON g.person_id = p.id WHERE p.property_id = '%s' AND p.email LIKE 'p%%@example.com'`, e.prop())
			if err := e.st.DB().QueryRow(q).Scan(&people, &grants); err != nil || people != n || grants != n {
				t.Errorf("%d people, %d grants from the file (%v), want %d each", people, grants, err, n)
			}
		})
	}
}

// TestAnalyzeDue: an import's statistics are refreshed by the batch that
// takes its created count across 1,000, 4,000, 16,000 …, once per batch
// whatever it crosses, and by no other.
func TestAnalyzeDue(t *testing.T) {
	for _, c := range []struct {
		before, after int
		want          bool
	}{
		{0, 0, false}, {0, 999, false}, {0, 1000, true}, {999, 1000, true}, {1000, 1000, false},
		{1000, 3999, false}, {3999, 4000, true}, {500, 20000, true}, {4000, 15999, false},
		{15999, 16000, true}, {16000, 63999, false}, {63999, 64000, true},
	} {
		if got := store.AnalyzeDue(c.before, c.after); got != c.want {
			t.Errorf("analyzeDue(%d, %d) = %v, want %v", c.before, c.after, got, c.want)
		}
	}
}

// TestImportAnalyzesPostgres: PostgreSQL's planner statistics of
// `people` count an import's people once it has created 1,000 or more —
// refreshed by the batch that crosses 1,000 (and 4,000, …: analyzeDue),
// not by the others, and at the end — so the planner does not go on
// believing the table nearly empty and scan it for every batch's email
// lookup and every invite's email check; a smaller import leaves them.
// Autovacuum is off on the test's table, so only the import analyzes it.
func TestImportAnalyzesPostgres(t *testing.T) {
	if os.Getenv("DOOROS_TEST_POSTGRES_URL") == "" {
		t.Skip("DOOROS_TEST_POSTGRES_URL not set: PostgreSQL only (CI sets it)")
	}
	file := func(n int) string {
		var b strings.Builder
		b.WriteString("First Name,Last Name,Email\n")
		for i := range n {
			fmt.Fprintf(&b, "P,%d,p%d@example.com\n", i, i)
		}
		return b.String()
	}
	setUp := func(t *testing.T) *env {
		e := newEnv(t, storetest.OpenPostgres(t))
		if _, err := e.st.DB().Exec(`ALTER TABLE people SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tuples := func(t *testing.T, e *env) float64 {
		t.Helper()
		var r float64
		if err := e.st.DB().QueryRow(`SELECT reltuples FROM pg_class WHERE oid = 'people'::regclass`).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("999", func(t *testing.T) {
		e := setUp(t)
		job := e.applyFile(file(999))
		if out, err := e.st.FinishImport(ctx, job.ID, "w", ""); err != nil || out.Counts.Created != 999 {
			t.Fatalf("finish: %+v %v", out.Counts, err)
		}
		if r := tuples(t, e); r >= 999 {
			t.Errorf("a 999-row import analyzed the table (%v people counted)", r)
		}
	})
	t.Run("batches", func(t *testing.T) {
		e := setUp(t)
		const n = 4300
		items := e.importItems(file(n))
		job, err := e.st.CreateImport(ctx, e.f.PM, e.prop(), "t.csv", []byte(file(n)), len(items), false)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := e.st.ClaimImportByID(ctx, job.ID, "w"); err != nil || c == nil {
			t.Fatalf("claim: %v %v", c, err)
		}
		// Batches of 600, 600, 1000, 2000 and 100 rows: the 2nd crosses
		// 1,000 people, the 4th 4,000.
		from := 0
		for i, size := range []int{600, 600, 1000, 2000, 100} {
			used, out, err := e.st.ApplyImportBatch(ctx, job.ID, "w", items[from:from+size], time.Hour)
			if err != nil || used != size || out.Counts.Created != from+size {
				t.Fatalf("batch %d: used %d of %d, %d created: %v", i, used, size, out.Counts.Created, err)
			}
			from += size
			want := map[int]float64{1: 1200, 2: 1200, 3: 4200, 4: 4200}[i]
			if r := tuples(t, e); (i == 0 && r >= 600) || (i > 0 && r != want) {
				t.Errorf("after batch %d (%d people): statistics count %v, want %v", i, from, r, want)
			}
		}
		if out, err := e.st.FinishImport(ctx, job.ID, "w", ""); err != nil || out.Counts.Created != n {
			t.Fatalf("finish: %+v %v", out.Counts, err)
		}
		if r := tuples(t, e); r != n {
			t.Errorf("after the import the statistics count %v people, want %d", r, n)
		}
	})
}
