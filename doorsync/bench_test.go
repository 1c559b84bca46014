package doorsync_test

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store/storetest"
)

// BenchmarkDoorSync_Revoke1000OnlineLocks: 1,000 online locks in this
// process (lock.NewMemFS, each with its own MQTT client to the embedded
// broker, uploading its new log events after every bundle as real locks
// do) and one resident who can open all of them. Per iteration the
// resident is given the key, then revoked; it reports how long after the
// revoke call was made (p50_ms, p99_ms, max_ms; "after it returned" in the
// log) each lock refused the resident — its revocation notice or the
// bundle, whichever came first (bundle_p99_ms: the bundle alone) — the
// CPU time and heap of the process meanwhile
// (server and locks together), and the broker's raw publish→receive
// latency measured in the same run as the floor.
//
//	go test ./doorsync/ -run '^$' -bench Revoke1000 -benchtime 3x
func BenchmarkDoorSync_Revoke1000OnlineLocks(b *testing.B) {
	const n = 1000
	st := storetest.OpenSQLite(b)
	e := newEnv(b, st, "")
	ctx := e.ctx
	// A key holds at most 500 doors: two keys.
	ids, keys := e.manyDoors(n, domain.Online, false, false)
	type sim struct {
		l       *lock.Lock
		mu      sync.Mutex
		applied map[uint64]time.Time
		// refused: when a revocation notice suspended someone until a version.
		refused map[uint64]time.Time
	}
	sims := make([]*sim, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		p, err := e.svc.Provision(ctx, e.F.PM, e.prop(), id)
		if err != nil {
			b.Fatal(err)
		}
		l := bootLock(b, p.Provisioning, lock.Options{})
		s := &sim{l: l, applied: map[uint64]time.Time{}, refused: map[uint64]time.Time{}}
		sims[i] = s
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cfg, _ := mqtt.LockConfig(e.url, id, p.MQTTPassword)
			c, err := mqtt.Connect(ctx, cfg)
			if err != nil {
				b.Error(err)
				return
			}
			b.Cleanup(func() { c.Close() })
			in := make(chan []byte, 8)
			c.Subscribe(ctx, mqtt.MustTopic(mqtt.KindBundle, id), 1, func(m mqtt.Message) {
				// A revocation notice is applied on the receive path, as
				// locksim does; it names the version it holds until.
				if lockproto.IsRevocationNotice(m.Payload) {
					if s.l.ApplyNotice(m.Payload) == nil {
						at := time.Now()
						s.mu.Lock()
						s.refused[s.l.Status().Version+1] = at
						s.mu.Unlock()
					}
					return
				}
				in <- m.Payload
			})
			go func() {
				next := uint64(1)
				for {
					select {
					case <-ctx.Done():
						return
					case bundle := <-in:
						ack, err := s.l.ApplyBundle(bundle)
						if err == nil {
							v := s.l.Status().Version
							s.mu.Lock()
							s.applied[v] = time.Now()
							s.mu.Unlock()
						}
						if ack != nil {
							c.Publish(ctx, mqtt.MustTopic(mqtt.KindAck, id), ack, 1, false)
						}
						for end := s.l.Status().LogNext; next < end; next = min(next+256, end) {
							batch, err := s.l.EventsSince(next)
							if err != nil {
								break
							}
							c.Publish(ctx, mqtt.MustTopic(mqtt.KindEvents, id), batch, 1, false)
						}
					}
				}
			}()
		}()
	}
	wg.Wait()
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
	waitAcked := func(what string) {
		eventually(b, 5*time.Minute, what, func() bool {
			var pending int
			st.DB().QueryRow(`SELECT COUNT(*) FROM doors WHERE version > acked_version AND property_id = ?`, e.prop()).Scan(&pending)
			return pending == 0
		})
	}
	waitAcked("initial sync of 1,000 locks")
	floor := brokerFloor(b, ctx, e)

	var all, afterReturn, bundles []time.Duration
	var cpu, wall time.Duration
	var heap uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			for _, k := range keys {
				if _, err := st.GiveKey(ctx, e.F.PM, e.prop(), person.ID, k.ID, domain.GrantChange{}); err != nil {
					b.Fatal(err)
				}
			}
			waitAcked("re-grant")
		}
		runtime.GC()
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		if _, err := st.Revoke(ctx, e.F.PM, e.prop(), person.ID); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		want := map[string]int64{}
		for _, id := range ids {
			v, _, _, _ := st.DoorVersion(ctx, id)
			want[id] = v
		}
		var lat, latR, latB []time.Duration
		eventually(b, 5*time.Minute, "every lock applies the revocation", func() bool {
			lat, latR, latB = lat[:0], latR[:0], latB[:0]
			for j, s := range sims {
				s.mu.Lock()
				at, ok := s.applied[uint64(want[ids[j]])]
				// The notice (suspended until the revocation's version) or
				// the bundle, whichever came first.
				refusal := at
				if n, noticed := s.refused[uint64(want[ids[j]])]; noticed && (!ok || n.Before(at)) {
					refusal = n
				}
				s.mu.Unlock()
				if !ok {
					return false
				}
				lat, latR, latB = append(lat, refusal.Sub(start)), append(latR, refusal.Sub(returned)), append(latB, at.Sub(start))
			}
			return true
		})
		bundles = append(bundles, latB...)
		wall += time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu += tv(ru1.Utime) - tv(ru0.Utime) + tv(ru1.Stime) - tv(ru0.Stime)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapAlloc)
		all, afterReturn = append(all, lat...), append(afterReturn, latR...)
		waitAcked("acks of the revocation")
	}
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(afterReturn, func(i, j int) bool { return afterReturn[i] < afterReturn[j] })
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	pctR := func(p float64) time.Duration {
		return afterReturn[min(len(afterReturn)-1, int(p*float64(len(afterReturn))))]
	}
	sort.Slice(bundles, func(i, j int) bool { return bundles[i] < bundles[j] })
	b.ReportMetric(float64(bundles[min(len(bundles)-1, int(0.99*float64(len(bundles))))].Microseconds())/1000, "bundle_p99_ms")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max_ms")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu_s/revoke")
	b.ReportMetric(float64(heap)/(1<<20), "heap_MB")
	b.ReportMetric(float64(floor[0].Microseconds())/1000, "broker_p50_ms")
	b.ReportMetric(float64(floor[1].Microseconds())/1000, "broker_p99_ms")
	b.Logf("%d locks, %d revocations: refusal p50 %v p99 %v max %v after the revoke call was made (p99 %v after it returned); CPU %.2fs per revoke over %v wall; heap %.0f MB; broker publish→receive p50 %v p99 %v",
		n, b.N, pct(0.5), pct(0.99), all[len(all)-1], pctR(0.99), cpu.Seconds()/float64(b.N), (wall / time.Duration(b.N)).Round(time.Millisecond), float64(heap)/(1<<20), floor[0], floor[1])
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// brokerFloor measures raw publish→receive latency through the broker:
// 1,000 QoS 1 messages, one at a time, from one service client to another.
func brokerFloor(b *testing.B, ctx context.Context, e *env) [2]time.Duration {
	b.Helper()
	connect := func(id string) *mqtt.Client {
		c, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: e.url, ClientID: id, Username: mqtt.DefaultServiceUser, Password: e.servicePassword})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	sub, pub := connect("bench-floor-sub"), connect("bench-floor-pub")
	topic := mqtt.MustTopic(mqtt.KindBundle, "floor")
	got := make(chan time.Time, 1)
	if err := sub.Subscribe(ctx, topic, 1, func(mqtt.Message) { got <- time.Now() }); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for range 1000 {
		start := time.Now()
		if err := pub.Publish(ctx, topic, make([]byte, 400), 1, false); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-got).Sub(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return [2]time.Duration{lat[500], lat[990]}
}
