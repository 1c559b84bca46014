package store_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// Benchmarks print numbers; they never fail on a timing. Run them with
//
//	DOOROS_TEST_POSTGRES_URL=postgres://… go test ./store/ -run '^$' -bench . -benchtime 2000x
//
// (see docs/bench-core.md for the figures measured on the CI machine).

// reportLatency reports p50 and p99 of the measured durations in ms.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkInvite invites people holding two keys (Building: two doors,
// one offline; Home: one offline door with doorcodes), one invite per
// operation, each in its own transaction with grants, doorcode, door
// versions, activity and welcome email.
func BenchmarkInvite(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			n := 0
			in := func() domain.InviteInput {
				n++
				return domain.InviteInput{FirstName: "Bench", LastName: fmt.Sprint(n), Email: fmt.Sprintf("bench%d@example.com", n),
					Access: domain.AccessApp, Resident: true,
					Keys: []domain.GrantInput{{KeyID: f.Building.ID, MayShare: true}, {KeyID: f.Home.ID}}}
			}
			b.Run("serial", func(b *testing.B) {
				// The floor, in the same run: the same number of write
				// transactions each inserting one people row with a
				// prepared statement (what any write costs: begin, one
				// B-tree insert per index of people, commit).
				floor, floorCPU := floorWrites(b, st, f.Property.ID, b.N)
				lat := make([]time.Duration, 0, b.N)
				load := loadAvg()
				b.ResetTimer()
				start0, cpu0 := time.Now(), cpuTime()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if _, err := st.Invite(ctx, f.PM, f.Property.ID, in()); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				wall, cpu := time.Since(start0), cpuTime()-cpu0
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/invite")
				b.ReportMetric(float64(b.N)/floor.Seconds(), "floor-tx/s")
				b.ReportMetric(float64(floorCPU.Microseconds())/1000/float64(b.N), "floor-cpu-ms/tx")
				b.ReportMetric(float64(wall)/float64(floor), "ratio")
				b.ReportMetric(max(load, loadAvg()), "load1")
				reportLatency(b, lat)
			})
			b.Run("parallel", func(b *testing.B) {
				var next = make(chan domain.InviteInput, b.N)
				for i := 0; i < b.N; i++ {
					next <- in()
				}
				close(next)
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := st.Invite(ctx, f.PM, f.Property.ID, <-next); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
			})
		})
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

// floorWrites runs n write transactions, each inserting one people row
// with a prepared statement, and returns their wall and CPU time.
func floorWrites(b *testing.B, st *store.Store, propertyID string, n int) (wall, cpu time.Duration) {
	b.Helper()
	e := &env{st: st}
	stmt, err := st.DB().PrepareContext(ctx, e.sql(`INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, created_at, updated_at, sort_name, first_lc, last_lc)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`))
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	start, cpu0 := time.Now(), cpuTime()
	for i := range n {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UnixMicro()
		first, last := "Floor", strconv.Itoa(i)
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, domain.NewID("per"), propertyID, first, last, fmt.Sprintf("floor-%s@example.com", domain.NewID("f")), "", "app", true,
			now, now, now, strings.ToLower(last+" "+first), strings.ToLower(first), strings.ToLower(last)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start), cpuTime() - cpu0
}

var (
	benchFirst = []string{"Maria", "Mark", "James", "Ana", "Wei", "Fatima", "John", "Olga", "Luis", "Chloe", "Noah", "Priya", "Ahmed", "Emma", "Kenji", "Sofia", "Liam", "Zoe", "Omar", "Ines"}
	benchLast  = []string{"Garcia", "Smith", "Nguyen", "Lopez", "Chen", "Khan", "Johnson", "Ivanova", "Martin", "Brown", "Okafor", "Patel", "Haddad", "Muller", "Sato", "Rossi", "Kim", "Dubois", "Silva", "Novak"}
)

// seedPeople inserts n people, each holding the fixture's Building key,
// with raw multi-row INSERTs in one transaction (the use cases would take
// minutes). About 5% are expired and 2% revoked, as on a real property.
func seedPeople(b *testing.B, st *store.Store, f storetest.Fixture, n int) {
	b.Helper()
	e := &env{st: st}
	rng := rand.New(rand.NewPCG(1, 2))
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMicro()
	const batch = 400
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		var pq, gq strings.Builder
		pq.WriteString(`INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, starts_at, expires_at, revoked_at, created_at, updated_at, sort_name, first_lc, last_lc) VALUES `)
		gq.WriteString(`INSERT INTO grants (person_id, key_id, may_share, starts_at, expires_at, granted_at) VALUES `)
		var pargs, gargs []any
		for i := lo; i < hi; i++ {
			first, last := benchFirst[rng.IntN(len(benchFirst))], benchLast[rng.IntN(len(benchLast))]
			id := fmt.Sprintf("per_bench%07d", i)
			email := fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), i)
			var expires, revoked any
			switch r := rng.IntN(100); {
			case r < 5:
				expires = now - 3600e6
			case r < 7:
				revoked = now - 3600e6
			case r < 60:
				expires = now + 365*24*3600e6
			}
			if i > lo {
				pq.WriteString(",")
				gq.WriteString(",")
			}
			pq.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			gq.WriteString("(?,?,?,?,?,?)")
			pargs = append(pargs, id, f.Property.ID, first, last, email, "", "app", true, now-7200e6, expires, revoked, now, now,
				strings.ToLower(last+" "+first), strings.ToLower(first), strings.ToLower(last))
			gargs = append(gargs, id, f.Building.ID, false, nil, nil, now)
		}
		if _, err := tx.ExecContext(ctx, e.sql(pq.String()), pargs...); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, e.sql(gq.String()), gargs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPeople100k measures the People tab at 100,000 people: the first
// page (50, sorted by name) and searches by email prefix.
func BenchmarkPeople100k(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			start := time.Now()
			seedPeople(b, st, f, 100_000)
			b.Logf("%s: seeded 100,000 people in %v", be.Name, time.Since(start).Round(time.Millisecond))
			for _, tc := range []struct {
				name string
				f    domain.PeopleFilter
			}{
				{"first_page", domain.PeopleFilter{}},
				{"first_page_include_expired", domain.PeopleFilter{IncludeExpired: true}},
				// One person's address, typed partly: a handful of matches.
				{"search_email_prefix", domain.PeopleFilter{Query: "maria.garcia.4"}},
				// A few letters: thousands of matches across email and names,
				// sorted for the first page.
				{"search_short_prefix", domain.PeopleFilter{Query: "mar"}},
				// A first name shared by 5% of the people.
				{"search_first_name", domain.PeopleFilter{Query: "zoe"}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						t := time.Now()
						page, _, err := st.ListPeople(ctx, f.PM, f.Property.ID, tc.f)
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t))
						if len(page) == 0 {
							b.Fatal("empty page")
						}
					}
					reportLatency(b, lat)
				})
			}
		})
	}
}

// BenchmarkRevoke revokes a resident holding 5 keys (10 doors, half
// offline) who invited 3 guests on 2 of them; setup is not timed.
func BenchmarkRevoke(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			var keys []domain.GrantInput
			for k := 0; k < 5; k++ {
				var doors []domain.KeyDoor
				for d := 0; d < 2; d++ {
					c := domain.Online
					if d == 1 {
						c = domain.Offline
					}
					door, err := st.CreateDoor(ctx, f.PM, f.Property.ID, domain.DoorInput{Name: fmt.Sprintf("Door %d-%d", k, d), Type: domain.DoorCommunal, Connectivity: c})
					if err != nil {
						b.Fatal(err)
					}
					doors = append(doors, domain.KeyDoor{DoorID: door.ID, Doorcodes: d == 0})
				}
				key, err := st.CreateKey(ctx, f.PM, f.Property.ID, domain.KeyInput{Name: fmt.Sprintf("Key %d", k), Doors: doors})
				if err != nil {
					b.Fatal(err)
				}
				keys = append(keys, domain.GrantInput{KeyID: key.ID, MayShare: true})
			}
			n := 0
			resident := func() string {
				n++
				p, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "R", LastName: fmt.Sprint(n), Email: fmt.Sprintf("r%d@example.com", n),
					Access: domain.AccessApp, Resident: true, Keys: keys})
				if err != nil {
					b.Fatal(err)
				}
				for g := 0; g < 3; g++ {
					if _, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "G", LastName: fmt.Sprint(g), Email: fmt.Sprintf("g%d.%d@example.com", n, g),
						Access: domain.AccessApp, InvitedBy: p.ID, Keys: []domain.GrantInput{{KeyID: keys[0].KeyID}, {KeyID: keys[1].KeyID}},
						ExpiresAt: ptr(time.Now().Add(24 * time.Hour))}); err != nil {
						b.Fatal(err)
					}
				}
				return p.ID
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				id := resident()
				b.StartTimer()
				t := time.Now()
				v, err := st.Revoke(ctx, f.PM, f.Property.ID, id)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				if v.Status != domain.StatusRevoked || len(v.Guests) != 3 {
					b.Fatalf("revoked %s with %d guests", v.Status, len(v.Guests))
				}
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkRevoke1000Doors is the fleet benchmark's revoke call without
// HTTP: a resident holding two keys that open 1,000 online doors with
// doorcodes is revoked (every door bumped, a revocation and a push per
// door). Invites are not timed.
// benchRevokeDoors is BenchmarkRevoke1000Doors's door count: 1,000, or
// DOOROS_BENCH_DOORS (a multiple of 500, the doors per key).
func benchRevokeDoors(b *testing.B) int {
	v := os.Getenv("DOOROS_BENCH_DOORS")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 500 || n%500 != 0 {
		b.Fatalf("DOOROS_BENCH_DOORS=%q: give a multiple of 500", v)
	}
	return n
}

func BenchmarkRevoke1000Doors(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			var grants []domain.GrantInput
			for k := 0; k < benchRevokeDoors(b)/500; k++ {
				var doors []domain.KeyDoor
				for d := 0; d < 500; d++ {
					door, err := st.CreateDoor(ctx, f.PM, f.Property.ID, domain.DoorInput{Name: fmt.Sprintf("Fleet %d-%d", k, d), Type: domain.DoorEntrance, Connectivity: domain.Online})
					if err != nil {
						b.Fatal(err)
					}
					doors = append(doors, domain.KeyDoor{DoorID: door.ID, Doorcodes: true})
				}
				key, err := st.CreateKey(ctx, f.PM, f.Property.ID, domain.KeyInput{Name: fmt.Sprintf("Fleet %d", k), Doors: doors})
				if err != nil {
					b.Fatal(err)
				}
				grants = append(grants, domain.GrantInput{KeyID: key.ID})
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Fleet", LastName: fmt.Sprint(i), Email: fmt.Sprintf("fleet%d@example.com", i),
					Access: domain.AccessApp, Resident: true, Keys: grants})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t := time.Now()
				if _, err := st.Revoke(ctx, f.PM, f.Property.ID, p.ID); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkActivityQuietDoor is the first page of Activity filtered by a
// door with one old entry, at a property with DOOROS_BENCH_EVENTS
// (default 300,000) newer entries elsewhere (a third of them, like a
// revocation's, naming their doors through event_doors: the Gym and
// DOOROS_BENCH_EVENT_DOORS − 1 others, default none): with the scan
// budget (store.DefaultActivityScan) the page stops after 20,000 entries
// with a next cursor ("budget-page-8": its 8th page, 140,000 entries
// down); "whole-history" walks them all, as every page did before the
// budget; "busy-door" is a door with two thirds of the entries, whose
// page fills at once (the budget's own cost: the floor query). The floor
// is the first unfiltered page.
func BenchmarkActivityQuietDoor(b *testing.B) {
	n := 300000
	if v := os.Getenv("DOOROS_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("DOOROS_BENCH_EVENTS=%q: want a positive number", v)
		}
	}
	perEvent := 1
	if v := os.Getenv("DOOROS_BENCH_EVENT_DOORS"); v != "" {
		var err error
		if perEvent, err = strconv.Atoi(v); err != nil || perEvent <= 0 {
			b.Fatalf("DOOROS_BENCH_EVENT_DOORS=%q: want a positive number", v)
		}
	}
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			p := func(i int) string {
				if st.Dialect() == store.Postgres {
					return "$" + strconv.Itoa(i)
				}
				return "?"
			}
			tx, err := st.DB().Begin()
			if err != nil {
				b.Fatal(err)
			}
			ev, err := tx.Prepare(`INSERT INTO events (id, property_id, at, received_at, kind, actor_id, actor_name, door_id, detail) VALUES (` +
				p(1) + `,` + p(2) + `,` + p(3) + `,` + p(4) + `,'door.unlocked','','lock',` + p(5) + `,'')`)
			if err != nil {
				b.Fatal(err)
			}
			ed, err := tx.Prepare(`INSERT INTO event_doors (event_id, door_id) VALUES (` + p(1) + `,` + p(2) + `)`)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
			if _, err := ev.Exec("evt_quiet", f.Property.ID, t0, t0, f.Unit101.ID); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				id, door := fmt.Sprintf("evt_%09d", i), f.Lobby.ID
				if i%3 == 0 {
					door = ""
				}
				if _, err := ev.Exec(id, f.Property.ID, t0+int64(i+1)*1000, t0+int64(i+1)*1000, door); err != nil {
					b.Fatal(err)
				}
				if door == "" {
					if _, err := ed.Exec(id, f.Gym.ID); err != nil {
						b.Fatal(err)
					}
					for j := 1; j < perEvent; j++ { // the other doors of a wide event
						if _, err := ed.Exec(id, fmt.Sprintf("dor_other_%d", j)); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			if st.Dialect() == store.Postgres {
				for _, t := range []string{"events", "event_doors"} {
					if _, err := st.DB().Exec(`ANALYZE ` + t); err != nil {
						b.Fatal(err)
					}
				}
			}
			// The cursor of the quiet door's 8th page (7 pages of 20,000
			// entries walked).
			deep := store.ActivityFilter{DoorID: f.Unit101.ID, Limit: 50}
			for range 7 {
				_, next, err := st.ListActivity(ctx, f.PM, f.Property.ID, deep)
				if err != nil || next == "" {
					b.Fatalf("quiet door's pages: %q, %v", next, err)
				}
				deep.Cursor = next
			}
			for _, c := range []struct {
				name string
				scan int
				f    store.ActivityFilter
			}{
				{"floor-unfiltered", 0, store.ActivityFilter{Limit: 50}},
				{"budget", 0, store.ActivityFilter{DoorID: f.Unit101.ID, Limit: 50}},
				{"budget-page-8", 0, deep},
				{"whole-history", n + 10, store.ActivityFilter{DoorID: f.Unit101.ID, Limit: 50}},
				{"busy-door", 0, store.ActivityFilter{DoorID: f.Lobby.ID, Limit: 50}},
			} {
				b.Run(c.name, func(b *testing.B) {
					st.ActivityScan = c.scan
					defer func() { st.ActivityScan = 0 }()
					lat := make([]time.Duration, 0, b.N)
					for range b.N {
						t := time.Now()
						if _, _, err := st.ListActivity(ctx, f.PM, f.Property.ID, c.f); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t))
					}
					reportLatency(b, lat)
					b.ReportMetric(loadAvg(), "load1")
				})
			}
		})
	}
}
