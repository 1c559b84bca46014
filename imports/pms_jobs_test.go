package imports_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/pms"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// genericRoster is a generic JSON roster of n current residents
// prefix-0@example.com…, plus the extra residents given.
func genericRoster(n int, prefix string, extra ...map[string]string) []byte {
	rs := make([]map[string]string, 0, n+len(extra))
	leaseEnd := fmt.Sprintf("%d-12-31", storetest.YearsAhead(5)) // years ahead, whenever the tests run
	for i := range n {
		rs = append(rs, map[string]string{"external_id": fmt.Sprintf("%s-%d", prefix, i), "first_name": fmt.Sprintf("Res%d", i), "last_name": "Roster",
			"email": fmt.Sprintf("%s-%d@example.com", prefix, i), "lease_end": leaseEnd, "status": "current"})
	}
	b, _ := json.Marshal(map[string]any{"residents": append(rs, extra...)})
	return b
}

// pmsSetUp turns automatic PMS sync on for the fixture's property, giving
// Building.
func pmsSetUp(t testing.TB, st *store.Store, f storetest.Fixture, skip ...string) {
	t.Helper()
	if _, err := st.PutPMSSettings(context.Background(), f.PM, f.Property.ID, store.PMSSettingsInput{Provider: "generic", Access: pms.Automatic,
		Keys: []string{f.Building.ID}, SkipStatuses: skip}); err != nil {
		t.Fatal(err)
	}
}

// checkSyncedOnce checks that a sync of n new residents prefix-… plus the
// linked ones applied every step exactly once: one person per email, one
// Building grant each, one invite event and one welcome email per new
// person, one item per step, one Activity entry for the run.
func checkSyncedOnce(t *testing.T, st *store.Store, f storetest.Fixture, runID, prefix string, n, linked int) store.PMSRun {
	t.Helper()
	run, err := st.PMSRun(context.Background(), f.PM, f.Property.ID, runID)
	if err != nil {
		t.Fatal(err)
	}
	sm := run.Summary
	if run.Status != store.ImportDone || run.StepsDone != run.Steps || sm.Created != n || sm.Granted != n+linked || sm.Linked != linked || sm.Failed != 0 {
		t.Errorf("run %s: %d/%d steps, %+v; want done with %d created, %d granted, %d linked", run.Status, run.StepsDone, run.Steps, sm, n, n+linked, linked)
	}
	if len(run.Items) != run.Steps {
		t.Errorf("%d items for %d steps", len(run.Items), run.Steps)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM pms_run_plans WHERE run_id = '`+runID+`'`); got != 0 {
		t.Errorf("the finished run's plan is still stored")
	}
	like := `'` + prefix + `-%'`
	if got := count(t, st, `SELECT COUNT(*) FROM people WHERE email LIKE `+like); got != n+linked {
		t.Errorf("%d people, want %d", got, n+linked)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM (SELECT email FROM people WHERE email LIKE `+like+` GROUP BY email HAVING COUNT(*) > 1) d`); got != 0 {
		t.Errorf("%d emails belong to several people", got)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM grants WHERE key_id = '`+f.Building.ID+`' AND person_id IN (SELECT id FROM people WHERE email LIKE `+like+`)`); got != n+linked {
		t.Errorf("%d Building grants, want %d (one each)", got, n+linked)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM events WHERE kind = 'person.invited' AND person_id IN (SELECT id FROM people WHERE email LIKE `+like+`)`); got != n+linked {
		t.Errorf("%d invite events, want %d (one per person)", got, n+linked)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM outbox WHERE topic = 'email.welcome' AND subject_id IN (SELECT id FROM people WHERE email LIKE `+like+`)`); got != n+linked {
		t.Errorf("%d welcome emails, want %d", got, n+linked)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM events WHERE kind = 'pms.synced'`); got < 1 {
		t.Errorf("no pms.synced Activity entry")
	}
	return run
}

// TestPMSSyncResumesAfterRestart is the fault injection of issue 12 item
// 3: a sync whose worker dies (no hand-back) or is stopped mid-run is
// finished by another worker with every resident applied once.
func TestPMSSyncResumesAfterRestart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		pmsSetUp(t, st, f)
		syncer := imports.NewSyncer(st, nil, "")

		t.Run("KilledWorker", func(t *testing.T) {
			const n, linked = 60, 5
			// People already in People with the roster's name and email
			// are linked and given the policy keys.
			var extra []map[string]string
			for i := range linked {
				email := fmt.Sprintf("kill-l%d@example.com", i)
				if _, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Link", LastName: fmt.Sprint(i), Email: email, Access: domain.AccessApp}); err != nil {
					t.Fatal(err)
				}
				extra = append(extra, map[string]string{"external_id": fmt.Sprintf("kl-%d", i), "first_name": "Link", "last_name": fmt.Sprint(i), "email": email, "status": "current"})
			}
			res, err := syncer.Roster(ctx, f.PM, f.Property.ID, "generic", "api", genericRoster(n, "kill", extra...), false)
			if err != nil || res.Run == nil || res.Run.Status != store.ImportQueued {
				t.Fatalf("roster: %+v %v", res.Run, err)
			}
			// Worker A plans, commits two batches of 10 steps and dies
			// (kill -9: it neither hands the run back nor finishes it).
			batches := 0
			a := &imports.Runner{Store: st, WorkerID: "worker-a", PMSBatchSteps: 10, BatchTime: time.Hour, Pause: -1, PMSProgress: func(store.PMSRun) {
				if batches++; batches == 2 {
					runtime.Goexit()
				}
			}}
			done := make(chan struct{})
			go func() { defer close(done); a.RunOnce(ctx) }()
			<-done
			mid, err := st.PMSRun(ctx, f.PM, f.Property.ID, res.Run.ID)
			// 5 links, then create+grant pairs: a batch of 10 ends after
			// a pair, so the two batches hold 5+2+2 and 2×5 steps.
			if err != nil || mid.Status != store.ImportRunning || mid.StepsDone != 21 || mid.Steps != 2*n+2*linked {
				t.Fatalf("after the crash: %s, %d of %d steps (%v); want running, 21 of %d", mid.Status, mid.StepsDone, mid.Steps, err, 2*n+2*linked)
			}
			if sm := mid.Summary; sm.Created != 8 || sm.Granted != 8 || sm.Linked != 5 || len(mid.Items) != 21 {
				t.Errorf("after the crash the counts say %+v with %d items; want the 21 committed steps", mid.Summary, len(mid.Items))
			}
			// Each new resident's grant is in the batch of their create:
			// nobody committed is left without a key.
			if got := count(t, st, `SELECT COUNT(*) FROM people WHERE email LIKE 'kill-%' AND email NOT LIKE 'kill-l%' AND id NOT IN (SELECT person_id FROM grants)`); got != 0 {
				t.Errorf("%d people without a key after the crash", got)
			}
			b := &imports.Runner{Store: st, WorkerID: "worker-b", PMSBatchSteps: 7, Pause: -1}
			if did, err := b.RunOnce(ctx); did || err != nil {
				t.Fatalf("worker B took a run whose lease is still held: %v %v", did, err)
			}
			now := st.Now()
			st.Now = func() time.Time { return now.Add(store.PMSLease + time.Second) }
			defer func() { st.Now = func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) } }()
			if did, err := b.RunOnce(ctx); !did || err != nil {
				t.Fatalf("worker B did not resume the run: %v %v", did, err)
			}
			checkSyncedOnce(t, st, f, res.Run.ID, "kill", n, linked)

			// The same roster again changes nothing.
			again, err := syncer.SyncNow(ctx, f.PM, f.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			r2, _ := st.PMSRun(ctx, f.PM, f.Property.ID, again.ID)
			if sm := r2.Summary; r2.Status != store.ImportDone || sm.Created+sm.Granted+sm.Linked+sm.Updated+sm.Revoked+sm.Failed != 0 {
				t.Errorf("second sync of the same roster: %s %+v, want done and no change", r2.Status, sm)
			}
		})

		t.Run("StoppedWorkerHandsOver", func(t *testing.T) {
			const n = 40
			res, err := syncer.Roster(ctx, f.PM, f.Property.ID, "generic", "api", genericRoster(n, "stop"), false)
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			batches := 0
			c := &imports.Runner{Store: st, WorkerID: "worker-c", PMSBatchSteps: 10, BatchTime: time.Hour, Pause: -1, PMSProgress: func(store.PMSRun) {
				if batches++; batches == 3 {
					cancel() // "dooros serve" stopped mid-run
				}
			}}
			if did, err := c.RunOnce(cctx); !did || !errors.Is(err, context.Canceled) {
				t.Fatalf("worker C: %v %v", did, err)
			}
			mid, _ := st.PMSRun(ctx, f.PM, f.Property.ID, res.Run.ID)
			if mid.Status != store.ImportRunning || mid.StepsDone != 30 {
				t.Fatalf("after stop: %s with %d steps, want running with 30", mid.Status, mid.StepsDone)
			}
			d := &imports.Runner{Store: st, WorkerID: "worker-d", Pause: -1}
			if did, err := d.RunOnce(ctx); !did || err != nil {
				t.Fatalf("worker D did not take over at once: %v %v", did, err)
			}
			checkSyncedOnce(t, st, f, res.Run.ID, "stop", n, 0)
		})

		t.Run("OneRunPerPropertyAtATime", func(t *testing.T) {
			first, err := syncer.Roster(ctx, f.PM, f.Property.ID, "generic", "api", genericRoster(5, "queue"), false)
			if err != nil {
				t.Fatal(err)
			}
			again, err := syncer.SyncNow(ctx, f.PM, f.Property.ID)
			if err != nil || again.ID != first.Run.ID {
				t.Fatalf("Sync Now while a run is queued: %s, want the queued run %s (%v)", again.ID, first.Run.ID, err)
			}
			claimed, err := st.ClaimPMSRun(ctx, "worker-e")
			if err != nil || claimed == nil || claimed.ID != first.Run.ID {
				t.Fatalf("claim: %+v %v", claimed, err)
			}
			second, err := syncer.SyncNow(ctx, f.PM, f.Property.ID)
			if err != nil || second.ID == first.Run.ID || second.Status != store.ImportQueued {
				t.Fatalf("Sync Now while a run is running: %+v %v, want a new queued run", second, err)
			}
			if other, err := st.ClaimPMSRun(ctx, "worker-f"); err != nil || other != nil {
				t.Fatalf("a second run of the property was claimed while the first runs: %+v %v", other, err)
			}
			if err := st.ReleasePMSRun(ctx, first.Run.ID, "worker-e"); err != nil {
				t.Fatal(err)
			}
			if err := (&imports.Runner{Store: st, Pause: -1}).Drain(ctx); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{first.Run.ID, second.ID} {
				if r, _ := st.PMSRun(ctx, f.PM, f.Property.ID, id); r.Status != store.ImportDone {
					t.Errorf("run %s: %s, want done", id, r.Status)
				}
			}
		})
	})
}

// TestPMSSyncUnderConcurrentWriters is the fault injection of issue 12
// item 4 on SQLite: while a large sync runs, the email outbox worker, a CSV
// import, API writes and a second process on the same database file all
// write. Nobody may fail on lock contention.
func TestPMSSyncUnderConcurrentWriters(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	st, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// A second process on the same file (a `dooros import` beside `dooros
	// serve`): its own pool and writer slot, so the two meet in SQLite's
	// lock, not in a queue.
	other, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f := storetest.Seed(t, st)
	pmsSetUp(t, st, f)
	res, err := imports.NewSyncer(st, nil, "").Roster(ctx, f.PM, f.Property.ID, "generic", "api", genericRoster(n, "big"), false)
	if err != nil {
		t.Fatal(err)
	}
	job, err := imports.Submit(ctx, st, f.PM, f.Property.ID, "side.csv", residentsFile(300, "csv", "Building"), false)
	if err != nil {
		t.Fatal(err)
	}
	box, err := mail.OpenMailbox(t.TempDir(), "DOOR OS <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(who string, err error) {
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s: %w", who, err))
		mu.Unlock()
	}
	syncDone := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	for _, w := range []string{"runner-1", "runner-2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &imports.Runner{Store: st, WorkerID: w, Pause: -1, PMSProgress: func(store.PMSRun) { once.Do(func() { close(started) }) }}
			if err := r.Drain(ctx); err != nil {
				fail(w, err)
			}
		}()
	}
	if !testing.Short() {
		// Mid-sync, another process holds SQLite's write lock for longer
		// than busy_timeout (10 s), as a backup or a big transaction of
		// another program would: every writer here waits it out.
		writers := &wg
		writers.Add(1)
		go func() {
			defer writers.Done()
			<-started
			db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(10000)")
			if err != nil {
				fail("lock holder", err)
				return
			}
			defer db.Close()
			// Taking the lock can itself wait out busy_timeout while the
			// writers below keep it busy (SQLite's busy handler is not
			// fair; seen under the race detector in CI): try again, as
			// the other program would.
			var tx *sql.Tx
			for try := 1; ; try++ {
				if tx, err = db.BeginTx(ctx, nil); err == nil {
					break
				}
				if try == 6 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
					fail("lock holder", err)
					return
				}
			}
			if _, err := tx.Exec(`UPDATE properties SET name = name`); err != nil {
				fail("lock holder", err)
			}
			time.Sleep(11 * time.Second)
			if err := tx.Commit(); err != nil {
				fail("lock holder", err)
			}
		}()
	}
	go func() { wg.Wait(); close(syncDone) }()
	var writers sync.WaitGroup
	writers.Add(1)
	go func() { // the email worker, sending welcome emails as they come
		defer writers.Done()
		w := &notify.Worker{Store: st, Sender: box, Keys: storetest.Keyring(t, st)}
		for {
			if _, err := w.RunOnce(ctx); err != nil {
				fail("email worker", err)
			}
			select {
			case <-syncDone:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	for g, s := range map[string]*store.Store{"api": st, "other process": other} {
		writers.Add(1)
		go func() { // manager writes: invites and key changes
			defer writers.Done()
			for i := 0; ; i++ {
				p, err := s.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Walk", LastName: "In", Email: fmt.Sprintf("walk-%s-%d@example.com", g[:3], i),
					Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: f.Home.ID}}})
				if err != nil {
					fail(g+" invite", err)
					return
				}
				if _, err := s.GiveKey(ctx, f.PM, f.Property.ID, p.ID, f.Building.ID, domain.GrantChange{}); err != nil {
					fail(g+" give key", err)
					return
				}
				select {
				case <-syncDone:
					return
				default:
				}
			}
		}()
	}
	<-syncDone
	writers.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	run, err := st.PMSRun(ctx, f.PM, f.Property.ID, res.Run.ID)
	if err != nil || run.Status != store.ImportDone || run.Summary.Created != n || run.Summary.Granted != n || run.Summary.Failed != 0 {
		t.Errorf("sync: %s %+v %q (%v), want done with %d created and granted", run.Status, run.Summary, run.Error, err, n)
	}
	if j, _ := st.Import(ctx, f.PM, f.Property.ID, job.ID); j.Status != store.ImportDone || j.Counts.Created != 300 {
		t.Errorf("import: %s %+v %q", j.Status, j.Counts, j.Error)
	}
	if got := count(t, st, `SELECT COUNT(*) FROM people WHERE email LIKE 'big-%' AND id NOT IN (SELECT person_id FROM grants)`); got != 0 {
		t.Errorf("%d synced people without a key", got)
	}
}
