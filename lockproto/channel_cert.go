package lockproto

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// ctxLockCert is the COSE context of a lock certificate.
const ctxLockCert = "application/dooros-lock-cert+cbor; v=2"

// MaxLockCertSize bounds a lock certificate before parsing.
const MaxLockCertSize = 1 << 10

// LockCertificate is the property's statement that PublicKey is the key of
// lock LockID. The phone gets it from the cloud and opens a channel to a
// door only with the key certified for that door's lock id.
type LockCertificate struct {
	V         uint8             `cbor:"0,keyasint"`
	LockID    string            `cbor:"1,keyasint"`
	PublicKey ed25519.PublicKey `cbor:"2,keyasint"`
	IssuedAt  time.Time         `cbor:"3,keyasint"`
}

// IssueLockCertificate signs c with the property key.
func IssueLockCertificate(propertyKey ed25519.PrivateKey, c LockCertificate) ([]byte, error) {
	c.V = Version
	if err := c.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&c)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxLockCert, payload)
}

// VerifyLockCertificate checks the property signature and the shape.
func VerifyLockCertificate(propertyPub ed25519.PublicKey, data []byte) (*LockCertificate, error) {
	payload, err := verify1(propertyPub, ctxLockCert, data, MaxLockCertSize)
	if err != nil {
		return nil, fmt.Errorf("lock certificate: %w", err)
	}
	var c LockCertificate
	if err := unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("lock certificate: %w", err)
	}
	if err := checkVersion(c.V); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *LockCertificate) validate() error {
	if c.LockID == "" || len(c.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: lock certificate needs a lock id and a %d-byte key", ErrMalformed, ed25519.PublicKeySize)
	}
	return nil
}
