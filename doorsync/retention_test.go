package doorsync_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPruneDoorSync: Door Sync's history is pruned past its retention —
// delivered door pushes and bundles no lock can use any more — while
// everything a lock or a phone may still need is kept whatever its age:
// the bundle of the acknowledged version, pending bundles, pending and
// failed outbox rows, e-mails. The lock then applies its pending bundle
// and the ack is recorded as before; a replay of an old ack whose bundle
// was pruned changes nothing (no snapshot forced).
func TestPruneDoorSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		// The clock moves ahead through shift: Door Sync's goroutines read
		// st.Now, so it is set once, before they start (assigning it later
		// raced with the pusher under -race in .ci/run).
		var shift atomic.Int64
		real := st.Now
		st.Now = func() time.Time { return real().Add(time.Duration(shift.Load())) }
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike") // offline: the pusher completes its rows, phones carry its bundles
		apply := func() ([]byte, store.DoorBundle) {
			t.Helper()
			b, err := e.svc.Bundle(e.ctx, bike.id)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := bike.ApplyBundle(b.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil {
				t.Fatal(err)
			}
			return ack, b
		}
		oldAck, first := apply()
		e.invite("ana@example.com")
		_, acked := apply()
		e.invite("ben@example.com")
		pending, err := e.svc.Bundle(e.ctx, bike.id) // carried by phones, not applied yet
		if err != nil {
			t.Fatal(err)
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := st.DB().QueryRow(q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		versions := func() map[int64]bool {
			t.Helper()
			rows, err := st.DB().Query(`SELECT version FROM door_bundles WHERE door_id = $1`, bike.id)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := map[int64]bool{}
			for rows.Next() {
				var v int64
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				out[v] = true
			}
			return out
		}
		if v := versions(); !v[first.Version] || !v[acked.Version] || !v[pending.Version] {
			t.Fatalf("bundles before pruning: %v", v)
		}
		delivered := func() int {
			return count(`SELECT COUNT(*) FROM outbox WHERE topic = $1 AND delivered_at IS NOT NULL`, store.TopicDoorState)
		}
		// Every push completed before the clock moves: one completed while
		// it is a week ahead would be a week younger than the prune's cutoff.
		eventually(t, 10*time.Second, "the offline door's pushes are completed", func() bool {
			return delivered() > 0 && count(`SELECT COUNT(*) FROM outbox WHERE topic = $1 AND delivered_at IS NULL`, store.TopicDoorState) == 0
		})
		emails := count(`SELECT COUNT(*) FROM outbox WHERE topic NOT IN ($1, $2)`, store.TopicDoorState, store.TopicDoorRefresh)
		if emails == 0 {
			t.Fatal("no e-mail rows to keep: the test checks nothing")
		}
		// An old pending row and an old failed one (the pusher would not
		// leave them, so they are written here).
		old, later := time.Now().Add(-30*24*time.Hour).UnixMicro(), time.Now().Add(time.Hour).UnixMicro()
		for _, q := range []string{
			`INSERT INTO outbox (id, topic, subject_id, payload, created_at, available_at) VALUES ('obx-old-pending', $1, 'no-door', '{}', $2, $3)`,
			`INSERT INTO outbox (id, topic, subject_id, payload, created_at, available_at, failed_at) VALUES ('obx-old-failed', $1, 'no-door', '{}', $2, $3, $2)`,
		} {
			if _, err := st.DB().Exec(q, store.TopicDoorState, old, later); err != nil {
				t.Fatal(err)
			}
		}

		// Nothing is old enough yet.
		if n, err := e.svc.Prune(e.ctx); err != nil || n != (doorsync.Pruned{}) {
			t.Fatalf("prune at once = %+v, %v; want nothing", n, err)
		}
		// A day passes: bundles are past their retention, pushes are not.
		shift.Store(int64(doorsync.KeepBundles + time.Hour))
		n, err := e.svc.Prune(e.ctx)
		if err != nil || n.DoorPushes != 0 || n.Bundles == 0 || n.Revocations != 0 {
			t.Fatalf("prune after a day = %+v, %v; want only bundles", n, err)
		}
		if v := versions(); v[first.Version] || !v[acked.Version] || !v[pending.Version] {
			t.Fatalf("bundles after pruning: %v; want %d gone, %d (acknowledged) and %d (pending) kept", v, first.Version, acked.Version, pending.Version)
		}
		// A week passes: delivered pushes go too, nothing else.
		shift.Store(int64(doorsync.KeepDoorPushes + time.Hour))
		if n, err := e.svc.Prune(e.ctx); err != nil || n.DoorPushes == 0 {
			t.Fatalf("prune after a week = %+v, %v; want the delivered pushes", n, err)
		}
		shift.Store(0)
		if n := delivered(); n != 0 {
			t.Fatalf("%d delivered door pushes left", n)
		}
		if n := count(`SELECT COUNT(*) FROM outbox WHERE id IN ('obx-old-pending', 'obx-old-failed')`); n != 2 {
			t.Fatalf("%d of the pending and failed rows kept, want 2", n)
		}
		if n := count(`SELECT COUNT(*) FROM outbox WHERE topic NOT IN ($1, $2)`, store.TopicDoorState, store.TopicDoorRefresh); n != emails {
			t.Fatalf("e-mail rows %d after pruning, want %d", n, emails)
		}

		// A replay of the first ack (its bundle is gone) changes nothing:
		// the next bundle is still the pending delta, not a snapshot.
		if _, err := e.svc.HandleAck(e.ctx, bike.id, oldAck, "test"); err != nil {
			t.Logf("old ack refused: %v", err)
		}
		again, err := e.svc.Bundle(e.ctx, bike.id)
		if err != nil || again.Snapshot || again.Base != acked.Version || again.Version != pending.Version {
			t.Fatalf("after the old ack: base %d version %d snapshot %v err %v; want the delta %d→%d", again.Base, again.Version, again.Snapshot, err, acked.Version, pending.Version)
		}
		ack, err := bike.ApplyBundle(pending.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil || r.AckedVersion != pending.Version {
			t.Fatalf("ack of the pending bundle after pruning = %+v, %v", r, err)
		}
	})
}
