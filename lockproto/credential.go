package lockproto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"
)

// DefaultCredentialLifetime is the property setting's default (§4.2).
const DefaultCredentialLifetime = 24 * time.Hour

// Credential is a short-lived, cloud-signed capability held by a phone. It
// works at an offline lock with no sync, and stops working by itself at
// NotAfter, which is how a revoked phone that stays offline loses access.
type Credential struct {
	V        uint8  `cbor:"0,keyasint"`
	Serial   uint64 `cbor:"1,keyasint"`
	PersonID string `cbor:"2,keyasint"`
	// DeviceKey is the public key of the phone (Ed25519, 32 bytes, or
	// uncompressed P-256, 65 bytes: devicekey.go); only that phone can
	// answer a challenge with this credential.
	DeviceKey []byte       `cbor:"3,keyasint"`
	Locks     []LockAccess `cbor:"4,keyasint"`
	NotBefore time.Time    `cbor:"5,keyasint"`
	NotAfter  time.Time    `cbor:"6,keyasint"`
	// IssuedAt is what revocations compare against: a revocation refuses
	// every credential issued before it took effect.
	IssuedAt time.Time `cbor:"7,keyasint"`
	// SyncOnly marks a courier credential: it proves the phone to the lock
	// so it may deliver bundles and read the (sealed) log, and never opens
	// the door. The cloud gives one to staff and to phones carrying a
	// door's pending bundle without holding a key there (issue 11). A lock
	// that predates the field refuses the credential (unknown field):
	// it fails closed.
	SyncOnly bool `cbor:"8,keyasint,omitempty"`
}

// LockAccess names one lock and the holder's weekly schedule at that door;
// schedules are per door because a key's schedule is.
type LockAccess struct {
	LockID   string   `cbor:"1,keyasint"`
	Schedule Schedule `cbor:"2,keyasint,omitempty"`
}

// CredentialWindow computes the validity window of a credential issued at
// issuedAt: from the grant start, until the lifetime runs out or the grant
// expires, whichever is first. A zero grantExpiry means the grant has none.
func CredentialWindow(issuedAt time.Time, lifetime time.Duration, grantStart, grantExpiry time.Time) (notBefore, notAfter time.Time) {
	notAfter = issuedAt.Add(lifetime)
	if !grantExpiry.IsZero() && grantExpiry.Before(notAfter) {
		notAfter = grantExpiry
	}
	return grantStart, notAfter
}

// Access returns the holder's access at lockID, if the credential names it.
func (c *Credential) Access(lockID string) (LockAccess, bool) {
	for _, a := range c.Locks {
		if a.LockID == lockID {
			return a, true
		}
	}
	return LockAccess{}, false
}

// ValidAt reports whether t is inside [NotBefore, NotAfter).
func (c *Credential) ValidAt(t time.Time) bool {
	return !t.Before(c.NotBefore) && t.Before(c.NotAfter)
}

func (c *Credential) validate() error {
	if err := checkVersion(c.V); err != nil {
		return err
	}
	switch {
	case c.Serial == 0:
		return fmt.Errorf("%w: credential: serial is required", ErrMalformed)
	case c.PersonID == "":
		return fmt.Errorf("%w: credential: person id is required", ErrMalformed)
	case ValidDeviceKey(c.DeviceKey) != nil:
		return fmt.Errorf("credential: %w", ValidDeviceKey(c.DeviceKey))
	case len(c.Locks) == 0:
		return fmt.Errorf("%w: credential: no locks", ErrMalformed)
	case c.NotBefore.IsZero() || c.NotAfter.IsZero() || c.IssuedAt.IsZero():
		return fmt.Errorf("%w: credential: window and issue time are required", ErrMalformed)
	case !c.NotBefore.Before(c.NotAfter):
		return fmt.Errorf("%w: credential: empty validity window", ErrMalformed)
	}
	for _, a := range c.Locks {
		if a.LockID == "" {
			return fmt.Errorf("%w: credential: empty lock id", ErrMalformed)
		}
		if err := a.Schedule.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// IssueCredential signs c with the property key. V is set for the caller.
func IssueCredential(propertyKey ed25519.PrivateKey, c Credential) ([]byte, error) {
	c.V = Version
	c.NotBefore = c.NotBefore.Truncate(time.Second)
	c.NotAfter = c.NotAfter.Truncate(time.Second)
	c.IssuedAt = c.IssuedAt.Truncate(time.Second)
	if err := c.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&c)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxCredential, payload)
}

// VerifyCredential checks the property's signature and decodes the credential.
// It does not judge time, lock or revocation; the lock does that.
func VerifyCredential(propertyPub ed25519.PublicKey, data []byte) (*Credential, error) {
	payload, err := verify1(propertyPub, ctxCredential, data, MaxCredentialSize)
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	var c Credential
	if err := unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Lifetime is how long the credential was issued for: NotAfter − IssuedAt.
func (c *Credential) Lifetime() time.Duration { return c.NotAfter.Sub(c.IssuedAt) }

// WithinCeiling reports whether the credential's lifetime is at most
// ceiling, the property's lifetime the lock was told. A lock refuses longer
// ones: otherwise a credential signed for ten years (a cloud bug, a leaked
// signing path) would outlive every revocation the lock keeps. A zero
// ceiling means none was told.
func (c *Credential) WithinCeiling(ceiling time.Duration) bool {
	return ceiling <= 0 || c.Lifetime() <= ceiling
}

// SameDevice reports whether key is the credential's device key.
func (c *Credential) SameDevice(key []byte) bool {
	return bytes.Equal(c.DeviceKey, key)
}
