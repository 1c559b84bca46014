package lockproto

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// KeyRotation, carried in a bundle, replaces the keys a lock was
// provisioned with. The bundle that carries it is signed with the old
// property key and sealed under the old symmetric key like any bundle, so
// only the cloud can rotate and only this lock reads its new secrets. Once
// the lock applies it, everything uses the new keys: bundles must be signed
// by NewPropertyKey (when set) and sealed under LockSymmetricKey (when set);
// acks and event batches are signed with the new lock key.
type KeyRotation struct {
	// PropertyPublicKey, when set, is the property's new public key.
	PropertyPublicKey ed25519.PublicKey `cbor:"1,keyasint,omitempty"`
	// LockSeed and LockSymmetricKey, set together, are the lock's new
	// Ed25519 seed and its new bundle/log key.
	LockSeed         []byte `cbor:"2,keyasint,omitempty"`
	LockSymmetricKey []byte `cbor:"3,keyasint,omitempty"`
	// EffectiveAt is when the cloud started issuing credentials with the
	// new property key: a credential signed by the old key is honoured only
	// if it was issued before this (until it expires), so nobody is locked
	// out mid-day. Required with PropertyPublicKey.
	EffectiveAt time.Time `cbor:"4,keyasint,omitzero"`
}

// RotatesProperty reports whether r replaces the property key.
func (r *KeyRotation) RotatesProperty() bool { return len(r.PropertyPublicKey) != 0 }

// RotatesLock reports whether r replaces the lock's own keys.
func (r *KeyRotation) RotatesLock() bool { return len(r.LockSeed) != 0 }

// LockPublic returns the lock's new public key (nil if r keeps it).
func (r *KeyRotation) LockPublic() ed25519.PublicKey {
	if !r.RotatesLock() {
		return nil
	}
	return ed25519.NewKeyFromSeed(r.LockSeed).Public().(ed25519.PublicKey)
}

// RotationFor builds the rotation that moves a lock to keys (nil: keep the
// lock's keys) and, if propertyPub is set, to a new property key effective
// at effectiveAt.
func RotationFor(keys *LockKeys, propertyPub ed25519.PublicKey, effectiveAt time.Time) *KeyRotation {
	r := &KeyRotation{PropertyPublicKey: propertyPub}
	if keys != nil {
		r.LockSeed, r.LockSymmetricKey = keys.Private.Seed(), keys.Symmetric
	}
	if len(propertyPub) != 0 {
		r.EffectiveAt = effectiveAt.UTC().Truncate(time.Second)
	}
	return r
}

func (r *KeyRotation) validate() error {
	switch {
	case !r.RotatesProperty() && !r.RotatesLock() && len(r.LockSymmetricKey) == 0:
		return fmt.Errorf("%w: bundle: key rotation rotates nothing", ErrMalformed)
	case r.RotatesProperty() && len(r.PropertyPublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: bundle: rotation property key must be %d bytes", ErrMalformed, ed25519.PublicKeySize)
	case r.RotatesProperty() && r.EffectiveAt.IsZero():
		return fmt.Errorf("%w: bundle: property key rotation without effective time", ErrMalformed)
	case !r.RotatesProperty() && !r.EffectiveAt.IsZero():
		return fmt.Errorf("%w: bundle: effective time without a property key", ErrMalformed)
	case (len(r.LockSeed) != 0 || len(r.LockSymmetricKey) != 0) &&
		(len(r.LockSeed) != ed25519.SeedSize || len(r.LockSymmetricKey) != SymmetricKeySize):
		// Both or neither: a new signing key with the old sealing key (or
		// the reverse) would leave half of the lock's secrets on whoever
		// learnt the old ones.
		return fmt.Errorf("%w: bundle: rotation needs a %d-byte lock seed and a %d-byte symmetric key together", ErrMalformed, ed25519.SeedSize, SymmetricKeySize)
	}
	return nil
}
