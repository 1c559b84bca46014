package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

func rotationBundle(tb testing.TB, fx *fixture) (*lockproto.KeyRotation, []byte) {
	tb.Helper()
	nk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	np := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	r := lockproto.RotationFor(&lockproto.LockKeys{LockID: "lock-1", Public: nk.Public().(ed25519.PublicKey), Private: nk, Symmetric: bytes.Repeat([]byte{9}, 32)},
		np.Public().(ed25519.PublicKey), now)
	sealed, err := lockproto.SealBundle(fx.propPriv, fx.lock.Symmetric, lockproto.Bundle{LockID: "lock-1", Version: 5, Snapshot: true, TrustedTime: now, Rotation: r})
	if err != nil {
		tb.Fatal(err)
	}
	return r, sealed
}

func TestRotationRoundTrip(t *testing.T) {
	fx := fixedFixture()
	r, sealed := rotationBundle(t, fx)
	b, err := lockproto.OpenBundle(fx.propPub, "lock-1", fx.lock.Symmetric, sealed)
	if err != nil {
		t.Fatal(err)
	}
	got := b.Rotation
	if got == nil || !got.PropertyPublicKey.Equal(r.PropertyPublicKey) || !bytes.Equal(got.LockSeed, r.LockSeed) ||
		!bytes.Equal(got.LockSymmetricKey, r.LockSymmetricKey) || !got.EffectiveAt.Equal(r.EffectiveAt) || !b.Rotation.RotatesLock() || !b.Rotation.RotatesProperty() {
		t.Fatalf("rotation after round trip = %+v, want %+v", b.Rotation, r)
	}
	if !b.Rotation.LockPublic().Equal(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public()) {
		t.Fatal("LockPublic does not derive the new public key")
	}
	// The new secrets are inside the AEAD: not in the envelope's clear.
	if bytes.Contains(sealed, r.LockSeed) || bytes.Contains(sealed, r.LockSymmetricKey) {
		t.Fatal("new lock secrets travel in the clear")
	}
	// Only this lock's symmetric key opens it.
	if _, err := lockproto.OpenBundle(fx.propPub, "lock-1", bytes.Repeat([]byte{5}, 32), sealed); !errors.Is(err, lockproto.ErrDecrypt) {
		t.Fatalf("opened under another key: %v", err)
	}
}

// FuzzOpenRotationBundle: a rotation bundle is the one bundle that hands
// out keys; mutated bytes must never open to anything but what was signed.
func FuzzOpenRotationBundle(f *testing.F) {
	fx := fixedFixture()
	_, good := rotationBundle(f, fx)
	want, err := lockproto.OpenBundle(fx.propPub, "lock-1", fx.lock.Symmetric, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := lockproto.OpenBundle(fx.propPub, "lock-1", fx.lock.Symmetric, data)
		if err == nil && !reflect.DeepEqual(b, want) {
			t.Fatalf("accepted a rotation the property never signed: %+v", b)
		}
	})
}
