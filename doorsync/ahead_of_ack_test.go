package doorsync_test

import (
	"errors"
	"testing"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestBuildAheadOfAck: while a lock's ack of version v is still queued,
// the next bundle is built as a delta from v (store.BuildOptions.AssumeBase)
// and the lock that holds v applies it: the revoked resident is refused
// before the ack of v was ever recorded. A lock that does not hold v
// refuses the delta and asks for a snapshot: a wrong guess costs a round
// trip, never a wrong state. A door whose assumed version is already its
// current one, or whose assumed version has no stored bundle, is not
// built (ErrAckPending).
func TestBuildAheadOfAck(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, p := e.provision("bike")
		twin := bootLock(t, p.Provisioning, lock.Options{}) // the same lock, left behind at version 1
		bundle := func(opts store.BuildOptions) store.BundleBuild {
			t.Helper()
			var out store.BundleBuild
			st.BuildDoorBundles(e.ctx, e.keys, e.keys, []string{bike.id}, opts, func(b store.BundleBuild) { out = b })
			return out
		}
		first, err := e.svc.Bundle(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []*lock.Lock{bike.Lock, twin} {
			ack, err := l.ApplyBundle(first.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if l == bike.Lock {
				if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil {
					t.Fatal(err)
				}
			}
		}

		ana := e.invite("ana@example.com")
		var code string
		if err := st.DB().QueryRow(`SELECT code FROM doorcodes WHERE person_id = $1`, ana.ID).Scan(&code); err != nil {
			t.Fatal(err)
		}
		granted, err := e.svc.Bundle(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		queuedAck, err := bike.ApplyBundle(granted.Sealed) // applied; its ack not recorded yet
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := bike.EnterCode(code); !d.Granted {
			t.Fatal("the lock does not open for Ana's code after the grant")
		}
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+ana.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}

		// Without the assumption the delta is from version 1, which the lock left.
		plain := bundle(store.BuildOptions{})
		if plain.Err != nil || plain.Bundle.Base != first.Version {
			t.Fatalf("without AssumeBase: base %d, err %v; want a delta from %d", plain.Bundle.Base, plain.Err, first.Version)
		}
		if _, err := bike.ApplyBundle(plain.Bundle.Sealed); !errors.Is(err, lockproto.ErrWrongBase) {
			t.Fatalf("the lock at version %d applied a delta from %d: %v", granted.Version, first.Version, err)
		}

		ahead := bundle(store.BuildOptions{AssumeBase: map[string]int64{bike.id: granted.Version}})
		if ahead.Err != nil || ahead.Bundle.Snapshot || ahead.Bundle.Base != granted.Version {
			t.Fatalf("AssumeBase %d: base %d snapshot %v err %v; want a delta from %d", granted.Version, ahead.Bundle.Base, ahead.Bundle.Snapshot, ahead.Err, granted.Version)
		}
		revokedAck, err := bike.ApplyBundle(ahead.Bundle.Sealed)
		if err != nil {
			t.Fatalf("the lock holding version %d refused the delta built ahead of its ack: %v", granted.Version, err)
		}
		if d, _ := bike.EnterCode(code); d.Granted {
			t.Fatal("the lock still opens for Ana's revoked code")
		}

		// The lock left behind refuses the delta and asks for a snapshot.
		if _, err := twin.ApplyBundle(ahead.Bundle.Sealed); !errors.Is(err, lockproto.ErrWrongBase) {
			t.Fatalf("a lock at version %d applied a delta from %d: %v", first.Version, granted.Version, err)
		}
		if got := twin.Status().Version; got != uint64(first.Version) {
			t.Fatalf("the refusing lock moved to version %d", got)
		}

		// The acks arrive in order and the door is in sync.
		for _, ack := range [][]byte{queuedAck, revokedAck} {
			if _, err := e.svc.HandleAck(e.ctx, bike.id, ack, "test"); err != nil {
				t.Fatal(err)
			}
		}
		v, acked, _, err := st.DoorVersion(e.ctx, bike.id)
		if err != nil || acked != v || v != ahead.Bundle.Version {
			t.Fatalf("door at %d, acked %d (%v); want both at %d", v, acked, err, ahead.Bundle.Version)
		}

		// Not built: the assumed version is the door's own (its ack may
		// complete it), or no bundle of it was stored.
		e.invite("ben@example.com")
		cur, _, _, err := st.DoorVersion(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		if b := bundle(store.BuildOptions{AssumeBase: map[string]int64{bike.id: cur}}); !errors.Is(b.Err, store.ErrAckPending) {
			t.Fatalf("AssumeBase of the current version %d: %+v, want ErrAckPending", cur, b.Err)
		}
		e.invite("cleo@example.com")
		if b := bundle(store.BuildOptions{AssumeBase: map[string]int64{bike.id: cur}}); !errors.Is(b.Err, store.ErrAckPending) {
			t.Fatalf("AssumeBase %d with no bundle of that version stored: %v, want ErrAckPending", cur, b.Err)
		}
		// An assumed version the recorded ack already passed changes nothing.
		if b := bundle(store.BuildOptions{AssumeBase: map[string]int64{bike.id: acked}}); b.Err != nil || b.Bundle.Base != acked {
			t.Fatalf("AssumeBase at the acknowledged version: base %d err %v; want the ordinary delta from %d", b.Bundle.Base, b.Err, acked)
		}
	})
}

// TestBuildConnectedOnly: a door listed in ConnectedOnly whose lock has
// reported no status since it was provisioned is not built
// (ErrLockDisconnected); once it has reported one it is, even "offline"; a
// door not listed is built whatever its lock's status.
func TestBuildConnectedOnly(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		build := func(opts store.BuildOptions) error {
			var out store.BundleBuild
			st.BuildDoorBundles(e.ctx, e.keys, e.keys, []string{bike.id}, opts, func(b store.BundleBuild) { out = b })
			return out.Err
		}
		only := store.BuildOptions{ConnectedOnly: map[string]bool{bike.id: true}}
		if err := build(only); !errors.Is(err, store.ErrLockDisconnected) {
			t.Fatalf("a lock that never reported online: %v, want ErrLockDisconnected", err)
		}
		if err := build(store.BuildOptions{ConnectedOnly: map[string]bool{"another-door": true}}); err != nil {
			t.Fatalf("door not listed: %v, want it built", err)
		}
		if err := st.RecordLockStatus(e.ctx, bike.id, store.LockOnline); err != nil {
			t.Fatal(err)
		}
		if err := build(only); err != nil {
			t.Fatalf("a lock that reported online: %v, want it built", err)
		}
		if err := st.RecordLockStatus(e.ctx, bike.id, "offline"); err != nil {
			t.Fatal(err)
		}
		// A lock that has connected is built for whatever its last status:
		// its old session's will can be recorded after its new session's
		// "online" (TestDoorSync_LateWillDoesNotDelayRevocation).
		if err := build(only); err != nil {
			t.Fatalf("a lock whose will said offline after it had connected: %v, want it built", err)
		}
		// Provisioning again forgets the status: the new lock has not connected.
		if _, err := e.svc.Provision(e.ctx, e.F.PM, e.prop(), bike.id); err != nil {
			t.Fatal(err)
		}
		if err := build(only); !errors.Is(err, store.ErrLockDisconnected) {
			t.Fatalf("a re-provisioned lock that has not connected: %v, want ErrLockDisconnected", err)
		}
	})
}
