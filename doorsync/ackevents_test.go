package doorsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// Events inside the ack (lockproto.SignAckWithEvents): threat-model rows
// of docs/lock-protocol.md ("Events in the ack"), through the exported
// service the MQTT and phone paths share (HandleAck).

// ackEventsEnv provisions the offline Bike Room and brings its lock to
// the first version, answering with an ack that carries its events.
func ackEventsEnv(t *testing.T, st *store.Store) (*env, *simLock, []byte, store.DoorBundle) {
	t.Helper()
	e := newEnv(t, st, "")
	bike, _ := e.provision("bike")
	first, err := e.svc.Bundle(e.ctx, bike.id)
	if err != nil {
		t.Fatal(err)
	}
	ack, next, err := bike.ApplyBundleWithEvents(first.Sealed, 1)
	if err != nil {
		t.Fatal(err)
	}
	if next <= 1 || next != bike.Status().LogNext {
		t.Fatalf("ack carried events up to %d, lock's log ends at %d", next, bike.Status().LogNext)
	}
	return e, bike, ack, first
}

func bundleApplied(t *testing.T, e *env) int {
	t.Helper()
	return len(activity(t, e, store.EventBundleApplied))
}

// One message records both: the ack moves the door and its events reach
// Activity; the cloud's log position moves past them, so a batch with
// the same events (both paths) and a replay of the ack add nothing.
func TestAckEvents_RecordedOnceWhateverThePath(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, bike, ack, _ := ackEventsEnv(t, st)
		res, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test")
		if err != nil || res.Status != "applied" || res.AckedVersion != int64(bike.Status().Version) {
			t.Fatalf("ack with events = %+v, %v", res, err)
		}
		if n := bundleApplied(t, e); n != 1 {
			t.Fatalf("bundle.applied in Activity = %d, want 1", n)
		}
		batch, err := bike.EventsSince(1)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := e.svc.HandleEvents(e.ctx, bike.id, batch, "test")
		if err != nil || lr.Added != 0 || lr.LogNext != bike.Status().LogNext {
			t.Fatalf("the same events as a batch = %+v, %v; want nothing added, log at %d", lr, err, bike.Status().LogNext)
		}
		if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "replay"); err != nil {
			t.Fatalf("replayed ack: %v", err)
		}
		if n := bundleApplied(t, e); n != 1 {
			t.Fatalf("after a replay and a batch, bundle.applied in Activity = %d, want 1", n)
		}
	})
}

// The events come in the ack only once the batch path delivered the
// earlier ones, or not: either order ends with each event stored once.
func TestAckEvents_BatchAfterAckFillsEarlierEvents(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		first, err := e.svc.Bundle(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		bike.TapCard("UNKNOWN-1") // after the boot event: both before the bundle
		from := bike.Status().LogNext
		ack, _, err := bike.ApplyBundleWithEvents(first.Sealed, from) // carries the events after them only
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil {
			t.Fatal(err)
		}
		if n := bundleApplied(t, e); n != 1 {
			t.Fatalf("events after a hole not stored: bundle.applied = %d", n)
		}
		if g := activity(t, e, store.EventLogGap); len(g) != 0 {
			t.Fatalf("an event still on the lock flagged as lost: %+v", g)
		}
		batch, err := bike.EventsSince(1)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := e.svc.HandleEvents(e.ctx, bike.id, batch, "test")
		if err != nil || lr.Added != int(from-1) || lr.LogNext != bike.Status().LogNext {
			t.Fatalf("the batch filling the hole = %+v, %v; want %d added, log at %d", lr, err, from-1, bike.Status().LogNext)
		}
		if n := len(activity(t, e, domain.EventDoorDenied)); n != 1 {
			t.Fatalf("denials = %d, want 1", n)
		}
	})
}

// An ack carrying events, signed by another lock (its key, its symmetric
// key), is refused whole for this door: nothing of it is recorded.
func TestAckEvents_AnotherLocksAckRefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, bike, _, first := ackEventsEnv(t, st)
		lobby, _ := e.provision("lobby")
		lb, err := e.svc.Bundle(e.ctx, lobby.id)
		if err != nil {
			t.Fatal(err)
		}
		lobbyAck, _, err := lobby.ApplyBundleWithEvents(lb.Sealed, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.HandleAck(e.ctx, bike.id, lobbyAck, "test"); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("another lock's ack for the bike = %v, want invalid", err)
		}
		// A stranger lock provisioned with the bike's id but its own keys.
		stranger, err := lockproto.NewLockKeys(bike.id)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := lockproto.SignAckWithEvents(stranger.Private, stranger.Symmetric, lockproto.Ack{LockID: bike.id, Status: lockproto.AckApplied,
			Version: 1, Bundle: lockproto.BundleDigest(first.Sealed), LogNext: 2},
			lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Next: 2, Events: []lockproto.Event{{Seq: 1, Kind: lockproto.EventBoot}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.HandleAck(e.ctx, bike.id, forged, "test"); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("ack signed by a stranger's key = %v, want invalid", err)
		}
		if n := bundleApplied(t, e); n != 0 {
			t.Fatalf("refused acks put %d events in Activity", n)
		}
		if v, acked, _, _ := st.DoorVersion(e.ctx, bike.id); acked != 0 {
			t.Fatalf("refused acks moved the door: acked %d of %d", acked, v)
		}
	})
}

// A relay that alters any byte of an ack with events (the sealed events
// included) gets it refused whole.
func TestAckEvents_AlteredAckRefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, bike, ack, _ := ackEventsEnv(t, st)
		for _, i := range []int{len(ack) / 3, len(ack) / 2, len(ack) - 70, len(ack) - 1} {
			bad := append([]byte(nil), ack...)
			bad[i] ^= 0x01
			if _, err := e.svc.HandleAck(e.ctx, bike.id, bad, "test"); domain.ErrorCode(err) != domain.EInvalid {
				t.Fatalf("ack altered at byte %d of %d = %v, want invalid", i, len(ack), err)
			}
		}
		if n := bundleApplied(t, e); n != 0 {
			t.Fatalf("altered acks put %d events in Activity", n)
		}
	})
}

// An ack for a bundle the lock refused (stale: a replayed bundle) still
// carries authentic events: they are recorded, once, and the ack says
// where the lock stands without moving anything back.
func TestAckEvents_StaleAckCarriesEvents(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, bike, ack, first := ackEventsEnv(t, st)
		if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil {
			t.Fatal(err)
		}
		from := bike.Status().LogNext
		stale, next, err := bike.ApplyBundleWithEvents(first.Sealed, from)
		if err == nil || stale == nil || next <= from {
			t.Fatalf("replayed bundle: ack %v, events to %d from %d, err %v; want a stale ack carrying the refusal", stale != nil, next, from, err)
		}
		res, err := e.svc.HandleAck(e.ctx, bike.id, stale, "test")
		if err != nil || res.Status != "stale" || res.AckedVersion != 1 {
			t.Fatalf("stale ack with events = %+v, %v", res, err)
		}
		if r := activity(t, e, store.EventBundleRefused); len(r) != 1 {
			t.Fatalf("the refusal the stale ack carried: %d in Activity, want 1", len(r))
		}
	})
}

// A second history signed with the lock's key (a lock restored from an
// old image, or a copied key) in an ack: the ack is recorded — it is the
// lock's — but its events are refused and the fork flagged, as for a batch.
func TestAckEvents_ForkedEventsRefusedAckKept(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, prov := e.provision("bike")
		twin := bootLock(t, prov.Provisioning, lock.Options{})
		bike.TapCard("HISTORY-A")
		batch, err := bike.EventsSince(1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.HandleEvents(e.ctx, bike.id, batch, "test"); err != nil {
			t.Fatal(err)
		}
		twin.TapCard("HISTORY-B")
		first, err := e.svc.Bundle(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		forked, _, err := twin.ApplyBundleWithEvents(first.Sealed, 1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.HandleAck(e.ctx, bike.id, forked, "test")
		if domain.ErrorCode(err) != domain.EConflict || res.Status != "applied" || res.AckedVersion != 1 {
			t.Fatalf("ack with forked events = %+v, %v; want the ack recorded and a conflict for its events", res, err)
		}
		if f := activity(t, e, store.EventLogFork); len(f) != 1 || !strings.Contains(f[0].Detail, "forks at event") {
			t.Fatalf("fork flags = %+v, want one", f)
		}
		if n := len(activity(t, e, domain.EventDoorDenied)); n != 1 {
			t.Fatalf("denials in Activity = %d, want only the stored history's", n)
		}
		if n := bundleApplied(t, e); n != 0 {
			t.Fatalf("events of the forked history reached Activity (%d)", n)
		}
	})
}

// A lock-key rotation on the firmware's MQTT path (locksim.RunMQTT): the
// rotation's ack is signed with the new lock key and carries its events
// sealed under the new symmetric key; the cloud opens it with the pending
// keys, switches, and holds every event the lock logged.
func TestAckEvents_LockKeyRotationOnline(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		go locksim.RunMQTT(e.ctx, e.url, lp.MQTTPassword, lobby.Lock, nil)
		eventually(t, 15*time.Second, "online lock in sync", func() bool {
			v, acked, _, err := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && acked == v && int64(lobby.Status().Version) == v
		})
		rot, status := e.rotate(lobby.id)
		if status != 202 {
			t.Fatalf("rotate = %d", status)
		}
		eventually(t, 15*time.Second, "the cloud follows the rotation and holds the lock's whole log", func() bool {
			li, err := st.Lock(e.ctx, lobby.id)
			v, acked, _, _ := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && lobby.PublicKey().Equal(rot.PublicKey) && li.PublicKey.Equal(rot.PublicKey) &&
				acked == v && int64(lobby.Status().Version) == v && p.logFrom(t, lobby.id) == lobby.Status().LogNext
		})
		if g := activity(t, e, store.EventLogGap); len(g) != 0 {
			t.Fatalf("gaps: %+v", g)
		}
	})
}
