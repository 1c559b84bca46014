package doorsync_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func (e *env) signingKey(token string) (store.PropertyKeyState, int, string) {
	e.t.Helper()
	r := e.Do("GET", "/api/v1/properties/"+e.prop()+"/signing-key", token, nil)
	var out store.PropertyKeyState
	if r.Status == 200 {
		r.Decode(e.t, &out)
	}
	return out, r.Status, string(r.Body)
}

func (e *env) rotatePropertyKey(token, propertyID string) (store.PropertyKeyState, int, string) {
	e.t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+propertyID+"/signing-key/rotate", token, nil)
	var out store.PropertyKeyState
	if r.Status == 202 {
		r.Decode(e.t, &out)
	}
	return out, r.Status, string(r.Body)
}

// credentials renews the phone's credentials: one per property key its
// doors' locks trust.
func (p *phone) credentials(t *testing.T) []store.IssuedCredential {
	t.Helper()
	r := p.e.Do("POST", "/api/v1/me/credentials", p.token, nil)
	if r.Status != 200 {
		t.Fatalf("credentials = %d: %s", r.Status, r.Body)
	}
	var out struct{ Items []store.IssuedCredential }
	r.Decode(t, &out)
	return out.Items
}

// checkIssued verifies, as a phone does, that each credential, its lock
// certificates and its time token are signed by the key it came with, and
// returns the credential per door and the key per door.
func checkIssued(t *testing.T, items []store.IssuedCredential) (creds map[string][]byte, keys map[string]ed25519.PublicKey) {
	t.Helper()
	creds, keys = map[string][]byte{}, map[string]ed25519.PublicKey{}
	for _, it := range items {
		pub, _ := base64.StdEncoding.DecodeString(it.PropertyPublicKey)
		raw, _ := base64.StdEncoding.DecodeString(it.Credential)
		c, err := lockproto.VerifyCredential(pub, raw)
		if err != nil {
			t.Fatalf("credential %s: %v", it.Serial, err)
		}
		tok, _ := base64.StdEncoding.DecodeString(it.TimeToken)
		if _, err := lockproto.VerifyTimeToken(pub, tok); err != nil {
			t.Fatalf("time token with credential %s: %v", it.Serial, err)
		}
		for _, door := range it.Doors {
			if _, dup := creds[door]; dup {
				t.Fatalf("door %s in two credentials", door)
			}
			if !slices.ContainsFunc(c.Locks, func(a lockproto.LockAccess) bool { return a.LockID == door }) {
				t.Fatalf("credential %s does not name door %s", it.Serial, door)
			}
			if cb64, ok := it.LockCertificates[door]; ok {
				cb, _ := base64.StdEncoding.DecodeString(cb64)
				if _, err := lockproto.VerifyLockCertificate(pub, cb); err != nil {
					t.Fatalf("lock certificate of %s: %v", door, err)
				}
			}
			creds[door], keys[door] = raw, pub
		}
	}
	return creds, keys
}

func (p *phone) unlockWith(l *simLock, cred []byte) bool {
	saved := p.cred
	defer func() { p.cred = saved }()
	p.cred = cred
	return p.unlockDirect(l).Granted
}

func decodeKey(t *testing.T, b64 string) ed25519.PublicKey {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("key %q: %v", b64, err)
	}
	return k
}

// TestDoorSync_PropertyKeyRotation: a Portfolio Manager rotates the
// property's signing key. The online Lobby takes the new key over MQTT at
// once; the offline Bike Room only when a phone couriers its bundle; a
// lock provisioned meanwhile gets the new key from the start. Throughout,
// every door keeps opening: each door gets credentials, lock certificates
// and time tokens signed by the key its lock trusts; a credential the old
// key signed before the rotation keeps working until it expires, one it
// signed after the rotation started is refused by a rotated lock, and
// neither a bundle nor a rotation signed by the stolen old key is accepted
// there. When every lock took the key, it is the only one.
func TestDoorSync_PropertyKeyRotation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		var bikeOffset atomic.Int64
		lobby, lp := e.provision("lobby")
		bike, bp := e.provision("bike", shiftedClock{&bikeOffset})
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for p.courier(t, bike, true) != 0 {
		}
		eventually(t, 15*time.Second, "lobby in sync", func() bool {
			v, acked, _, err := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && acked == v && int64(lobby.Status().Version) == v
		})
		before := p.cred // signed by the old key before the rotation
		oldPriv, err := e.keys.PropertySigner(e.ctx, e.prop())
		if err != nil {
			t.Fatal(err)
		}
		oldPub := oldPriv.Public().(ed25519.PublicKey)
		if !bp.Provisioning.PropertyPublicKey.Equal(oldPub) {
			t.Fatal("bike room provisioned with another key")
		}
		ks, status, body := e.signingKey(e.PMToken)
		if status != 200 || ks.Rotation != nil || ks.Fingerprint != store.KeyFingerprint(oldPub) {
			t.Fatalf("signing key = %d %+v: %s", status, ks, body)
		}

		// Who may: a resident no, a Property Manager with Device
		// Management no (403, nothing written), an unknown property 404.
		storetest.Manager(t, st, e.F.PM, "devices@example.com", &domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		devices := storetest.Token(t, st, "devices@example.com")
		if _, status, _ := e.rotatePropertyKey(p.token, e.prop()); status != 401 {
			t.Fatalf("resident rotation = %d, want 401", status)
		}
		if _, status, _ := e.rotatePropertyKey(devices, e.prop()); status != 403 {
			t.Fatalf("property manager rotation = %d, want 403", status)
		}
		if _, status, _ := e.signingKey(devices); status != 403 {
			t.Fatalf("property manager reads the signing key = %d, want 403", status)
		}
		if _, status, _ := e.rotatePropertyKey(e.PMToken, "no-such-property"); status != 404 {
			t.Fatalf("rotation of an unknown property = %d, want 404", status)
		}
		if ks, _, _ := e.signingKey(e.PMToken); ks.Rotation != nil {
			t.Fatal("a refused rotation started one")
		}
		if n := len(activity(t, e, store.EventPropertyKeyRotated)); n != 0 {
			t.Fatalf("%d rotation entries after refusals", n)
		}

		started, status, body := e.rotatePropertyKey(e.PMToken, e.prop())
		if status != 202 || started.Rotation == nil || started.Rotation.DoorsTotal != 2 {
			t.Fatalf("rotate = %d %+v: %s", status, started, body)
		}
		newPub := decodeKey(t, started.Rotation.NextPublicKey)
		if newPub.Equal(oldPub) || started.PublicKey != base64.StdEncoding.EncodeToString(oldPub) {
			t.Fatal("the rotation replaced the current key before any lock took the new one")
		}
		if _, status, body := e.rotatePropertyKey(e.PMToken, e.prop()); status != 409 || !strings.Contains(body, "under way") {
			t.Fatalf("second rotation while one is under way = %d: %s", status, body)
		}
		// A credential issued after the rotation started, for locks that
		// still trust the old key: signed by the old key.
		time.Sleep(time.Until(started.Rotation.Since))
		creds, keys := checkIssued(t, p.credentials(t))
		if !keys[bike.id].Equal(oldPub) {
			t.Fatal("bike room credential not signed by the key its lock trusts")
		}
		lateOld := creds[bike.id]

		// The online Lobby applies the rotation over MQTT.
		eventually(t, 15*time.Second, "lobby rotated", func() bool {
			ks, _, _ := e.signingKey(e.PMToken)
			return ks.Rotation != nil && ks.Rotation.DoorsRotated == 1
		})
		// A lock provisioned during the rotation gets the new key.
		gym, err := st.CreateDoor(e.ctx, e.F.PM, e.prop(), domain.DoorInput{Name: "Storage Room", Type: domain.DoorCommunal, Connectivity: domain.Offline})
		if err != nil {
			t.Fatal(err)
		}
		e.doors["gym"] = gym
		_, gp := e.provision("gym")
		if !gp.Provisioning.PropertyPublicKey.Equal(newPub) {
			t.Fatal("a lock provisioned during the rotation got the old key")
		}
		if ks, _, _ := e.signingKey(e.PMToken); ks.Rotation == nil || ks.Rotation.DoorsRotated != 2 || ks.Rotation.DoorsTotal != 3 {
			t.Fatalf("during the rotation: %+v", ks.Rotation)
		}

		// Split: the Lobby's credential by the new key, the Bike Room's by
		// the old one; certificates and time tokens alike.
		items := p.credentials(t)
		creds, keys = checkIssued(t, items)
		if len(items) != 2 || !keys[lobby.id].Equal(newPub) || !keys[bike.id].Equal(oldPub) {
			t.Fatalf("%d credentials during the rotation; lobby new key %v, bike old key %v", len(items), keys[lobby.id].Equal(newPub), keys[bike.id].Equal(oldPub))
		}
		if !p.unlockWith(lobby, creds[lobby.id]) || !p.unlockWith(bike, creds[bike.id]) {
			t.Fatal("a door refused the credential signed by the key its lock trusts")
		}
		// At the rotated Lobby: the old key's credential from before the
		// rotation still opens; the one it signed after is refused.
		if !p.unlockWith(lobby, before) {
			t.Fatal("credential issued before the rotation refused at the rotated lobby")
		}
		if p.unlockWith(lobby, lateOld) {
			t.Fatal("credential the old key signed after the rotation started opened the rotated lobby")
		}
		// The stolen old key: a forged credential, a bundle, a rotation
		// back to a key of the thief's — nothing the rotated lock takes.
		forged, err := lockproto.IssueCredential(oldPriv, lockproto.Credential{Serial: 77, PersonID: "thief", DeviceKey: p.priv.Public().(ed25519.PublicKey),
			Locks: []lockproto.LockAccess{{LockID: lobby.id}}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IssuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if p.unlockWith(lobby, forged) {
			t.Fatal("a credential freshly signed by the old key opened the rotated lobby")
		}
		thiefPub, _, _ := ed25519.GenerateKey(nil)
		for _, rot := range []*lockproto.KeyRotation{nil, lockproto.RotationFor(nil, thiefPub, time.Now())} {
			at := lobby.Status().Version
			sealed, err := lockproto.SealBundle(oldPriv, lp.Provisioning.LockSymmetricKey, lockproto.Bundle{LockID: lobby.id, Version: at + 100, Snapshot: true,
				TrustedTime: time.Now(), TimeZone: "UTC", MaxCredentialLifetime: 24 * time.Hour, Rotation: rot})
			if err != nil {
				t.Fatal(err)
			}
			ack, err := lobby.ApplyBundle(sealed)
			if ack != nil || !errors.Is(err, lockproto.ErrSignature) || lobby.Status().Version != at {
				t.Fatalf("bundle signed by the old key at the rotated lobby: ack %v, err %v, version %d→%d", ack != nil, err, at, lobby.Status().Version)
			}
		}

		// The offline Bike Room takes the key when a phone carries its
		// bundle; that was the last lock: the rotation finishes.
		if v := p.courier(t, bike, true); v == 0 {
			t.Fatal("no bundle for the bike room")
		}
		ks, _, _ = e.signingKey(e.PMToken)
		if ks.Rotation != nil || ks.PublicKey != started.Rotation.NextPublicKey || ks.PreviousFingerprint != store.KeyFingerprint(oldPub) || ks.RotatedAt == nil {
			t.Fatalf("after the last lock: %+v", ks)
		}
		if signers, err := e.keys.PropertySigners(e.ctx, e.prop()); err != nil || len(signers) != 1 || !signers[0].Public().(ed25519.PublicKey).Equal(newPub) {
			t.Fatalf("keyring after the rotation: %d keys, %v", len(signers), err)
		}
		if n := len(activity(t, e, store.EventPropertyKeyRotated)); n != 2 {
			t.Fatalf("%d rotation entries in Activity, want started and finished", n)
		}
		items = p.credentials(t)
		creds, keys = checkIssued(t, items)
		if len(items) != 1 || !keys[bike.id].Equal(newPub) || !keys[lobby.id].Equal(newPub) {
			t.Fatalf("after the rotation: %d credentials", len(items))
		}
		if !p.unlockWith(bike, creds[bike.id]) {
			t.Fatal("new credential refused at the bike room")
		}
		// Later bundles are signed with the new key and apply.
		e.invite("ben@example.com")
		if v := p.courier(t, bike, true); v == 0 || uint64(v) != bike.Status().Version {
			t.Fatalf("bundle after the rotation: carried %d, lock at %d", v, bike.Status().Version)
		}
		if !p.unlockWith(bike, before) {
			t.Fatal("credential issued before the rotation refused at the rotated bike room")
		}
		if p.unlockWith(bike, lateOld) {
			t.Fatal("credential the old key signed after the rotation started opened the rotated bike room")
		}
		// ... until it expires.
		c, err := lockproto.VerifyCredential(oldPub, before)
		if err != nil {
			t.Fatal(err)
		}
		bikeOffset.Store(int64(time.Until(c.NotAfter) + time.Minute))
		if p.unlockWith(bike, before) {
			t.Fatal("the old key's credential opened after it expired")
		}
		// Another rotation may start now.
		if _, status, body := e.rotatePropertyKey(e.PMToken, e.prop()); status != 202 {
			t.Fatalf("rotation after the first finished = %d: %s", status, body)
		}
	})
}

// TestDoorSync_PropertyKeyRotationAckLost: the phone that carried the
// rotation to the offline lock never delivered the ack. The lock now
// refuses bundles the old key signs, so the cloud must learn otherwise:
// the lock's own log (bundle.applied) completes the door's rotation, and
// the next bundle, signed with the new key, applies.
func TestDoorSync_PropertyKeyRotationAckLost(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for p.courier(t, bike, true) != 0 {
		}
		started, status, body := e.rotatePropertyKey(e.PMToken, e.prop())
		if status != 202 || started.Rotation == nil || started.Rotation.DoorsTotal != 1 {
			t.Fatalf("rotate = %d: %s", status, body)
		}
		if v := p.courier(t, bike, false); v == 0 {
			t.Fatal("no bundle carries the rotation")
		}
		if ks, _, _ := e.signingKey(e.PMToken); ks.Rotation == nil || ks.Rotation.DoorsRotated != 0 {
			t.Fatalf("rotated without an ack: %+v", ks.Rotation)
		}
		if _, gap := p.syncLog(t, bike); gap != 0 {
			t.Fatalf("log gap %d", gap)
		}
		ks, _, _ := e.signingKey(e.PMToken)
		if ks.Rotation != nil || ks.PublicKey != started.Rotation.NextPublicKey {
			t.Fatalf("the lock's log did not complete the rotation: %+v", ks)
		}
		// The cloud never learnt the lock's state from an ack, and every
		// bundle it sealed for the door was signed with the old key: with
		// no other change, the door still gets a version built with the
		// new key (a "wrong base" delta, then a snapshot), and syncs.
		for range 3 {
			if p.courier(t, bike, true) == 0 {
				break
			}
		}
		v, acked, _, err := st.DoorVersion(e.ctx, bike.id)
		if err != nil || acked != v || int64(bike.Status().Version) != v {
			t.Fatalf("door at %d, acked %d, lock at %d (%v)", v, acked, bike.Status().Version, err)
		}
	})
}
