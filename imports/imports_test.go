package imports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// residentsFile is a CSV of n new residents holding key, emails
// prefix-0@example.com….
func residentsFile(n int, prefix, key string) []byte {
	var b bytes.Buffer
	b.WriteString("First Name,Last Name,Email,Keys,Resident\n")
	for i := range n {
		fmt.Fprintf(&b, "Res%d,Ident,%s-%d@example.com,%s,yes\n", i, prefix, i, key)
	}
	return b.Bytes()
}

func count(t *testing.T, st *store.Store, q string) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkOnce checks that every row of the job was applied exactly once.
func checkOnce(t *testing.T, st *store.Store, jobID, prefix string, n int) {
	t.Helper()
	if got := count(t, st, `SELECT COUNT(*) FROM import_rows WHERE job_id = '`+jobID+`'`); got != n {
		t.Errorf("%d row results, want %d", got, n)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM (SELECT row_num FROM import_rows WHERE job_id = '`+jobID+`' GROUP BY row_num HAVING COUNT(*) > 1) d`); got != 0 {
		t.Errorf("%d rows have several results", got)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM import_contents WHERE job_id = '`+jobID+`'`); got != 0 {
		t.Errorf("the finished job's file is still stored")
	}
	if got := count(t, st, `SELECT COUNT(*) FROM import_rows WHERE job_id = '`+jobID+`' AND outcome = 'created'`); got != n {
		t.Errorf("%d rows created, want %d", got, n)
	}
	like := `'` + prefix + `-%'`
	if got := count(t, st, `SELECT COUNT(*) FROM people WHERE email LIKE `+like); got != n {
		t.Errorf("%d people, want %d", got, n)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM events WHERE kind = 'person.invited' AND person_id IN (SELECT id FROM people WHERE email LIKE `+like+`)`); got != n {
		t.Errorf("%d invite events, want %d", got, n)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM outbox WHERE topic = 'email.welcome' AND subject_id IN (SELECT id FROM people WHERE email LIKE `+like+`)`); got != n {
		t.Errorf("%d welcome emails, want %d", got, n)
	}
}

// items parses a file as the runner does.
func items(t *testing.T, file []byte) []store.ImportItem {
	t.Helper()
	ir, err := csvio.NewImportReader(bytes.NewReader(file), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.ImportItem
	for {
		row, errs, err := ir.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.ImportItem{Row: row.Row, Data: row, Errors: errs})
	}
}

func TestImportResume(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		const n = 23

		t.Run("CrashedWorkerResumedByAnother", func(t *testing.T) {
			file := residentsFile(n, "crash", "Building")
			job, err := imports.Submit(ctx, st, f.PM, f.Property.ID, "crash.csv", file, false)
			if err != nil {
				t.Fatal(err)
			}
			// Worker A claims the job, commits one batch of 5 rows and dies.
			claimed, err := st.ClaimImport(ctx, "worker-a")
			if err != nil || claimed == nil || claimed.ID != job.ID {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			all := items(t, file)
			used, after, err := st.ApplyImportBatch(ctx, job.ID, "worker-a", all[:5], time.Hour)
			if err != nil || used != 5 || after.ProcessedRows != 5 {
				t.Fatalf("first batch: used %d, %+v, %v", used, after, err)
			}
			b := &imports.Runner{Store: st, WorkerID: "worker-b", BatchRows: 4, Pause: -1}
			if did, err := b.RunOnce(ctx); did || err != nil {
				t.Fatalf("worker B took a job whose lease is still held: %v %v", did, err)
			}
			now := st.Now()
			st.Now = func() time.Time { return now.Add(store.ImportLease + time.Second) }
			defer func() { st.Now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) } }()
			if did, err := b.RunOnce(ctx); !did || err != nil {
				t.Fatalf("worker B did not resume the job: %v %v", did, err)
			}
			done, err := st.Import(ctx, f.PM, f.Property.ID, job.ID)
			if err != nil || done.Status != store.ImportDone || done.ProcessedRows != n || done.Counts.Created != n {
				t.Fatalf("job after resume: %+v %v", done, err)
			}
			checkOnce(t, st, job.ID, "crash", n)

			// Worker A wakes up and tries its next batch: refused, nothing written.
			before := count(t, st, `SELECT COUNT(*) FROM events`)
			if _, _, err := st.ApplyImportBatch(ctx, job.ID, "worker-a", all[5:10], time.Hour); !errors.Is(err, store.ErrLostLease) {
				t.Errorf("stale worker: %v, want ErrLostLease", err)
			}
			if after := count(t, st, `SELECT COUNT(*) FROM events`); after != before {
				t.Errorf("stale worker wrote %d events", after-before)
			}
		})

		t.Run("StoppedWorkerHandsOver", func(t *testing.T) {
			file := residentsFile(n, "stop", "Building")
			job, err := imports.Submit(ctx, st, f.PM, f.Property.ID, "stop.csv", file, false)
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			batches := 0
			c := &imports.Runner{Store: st, WorkerID: "worker-c", BatchRows: 6, Pause: -1, Progress: func(j store.ImportJob) {
				if batches++; batches == 2 {
					cancel() // "dooros serve" stopped mid-job
				}
			}}
			if did, err := c.RunOnce(cctx); !did || !errors.Is(err, context.Canceled) {
				t.Fatalf("worker C: %v %v", did, err)
			}
			mid, _ := st.Import(ctx, f.PM, f.Property.ID, job.ID)
			if mid.Status != store.ImportRunning || mid.ProcessedRows != 12 {
				t.Fatalf("after stop: %s with %d rows, want running with 12", mid.Status, mid.ProcessedRows)
			}
			d := &imports.Runner{Store: st, WorkerID: "worker-d", Pause: -1}
			if did, err := d.RunOnce(ctx); !did || err != nil {
				t.Fatalf("worker D did not take over at once: %v %v", did, err)
			}
			checkOnce(t, st, job.ID, "stop", n)
		})
	})
}

func TestImportRefusesWholeJobWhenManagerGone(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		job, err := imports.Submit(ctx, st, f.PM, f.Property.ID, "x.csv", residentsFile(3, "gone", "Building"), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().Exec(`UPDATE import_jobs SET actor_id = 'mgr_gone' WHERE id = '` + job.ID + `'`); err != nil {
			t.Fatal(err)
		}
		r := &imports.Runner{Store: st, Pause: -1}
		if did, err := r.RunOnce(ctx); !did || err != nil {
			t.Fatalf("run: %v %v", did, err)
		}
		j, _ := st.Import(ctx, f.PM, f.Property.ID, job.ID)
		if j.Status != store.ImportFailed || !strings.Contains(j.Error, "no longer exists") {
			t.Errorf("job %s (%q), want failed because the manager is gone", j.Status, j.Error)
		}
		if got := count(t, st, `SELECT COUNT(*) FROM people WHERE email LIKE 'gone-%'`); got != 0 {
			t.Errorf("%d people imported for a manager who is gone", got)
		}
	})
}
