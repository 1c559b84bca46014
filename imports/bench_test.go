package imports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/pms"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// heapPeak samples HeapInuse every 5 ms until stop is called, which
// returns the peak in MB.
func heapPeak() (stop func() float64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}

// cpuTime is the CPU time (user + system) this process has used: on a
// shared machine it varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgServerCPU is the CPU time the local PostgreSQL server's processes have
// used (every live process named postgres, plus what the postmaster has
// collected from its exited backends), so that on PostgreSQL the server's
// side of a run is measured too (0 where /proc shows no PostgreSQL). It
// counts every client's work: read it beside the load.
func pgServerCPU() time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || !strings.HasPrefix(s[open+1:end], "postgres") {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 15 {
			continue
		}
		// Fields after the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// rawInsert inserts n people rows straight into the database with one
// prepared statement in one transaction: the floor the import is compared
// with. commit is the part of wall spent in COMMIT (on SQLite the WAL
// frames of the whole transaction and, past 1,000 frames, a checkpoint
// with its fsyncs: the part of the floor the disk, not the CPU, decides).
func rawInsert(b *testing.B, st *store.Store, propertyID string, n int) (wall, cpu, commit time.Duration) {
	q := `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	if st.Dialect() == store.Postgres {
		q = `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`
	}
	start, cpu0 := time.Now(), cpuTime()
	tx, err := st.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for i := range n {
		first, last := fmt.Sprintf("Res%d", i), "Ident"
		if _, err := stmt.Exec(domain.NewID("per"), propertyID, first, last, fmt.Sprintf("raw-%d@example.com", i), "", "app", true,
			now, now, now, strings.ToLower(last+" "+first), strings.ToLower(first), strings.ToLower(last)); err != nil {
			b.Fatal(err)
		}
	}
	c0 := time.Now()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), cpuTime() - cpu0, time.Since(c0)
}

// settle brings a freshly opened and seeded store to the same state
// before either side of a pair is timed: on SQLite the seed's WAL is
// checkpointed and truncated, so neither the import nor the raw insert
// starts by paying for (or inheriting) the other's setup frames; and the
// Go heap is collected.
func settle(b *testing.B, st *store.Store) {
	if st.Dialect() != store.Postgres {
		if _, err := st.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
}

// benchPairs is how many import / raw insert pairs BenchmarkImport10k
// interleaves per iteration (DOOROS_BENCH_PAIRS, default 5).
func benchPairs(b *testing.B) int {
	v := os.Getenv("DOOROS_BENCH_PAIRS")
	if v == "" {
		return 5
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("DOOROS_BENCH_PAIRS=%q: want a positive number", v)
	}
	return n
}

// median of xs (xs is sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// BenchmarkImport10k imports 10,000 new residents (one key each: two doors,
// a doorcode) through the job worker and, in the same run, inserts the same
// rows straight into the database (rawInsert, the floor). It interleaves
// DOOROS_BENCH_PAIRS pairs of the two (raw first in even pairs, import
// first in odd ones), each side on its own freshly opened, seeded and
// settled store, and reports the median ratio with its spread (min, max)
// by wall time, the median ratio by CPU time (this process's, plus on
// PostgreSQL the server processes': pgServerCPU), and the load average. Every pair is also
// printed. Run with -benchtime=1x.
//
// DOOROS_BENCH_IMPORT_N changes the number of rows (for callgrind runs:
// valgrind --tool=callgrind --toggle-collect='*Runner).RunJob*').
func BenchmarkImport10k(b *testing.B) {
	n := 10000
	if v := os.Getenv("DOOROS_BENCH_IMPORT_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("DOOROS_BENCH_IMPORT_N=%q: want a positive number", v)
		}
	}
	pairs := benchPairs(b)
	for _, be := range storetest.Backends(b) {
		for _, keys := range []string{"Building", ""} {
			name := be.Name + "/with-key"
			if keys == "" {
				name = be.Name + "/no-keys"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				var imps, raws, ratios, cpuRatios []float64
				var peak float64
				load := loadAvg()
				file := residentsFile(n, "bench", keys)
				type side struct {
					wall, cpu, srv, commit time.Duration
					txs                    int           // the import's batch transactions
					inTx                   time.Duration // their time, begin to commit
				}
				srvCPU := func(st *store.Store) time.Duration {
					if st.Dialect() != store.Postgres {
						return 0
					}
					return pgServerCPU()
				}
				doRaw := func() (m side) {
					st := be.Open(b)
					f := storetest.Seed(b, st)
					settle(b, st)
					s0 := srvCPU(st)
					m.wall, m.cpu, m.commit = rawInsert(b, st, f.Property.ID, n)
					m.srv = srvCPU(st) - s0
					return m
				}
				doImport := func() (m side) {
					st := be.Open(b)
					f := storetest.Seed(b, st)
					settle(b, st)
					var mu sync.Mutex
					st.Observe = func(op string, d time.Duration) {
						if op == "import_batch" {
							mu.Lock()
							m.txs, m.inTx = m.txs+1, m.inTx+d
							mu.Unlock()
						}
					}
					stop := heapPeak()
					start, cpu0, s0 := time.Now(), cpuTime(), srvCPU(st)
					job, err := imports.Submit(ctx, st, f.PM, f.Property.ID, "bench.csv", file, false)
					if err != nil {
						b.Fatal(err)
					}
					r := &imports.Runner{Store: st}
					if ran, done, err := r.RunJob(ctx, job.ID); err != nil || !ran || done.Counts.Created != n {
						b.Fatalf("import: %v %v %+v", ran, err, done.Counts)
					}
					m.wall, m.cpu, m.srv = time.Since(start), cpuTime()-cpu0, srvCPU(st)-s0
					st.Observe = nil
					peak = max(peak, stop())
					return m
				}
				for range b.N {
					for p := range pairs {
						var imp, raw side
						if p%2 == 0 {
							raw = doRaw()
							imp = doImport()
						} else {
							imp = doImport()
							raw = doRaw()
						}
						imps, raws = append(imps, imp.wall.Seconds()), append(raws, raw.wall.Seconds())
						ratios = append(ratios, float64(imp.wall)/float64(raw.wall))
						// CPU: this process's, plus on PostgreSQL the server's.
						cpuRatios = append(cpuRatios, float64(imp.cpu+imp.srv)/float64(raw.cpu+raw.srv))
						fmt.Printf("    pair %s %d: import %.3f s (cpu %.3f s, server %.3f s, %d tx %.3f s)  raw %.3f s (cpu %.3f s, server %.3f s, commit %.3f s)  ratio %.2fx  cpu-ratio %.2fx  load1 %.2f\n",
							name, p, imp.wall.Seconds(), imp.cpu.Seconds(), imp.srv.Seconds(), imp.txs, imp.inTx.Seconds(), raw.wall.Seconds(), raw.cpu.Seconds(), raw.srv.Seconds(), raw.commit.Seconds(),
							ratios[len(ratios)-1], cpuRatios[len(cpuRatios)-1], loadAvg())
					}
				}
				b.ReportMetric(median(imps), "import-s")
				b.ReportMetric(float64(n)/imps[len(imps)/2], "rows/s")
				b.ReportMetric(median(raws), "raw-insert-s")
				b.ReportMetric(raws[0], "raw-min-s")
				b.ReportMetric(raws[len(raws)-1], "raw-max-s")
				b.ReportMetric(median(ratios), "ratio")
				b.ReportMetric(ratios[0], "ratio-min")
				b.ReportMetric(ratios[len(ratios)-1], "ratio-max")
				b.ReportMetric(median(cpuRatios), "cpu-ratio")
				b.ReportMetric(peak, "peak-heap-MB")
				b.ReportMetric(max(load, loadAvg()), "load1")
			})
		}
	}
}

// loadAvg is the machine's one-minute load average (0 where
// /proc/loadavg is missing).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// BenchmarkReconcile5000 syncs a 5,000-resident roster in which 100
// residents changed (40 new, 30 moved out, 30 new phone numbers) against a
// property whose 5,000 residents are linked and hold the PMS key: roster
// parse, contacts, plan and apply, end to end through the store.
func BenchmarkReconcile5000(b *testing.B) {
	const n, added, past, phones = 5000, 40, 30, 30
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			var total time.Duration
			var run store.PMSRun
			for range b.N {
				st := be.Open(b)
				f := storetest.Seed(b, st)
				if _, err := st.PutPMSSettings(ctx, f.PM, f.Property.ID, store.PMSSettingsInput{Provider: "generic", Access: pms.Automatic, Keys: []string{f.Building.ID}}); err != nil {
					b.Fatal(err)
				}
				seedLinkedResidents(b, st, f, n)
				roster := pms.GenericRoster{Provider: "bench"}
				for i := range n {
					r := pms.GenericResident{ExternalID: fmt.Sprintf("ext-%d", i), FirstName: fmt.Sprintf("Res%d", i), LastName: "Ident",
						Email: fmt.Sprintf("res-%d@example.com", i), Phone: "555 0100", Status: "current"}
					switch {
					case i < past:
						r.Status = "past"
					case i < past+phones:
						r.Phone = "555 0199"
					}
					roster.Residents = append(roster.Residents, r)
				}
				leaseEnd := fmt.Sprintf("%d-12-31", storetest.YearsAhead(5)) // years ahead, whenever the benchmark runs
				for i := range added {
					roster.Residents = append(roster.Residents, pms.GenericResident{ExternalID: fmt.Sprintf("new-%d", i), FirstName: "New", LastName: fmt.Sprintf("Res%d", i),
						Email: fmt.Sprintf("new-%d@example.com", i), Status: "current", LeaseEnd: leaseEnd})
				}
				body, _ := json.Marshal(roster)
				s := &imports.Syncer{Store: st}
				start := time.Now()
				res, err := s.Roster(ctx, f.PM, f.Property.ID, "generic", "bench", body, false)
				if err != nil || res.Run == nil {
					b.Fatalf("sync: %v", err)
				}
				if err := (&imports.Runner{Store: st}).Drain(ctx); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				if run, err = st.PMSRun(ctx, f.PM, f.Property.ID, res.Run.ID); err != nil {
					b.Fatal(err)
				}
				if sm := run.Summary; sm.Created != added || sm.Granted != added || sm.Revoked != past || sm.Updated != phones || sm.Failed != 0 {
					b.Fatalf("summary %+v", sm)
				}
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "sync-s")
		})
	}
}

// seedLinkedResidents inserts n residents holding the Building key and
// linked to PMS residents ext-0…, with plain SQL (setup, not measured).
func seedLinkedResidents(b *testing.B, st *store.Store, f storetest.Fixture, n int) {
	ph := func(q string) string {
		if st.Dialect() != store.Postgres {
			return q
		}
		i := 0
		var sb strings.Builder
		for _, c := range q {
			if c == '?' {
				i++
				fmt.Fprintf(&sb, "$%d", i)
				continue
			}
			sb.WriteRune(c)
		}
		return sb.String()
	}
	tx, err := st.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	people, _ := tx.Prepare(ph(`INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`))
	grants, _ := tx.Prepare(ph(`INSERT INTO grants (person_id, key_id, may_share, granted_at) VALUES (?,?,?,?)`))
	links, _ := tx.Prepare(ph(`INSERT INTO pms_links (property_id, provider, person_id, external_id, linked_at) VALUES (?,?,?,?,?)`))
	now := time.Now().UnixMicro()
	for i := range n {
		id := domain.NewID("per")
		first := fmt.Sprintf("Res%d", i)
		if _, err := people.Exec(id, f.Property.ID, first, "Ident", fmt.Sprintf("res-%d@example.com", i), "555 0100", "app", true,
			now, now, now, strings.ToLower("ident "+first), strings.ToLower(first), "ident"); err != nil {
			b.Fatal(err)
		}
		if _, err := grants.Exec(id, f.Building.ID, false, now); err != nil {
			b.Fatal(err)
		}
		if _, err := links.Exec(f.Property.ID, "generic", id, fmt.Sprintf("ext-%d", i), now); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPMSSync10k syncs a roster of 10,000 new current residents
// (DOOROS_BENCH_PMS_N overrides the size) as the server does: the roster
// request queues the run (its answer time is reported), the job runner
// plans it and applies it batch by batch (each new resident is invited and
// given the Building key: two doors, a doorcode, a welcome email). In the
// same run the same number of people rows are inserted straight into the
// database, the floor. Run with -benchtime=1x.
func BenchmarkPMSSync10k(b *testing.B) {
	n := 10000
	if v := os.Getenv("DOOROS_BENCH_PMS_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("DOOROS_BENCH_PMS_N=%q", v)
		}
	}
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			var sync, answer, raw time.Duration
			var peak float64
			for range b.N {
				st := be.Open(b)
				f := storetest.Seed(b, st)
				w, _, _ := rawInsert(b, st, f.Property.ID, n)
				raw += w

				st = be.Open(b)
				f = storetest.Seed(b, st)
				pmsSetUp(b, st, f)
				body := genericRoster(n, "sync")
				runtime.GC()
				stop := heapPeak()
				start := time.Now()
				res, err := imports.NewSyncer(st, nil, "").Roster(ctx, f.PM, f.Property.ID, "generic", "bench", body, false)
				if err != nil {
					b.Fatal(err)
				}
				answer += time.Since(start)
				if err := (&imports.Runner{Store: st}).Drain(ctx); err != nil {
					b.Fatal(err)
				}
				sync += time.Since(start)
				peak = max(peak, stop())
				run, err := st.PMSRun(ctx, f.PM, f.Property.ID, res.Run.ID)
				if err != nil || run.Status != store.ImportDone || run.Summary.Created != n || run.Summary.Granted != n || run.Summary.Failed != 0 {
					b.Fatalf("run %s %+v %q %v", run.Status, run.Summary, run.Error, err)
				}
			}
			b.ReportMetric(sync.Seconds()/float64(b.N), "sync-s")
			b.ReportMetric(answer.Seconds()*1000/float64(b.N), "answer-ms")
			b.ReportMetric(raw.Seconds()/float64(b.N), "raw-insert-s")
			b.ReportMetric(float64(sync)/float64(raw), "ratio")
			b.ReportMetric(float64(n*b.N)/sync.Seconds(), "people/s")
			b.ReportMetric(peak, "peak-heap-MB")
		})
	}
}
