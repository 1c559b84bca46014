package doorsync_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// courier is a phone carrying the door's pending bundle to l and the
// lock's ack back (ack: false drops the ack, as a phone killed mid-sync
// would). It returns the version carried (0: none pending).
func (p *phone) courier(t *testing.T, l *simLock, ack bool) int64 {
	t.Helper()
	for _, it := range p.mailbox() {
		if it.DoorID != l.id || it.Bundle == nil {
			continue
		}
		a, err := l.ApplyBundle(it.Bundle)
		if a == nil {
			t.Fatalf("lock refused the bundle of version %d: %v", it.Version, err)
		}
		if ack {
			if r := p.e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": l.id, "ack": a}); r.Status != 200 {
				t.Fatalf("ack = %d: %s", r.Status, r.Body)
			}
		}
		return it.Version
	}
	return 0
}

func (e *env) rotate(doorID string) (store.LockRotation, int) {
	e.t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/doors/"+doorID+"/lock/rotate", e.PMToken, nil)
	var out store.LockRotation
	if r.Status == 202 {
		r.Decode(e.t, &out)
	}
	return out, r.Status
}

// TestDoorSync_LockKeyRotationOffline: rotate → the next bundle, carried
// by a phone, gives the lock its new keys → its ack (signed with the new
// key) switches the cloud → later bundles, logs and lock certificates use
// the new key, and the old key no longer verifies anything.
func TestDoorSync_LockKeyRotationOffline(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for p.courier(t, bike, true) != 0 && bike.Status().Version == 0 {
		}
		oldPub := bike.PublicKey()

		// A resident may not rotate; a manager may, once at a time.
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/doors/"+bike.id+"/lock/rotate", p.token, nil); r.Status < 400 {
			t.Fatalf("resident rotated a lock: %d", r.Status)
		}
		rot, status := e.rotate(bike.id)
		if status != 202 || len(rot.PublicKey) != ed25519.PublicKeySize {
			t.Fatalf("rotate = %d %+v", status, rot)
		}
		if _, status := e.rotate(e.doors["lobby"].ID); status != 404 {
			t.Fatalf("rotating a door with no lock = %d, want 404", status)
		}
		if _, status := e.rotate("no-such-door"); status != 404 {
			t.Fatalf("rotating an unknown door = %d, want 404", status)
		}
		if _, status := e.rotate(bike.id); status != 409 {
			t.Fatalf("second rotation while one is pending = %d, want 409", status)
		}
		li, err := st.Lock(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		if !li.PublicKey.Equal(oldPub) || !li.PendingPublicKey.Equal(rot.PublicKey) {
			t.Fatal("the cloud switched keys before the lock acknowledged")
		}
		// The rotation travels in the next bundle.
		if v := p.courier(t, bike, true); v == 0 {
			t.Fatal("no bundle carries the rotation")
		}
		if !bike.PublicKey().Equal(rot.PublicKey) {
			t.Fatal("lock did not take its new key")
		}
		li, err = st.Lock(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		if !li.PublicKey.Equal(rot.PublicKey) || li.PendingPublicKey != nil {
			t.Fatalf("after the ack the cloud holds key %x, pending %x", li.PublicKey, li.PendingPublicKey)
		}
		// The cloud now seals under the new keys: the next bundle applies.
		if v := p.courier(t, bike, true); v == 0 || uint64(v) != bike.Status().Version {
			t.Fatalf("bundle after rotation: carried %d, lock at %d", v, bike.Status().Version)
		}
		// Logs verify with the new key.
		if added, _ := p.syncLog(t, bike); added == 0 {
			t.Fatal("no events accepted after rotation")
		}
		// An ack signed with the old key is refused now.
		forged, err := lockproto.SignAck(ed25519.NewKeyFromSeed(make([]byte, 32)), lockproto.Ack{LockID: bike.id, Status: lockproto.AckApplied, Version: 1, LockTime: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": bike.id, "ack": forged}); r.Status != 400 {
			t.Fatalf("ack signed by another key = %d", r.Status)
		}
		// Phones learn the new lock key with their next credentials.
		r := e.Do("POST", "/api/v1/me/credentials", p.token, nil)
		var creds struct{ Items []store.IssuedCredential }
		r.Decode(t, &creds)
		propPub, _ := base64.StdEncoding.DecodeString(creds.Items[0].PropertyPublicKey)
		raw, _ := base64.StdEncoding.DecodeString(creds.Items[0].LockCertificates[bike.id])
		cert, err := lockproto.VerifyLockCertificate(propPub, raw)
		if err != nil || !cert.PublicKey.Equal(rot.PublicKey) {
			t.Fatalf("lock certificate after rotation: %v (key %x)", err, cert)
		}
		// Another rotation may start now.
		if _, status := e.rotate(bike.id); status != 202 {
			t.Fatalf("rotation after the first completed = %d", status)
		}
	})
}

// TestDoorSync_LockKeyRotationAckLost: the phone that carried the rotation
// never delivered the ack. The lock's next event batch (under the new keys)
// completes the rotation, and the lock is brought up to date.
func TestDoorSync_LockKeyRotationAckLost(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		p.courier(t, bike, true)
		rot, status := e.rotate(bike.id)
		if status != 202 {
			t.Fatalf("rotate = %d", status)
		}
		if v := p.courier(t, bike, false); v == 0 || !bike.PublicKey().Equal(rot.PublicKey) {
			t.Fatalf("carried %d; lock key rotated: %v", v, bike.PublicKey().Equal(rot.PublicKey))
		}
		if _, gap := p.syncLog(t, bike); gap != 0 {
			t.Fatalf("log gap %d", gap)
		}
		li, err := st.Lock(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		if !li.PublicKey.Equal(rot.PublicKey) {
			t.Fatal("the event batch under the new keys did not complete the rotation")
		}
		// The lock gets in sync: a delta it refuses (wrong base) makes the
		// cloud send a snapshot, sealed under the new keys.
		for range 3 {
			it := p.mailbox()
			var pending []byte
			for _, m := range it {
				if m.DoorID == bike.id {
					pending = m.Bundle
				}
			}
			if pending == nil {
				break
			}
			a, err := bike.ApplyBundle(pending)
			if a == nil {
				t.Fatalf("lock refused the bundle unauthenticated: %v", err)
			}
			if err != nil && !errors.Is(err, lockproto.ErrWrongBase) && !errors.Is(err, lockproto.ErrStale) {
				t.Fatal(err)
			}
			if r := e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": bike.id, "ack": a}); r.Status != 200 {
				t.Fatalf("ack = %d: %s", r.Status, r.Body)
			}
		}
		v, acked, _, err := st.DoorVersion(e.ctx, bike.id)
		if err != nil {
			t.Fatal(err)
		}
		if acked != v || int64(bike.Status().Version) != v {
			t.Fatalf("door at %d, acked %d, lock at %d", v, acked, bike.Status().Version)
		}
	})
}

// TestDoorSync_LockKeyRotationOnline: the pusher delivers the rotation to
// an online lock over MQTT; its ack switches the cloud.
func TestDoorSync_LockKeyRotationOnline(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		rot, status := e.rotate(lobby.id)
		if status != 202 {
			t.Fatalf("rotate = %d", status)
		}
		eventually(t, 15*time.Second, "online lock takes its new keys and the cloud follows", func() bool {
			li, err := st.Lock(e.ctx, lobby.id)
			return err == nil && lobby.PublicKey().Equal(rot.PublicKey) && li.PublicKey.Equal(rot.PublicKey)
		})
		// And the bundle after it, sealed under the new keys, arrives.
		eventually(t, 15*time.Second, "online lock in sync after rotation", func() bool {
			v, acked, _, err := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && acked == v && int64(lobby.Status().Version) == v
		})
	})
}
