package lock_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// rotate applies the next version carrying a rotation to newKeys (nil: the
// lock keeps its keys) and newProp (nil: the property keeps its key),
// sealed with the OLD keys as the cloud must, and moves the door's view
// of the keys on. It returns the lock's ack.
func (d *door) rotate(newKeys *lockproto.LockKeys, newPub ed25519.PublicKey, newPriv ed25519.PrivateKey) []byte {
	d.t.Helper()
	b := lockproto.Bundle{LockID: d.keys.LockID, Base: d.version, Version: d.version + 1, TrustedTime: d.real,
		Rotation: lockproto.RotationFor(newKeys, newPub, d.real)}
	sealed, err := lockproto.SealBundle(d.propPriv, d.keys.Symmetric, b)
	if err != nil {
		d.t.Fatal(err)
	}
	ack, err := d.l.ApplyBundle(sealed)
	if err != nil {
		d.t.Fatal(err)
	}
	d.version++
	if newKeys != nil {
		d.keys = newKeys
	}
	if newPub != nil {
		d.propPub, d.propPriv = newPub, newPriv
	}
	return ack
}

func newKeys(t *testing.T, lockID string) *lockproto.LockKeys {
	k, err := lockproto.NewLockKeys(lockID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotationForgedWithoutOldPropertyKeyRefused(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p-1"}}})
	// The attacker knows the lock's symmetric key (say, a flash dump of an
	// unsealed lock) but not the property's private key.
	_, attackerPriv, _ := lockproto.NewPropertyKey()
	attackerPub, _, _ := lockproto.NewPropertyKey()
	forged, err := lockproto.SealBundle(attackerPriv, d.keys.Symmetric, lockproto.Bundle{LockID: d.keys.LockID, Base: 1, Version: 2,
		TrustedTime: d.real, Rotation: lockproto.RotationFor(newKeys(t, d.keys.LockID), attackerPub, d.real)})
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := d.l.ApplyBundle(forged); !errors.Is(err, lockproto.ErrSignature) || ack != nil {
		t.Fatalf("forged rotation: ack %v err %v, want a signature refusal and no ack", ack != nil, err)
	}
	// Nothing changed: the old keys still run the lock.
	if st := d.l.Status(); st.Version != 1 {
		t.Fatalf("version %d after a forged rotation", st.Version)
	}
	want(t, "old credential after forged rotation", d.unlock(d.cred("p-1", d.real, time.Hour)), true, lock.ReasonOK)
	d.mustBundle(lockproto.Bundle{})
}

func TestLockKeyRotation(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p-1"}}})
	old := d.keys
	next := newKeys(t, old.LockID)
	ack := d.rotate(next, nil, nil)
	if _, err := lockproto.VerifyAck(next.Public, old.LockID, ack); err != nil {
		t.Fatalf("rotation ack does not verify with the new lock key: %v", err)
	}
	if _, err := lockproto.VerifyAck(old.Public, old.LockID, ack); err == nil {
		t.Fatal("rotation ack verifies with the replaced lock key")
	}
	if !d.l.PublicKey().Equal(next.Public) {
		t.Fatal("lock reports its old public key")
	}
	// A bundle sealed under the old symmetric key is refused, even one
	// properly signed by the property (a replay or a stale cloud copy).
	stale, err := lockproto.SealBundle(d.propPriv, old.Symmetric, lockproto.Bundle{LockID: old.LockID, Base: d.version, Version: d.version + 1, TrustedTime: d.real})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.l.ApplyBundle(stale); !errors.Is(err, lockproto.ErrDecrypt) {
		t.Fatalf("bundle under the old symmetric key: %v, want decrypt refusal", err)
	}
	// Event batches: signed with the new key and sealed under the new one.
	ev := d.events()
	if count(ev, lockproto.EventBundleApplied) != 2 {
		t.Fatalf("log: %d bundle.applied, want 2", count(ev, lockproto.EventBundleApplied))
	}
	raw, err := d.l.EventsSince(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := lockproto.OpenEventBatch(old.Public, old.LockID, old.Symmetric, raw); err == nil {
		t.Fatal("event batch opens with the replaced lock keys")
	}
	// Phones that still pin the old lock key cannot open a channel: the
	// lock proves itself with the new key only.
	hs, hello, _ := lockproto.NewPhoneHandshake(old.LockID, old.Public)
	if _, accept, err := d.l.OpenSession(hello); err == nil {
		if _, err := hs.Finish(accept); err == nil {
			t.Fatal("a phone pinning the old lock key accepted the rotated lock")
		}
	}
	// Everything else goes on, across a reboot: doorcodes survive (their
	// hash key is the provisioned one), credentials open.
	d.boot()
	want(t, "doorcode after rotation", d.code("1234567"), true, lock.ReasonOK)
	want(t, "credential after rotation", d.unlock(d.cred("p-1", d.real, time.Hour)), true, lock.ReasonOK)
	d.mustBundle(lockproto.Bundle{})
}

func TestPropertyKeyRotation(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	oldPub, oldPriv := d.propPub, d.propPriv
	issuedBefore := d.cred("p-1", d.real, 8*time.Hour)
	d.wait(time.Minute)
	newPub, newPriv, _ := lockproto.NewPropertyKey()
	d.rotate(nil, newPub, newPriv)
	d.wait(time.Minute)

	// Issued before the rotation with the old key: keeps working until it
	// expires, so nobody is locked out mid-day.
	want(t, "old-key credential issued before rotation", d.unlock(issuedBefore), true, lock.ReasonOK)
	// Issued after the rotation with the old key (a stolen old key, or a
	// stale cloud node): refused.
	d.propPub, d.propPriv = oldPub, oldPriv
	lateOld := d.cred("p-1", d.real, time.Hour)
	d.propPub, d.propPriv = newPub, newPriv
	want(t, "old-key credential issued after rotation", d.unlock(lateOld), false, lock.ReasonBadCredential)
	want(t, "new-key credential", d.unlock(d.cred("p-1", d.real, time.Hour)), true, lock.ReasonOK)

	// A bundle signed with the old property key is refused.
	stale, err := lockproto.SealBundle(oldPriv, d.keys.Symmetric, lockproto.Bundle{LockID: d.keys.LockID, Base: d.version, Version: d.version + 1, TrustedTime: d.real})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.l.ApplyBundle(stale); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("bundle signed with the old property key: %v, want signature refusal", err)
	}
	// So is a time token.
	tok, err := lockproto.IssueTimeToken(oldPriv, d.real, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.l.OfferTime(tok); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("time token signed with the old property key: %v", err)
	}
	// The rule survives a reboot, and the old credential still expires.
	d.boot()
	want(t, "old-key credential after reboot", d.unlock(issuedBefore), true, lock.ReasonOK)
	want(t, "late old-key credential after reboot", d.unlock(lateOld), false, lock.ReasonBadCredential)
	d.wait(9 * time.Hour)
	d.mustBundle(lockproto.Bundle{})
	want(t, "old-key credential once expired", d.unlock(issuedBefore), false, lock.ReasonExpired)

	// A second property rotation drops the first key altogether.
	newer, newerPriv, _ := lockproto.NewPropertyKey()
	d.rotate(nil, newer, newerPriv)
	d.propPub, d.propPriv = oldPub, oldPriv
	ancient := d.cred("p-1", d.real.Add(-30*time.Minute), time.Hour)
	d.propPub, d.propPriv = newer, newerPriv
	want(t, "first key's credential after a second rotation", d.unlock(ancient), false, lock.ReasonBadCredential)
}

func TestRotationMalformedRefused(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	k := newKeys(t, d.keys.LockID)
	pub, _, _ := lockproto.NewPropertyKey()
	bad := map[string]*lockproto.KeyRotation{
		"empty":                 {},
		"seed without sym key":  {LockSeed: k.Private.Seed()},
		"sym key without seed":  {LockSymmetricKey: k.Symmetric},
		"short seed":            {LockSeed: k.Private.Seed()[:16], LockSymmetricKey: k.Symmetric},
		"short property key":    {PropertyPublicKey: pub[:31], EffectiveAt: d.real},
		"property key no time":  {PropertyPublicKey: pub},
		"time without property": {LockSeed: k.Private.Seed(), LockSymmetricKey: k.Symmetric, EffectiveAt: d.real},
	}
	for name, r := range bad {
		_, err := lockproto.SealBundle(d.propPriv, d.keys.Symmetric, lockproto.Bundle{LockID: d.keys.LockID, Base: 1, Version: 2, TrustedTime: d.real, Rotation: r})
		if !errors.Is(err, lockproto.ErrMalformed) {
			t.Errorf("%s: sealing gave %v, want malformed", name, err)
		}
	}
	// The lock is untouched and takes the next honest bundle.
	d.mustBundle(lockproto.Bundle{})
}
