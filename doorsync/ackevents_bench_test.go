package doorsync_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/store/storetest"
)

// BenchmarkInbound_AckEvents: what the cloud spends taking one lock's
// answer to a bundle — its ack and the events it logged (boot, time.set,
// bundle.applied) — as the pusher records inbound messages: verified and
// recorded in group commits of 128 (Store.Group). "separate": a plain ack
// and a sealed event batch, two messages (a lock before events in the
// ack); "in-ack": one ack carrying the events. 500 locks per operation,
// each answering its first bundle; reports the process CPU time and wall
// time per lock (CPU varies less than wall on a shared machine) and the
// load average. Never fails on a timing.
//
//	go test ./doorsync/ -run '^$' -bench Inbound_AckEvents -count 3
func BenchmarkInbound_AckEvents(b *testing.B) {
	for _, mode := range []string{"separate", "in-ack"} {
		b.Run(mode, func(b *testing.B) {
			const n = 500
			var cpu, wall time.Duration
			for range b.N {
				b.StopTimer()
				st := storetest.OpenSQLite(b)
				e := newEnv(b, st, "")
				ids, _ := e.manyDoors(n, domain.Offline, false, false)
				type msg struct {
					door string
					ack  bool
					body []byte
				}
				var msgs []msg
				for _, id := range ids {
					p, err := e.svc.Provision(e.ctx, e.F.PM, e.prop(), id)
					if err != nil {
						b.Fatal(err)
					}
					l := bootLock(b, p.Provisioning, lock.Options{})
					bundle, err := e.svc.Bundle(e.ctx, id)
					if err != nil {
						b.Fatal(err)
					}
					if mode == "separate" {
						ack, err := l.ApplyBundle(bundle.Sealed)
						if err != nil {
							b.Fatal(err)
						}
						batch, err := l.EventsSince(1)
						if err != nil {
							b.Fatal(err)
						}
						msgs = append(msgs, msg{id, true, ack}, msg{id, false, batch})
					} else {
						ack, next, err := l.ApplyBundleWithEvents(bundle.Sealed, 1)
						if err != nil || next != l.Status().LogNext {
							b.Fatalf("ack with events: %v (to %d of %d)", err, next, l.Status().LogNext)
						}
						msgs = append(msgs, msg{id, true, ack})
					}
				}
				b.StartTimer()
				c0, w0 := rusageCPU(), time.Now()
				for i := 0; i < len(msgs); i += 128 {
					group := msgs[i:min(i+128, len(msgs))]
					errs := st.Group(e.ctx, "bench_inbound", len(group), func(ctx context.Context, j int) error {
						if group[j].ack {
							_, err := e.svc.HandleAck(ctx, group[j].door, group[j].body, "mqtt")
							return err
						}
						_, err := e.svc.HandleEvents(ctx, group[j].door, group[j].body, "mqtt")
						return err
					})
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				cpu, wall = cpu+rusageCPU()-c0, wall+time.Since(w0)
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/lock")
			b.ReportMetric(float64(wall.Microseconds())/float64(b.N*n), "wall-µs/lock")
			b.ReportMetric(load1(), "load")
		})
	}
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func load1() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var f float64
	fmt.Sscan(strings.Fields(string(raw))[0], &f)
	return f
}
