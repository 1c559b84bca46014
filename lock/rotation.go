package lock

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// rotatedKeys are the keys in force after a key-rotation bundle. They live
// in the door state, not the identity file, so that the new identity and
// the state of the bundle that brought it reach flash in one atomic rename:
// a power cut leaves the old keys with the old version or the new keys with
// the new one, never a mix (a lock holding new keys at the old version, or
// the reverse, would refuse every later bundle). The identity file keeps
// the provisioned keys; the doorcode hash key stays derived from them, so
// rotating does not orphan stored code hashes.
type rotatedKeys struct {
	PropertyPublicKey ed25519.PublicKey
	LockSeed          []byte
	LockSymmetricKey  []byte
	// OldPropertyPublicKey signed credentials still honoured if issued
	// before PropertyRotatedAt (they expire by themselves). Only the key
	// replaced by the latest property rotation is kept.
	OldPropertyPublicKey ed25519.PublicKey
	PropertyRotatedAt    time.Time
}

// keys is what the lock verifies and signs with right now.
type keys struct {
	propertyPub ed25519.PublicKey
	priv        ed25519.PrivateKey
	sym         []byte
	oldProperty ed25519.PublicKey
	rotatedAt   time.Time
}

// keysOf returns the keys in force for state st of the lock provisioned as p.
func keysOf(p *lockproto.Provisioning, st *doorState) keys {
	r := st.Keys
	if r == nil {
		return keys{propertyPub: p.PropertyPublicKey, priv: p.LockPrivate(), sym: p.LockSymmetricKey}
	}
	return keys{propertyPub: r.PropertyPublicKey, priv: ed25519.NewKeyFromSeed(r.LockSeed), sym: r.LockSymmetricKey,
		oldProperty: r.OldPropertyPublicKey, rotatedAt: r.PropertyRotatedAt}
}

// rotate returns the keys in force after rotation r (nil: cur unchanged).
func (k keys) rotate(cur *rotatedKeys, r *lockproto.KeyRotation) *rotatedKeys {
	if r == nil {
		return cur
	}
	next := &rotatedKeys{PropertyPublicKey: k.propertyPub, LockSeed: k.priv.Seed(), LockSymmetricKey: k.sym,
		OldPropertyPublicKey: k.oldProperty, PropertyRotatedAt: k.rotatedAt}
	if r.RotatesProperty() {
		next.OldPropertyPublicKey, next.PropertyRotatedAt = k.propertyPub, r.EffectiveAt
		next.PropertyPublicKey = r.PropertyPublicKey
	}
	if r.RotatesLock() {
		next.LockSeed, next.LockSymmetricKey = r.LockSeed, r.LockSymmetricKey
	}
	return next
}

// verifyCredential checks a credential against the property key in force;
// one signed by the key a rotation replaced is honoured only if it was
// issued before the rotation took effect, so no resident is locked out
// until their credential expires, and a leaked old key mints nothing new.
func (k keys) verifyCredential(data []byte) (*lockproto.Credential, error) {
	c, err := lockproto.VerifyCredential(k.propertyPub, data)
	if err == nil || k.oldProperty == nil {
		return c, err
	}
	old, oerr := lockproto.VerifyCredential(k.oldProperty, data)
	if oerr != nil {
		return nil, err
	}
	if !old.IssuedAt.Before(k.rotatedAt) {
		return nil, fmt.Errorf("credential: %w: signed with the replaced property key after its rotation", lockproto.ErrSignature)
	}
	return old, nil
}
