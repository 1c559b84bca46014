package doorsync_test

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// BenchmarkDoorSync_Build1000Bundles measures the server's part of a
// revocation at 1,000 doors alone — desired state, delta, signature,
// encryption, storage of every door's bundle — with no locks competing for
// the CPU: per door on 16 workers, one transaction each (how the pusher
// built them before), and batched (store.BuildDoorBundles). The doors are
// offline so the running pusher leaves their bundles to the benchmark.
//
//	go test ./doorsync/ -run '^$' -bench Build1000 -benchtime 5x
func BenchmarkDoorSync_Build1000Bundles(b *testing.B) {
	const n = 1000
	st := storetest.OpenSQLite(b)
	e := newEnv(b, st, "")
	ctx := e.ctx
	ids, keys := e.manyDoors(n, domain.Offline, true, true)
	grants := []map[string]any{}
	for _, k := range keys {
		grants = append(grants, map[string]any{"key_id": k.ID})
	}
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Ana", "last_name": "Resident",
		"email": "ana@example.com", "access": "app", "resident": true, "keys": grants})
	if r.Status != 201 {
		b.Fatalf("invite = %d: %s", r.Status, r.Body)
	}
	var person domain.PersonView
	r.Decode(b, &person)
	revoke := func() {
		for _, k := range keys {
			if _, err := st.GiveKey(ctx, e.F.PM, e.prop(), person.ID, k.ID, domain.GrantChange{}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.Revoke(ctx, e.F.PM, e.prop(), person.ID); err != nil {
			b.Fatal(err)
		}
	}
	builders := map[string]func() int{
		"PerDoor": func() int {
			work := make(chan string)
			var built sync.WaitGroup
			var mu sync.Mutex
			count := 0
			for range 16 {
				built.Add(1)
				go func() {
					defer built.Done()
					for id := range work {
						if _, err := e.svc.Bundle(ctx, id); err == nil {
							mu.Lock()
							count++
							mu.Unlock()
						}
					}
				}()
			}
			for _, id := range ids {
				work <- id
			}
			close(work)
			built.Wait()
			return count
		},
		"Batched": func() int {
			count := 0
			st.BuildDoorBundles(ctx, e.keys, e.keys, ids, store.BuildOptions{}, func(r store.BundleBuild) {
				if r.Err == nil {
					count++
				}
			})
			return count
		},
	}
	for _, name := range []string{"PerDoor", "Batched"} {
		build := builders[name]
		b.Run(name, func(b *testing.B) {
			var wall, cpu time.Duration
			var alloc, heap uint64
			for range b.N {
				b.StopTimer()
				revoke()
				runtime.GC()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				var ru0, ru1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				b.StartTimer()
				start := time.Now()
				if got := build(); got != n {
					b.Fatalf("built %d bundles, want %d", got, n)
				}
				wall += time.Since(start)
				b.StopTimer()
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu += tv(ru1.Utime) - tv(ru0.Utime) + tv(ru1.Stime) - tv(ru0.Stime)
				runtime.ReadMemStats(&ms1)
				alloc += ms1.TotalAlloc - ms0.TotalAlloc
				heap = max(heap, ms1.HeapAlloc)
			}
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms/1000doors")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu_s/1000doors")
			b.ReportMetric(float64(alloc)/float64(b.N)/(1<<20), "alloc_MB/1000doors")
			b.ReportMetric(float64(heap)/(1<<20), "heap_MB")
		})
	}
}
