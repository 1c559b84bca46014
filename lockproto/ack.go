package lockproto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"
)

// AckStatus is what a lock did with a bundle.
type AckStatus uint8

const (
	// AckApplied: the lock is now at the bundle's version.
	AckApplied AckStatus = 1
	// AckStale: the lock already had this version or a newer one.
	AckStale AckStatus = 2
	// AckNeedSnapshot: the delta's base is not the lock's version.
	AckNeedSnapshot AckStatus = 3
)

func (s AckStatus) String() string {
	switch s {
	case AckApplied:
		return "applied"
	case AckStale:
		return "stale"
	case AckNeedSnapshot:
		return "need_snapshot"
	}
	return fmt.Sprintf("AckStatus(%d)", uint8(s))
}

// Ack is the lock's signed answer to an authentic bundle. It names the
// bundle by digest so that an old ack cannot be relayed as the answer to a
// newer bundle, and reports the lock's version so the cloud knows what
// remains pending.
type Ack struct {
	V        uint8     `cbor:"0,keyasint"`
	LockID   string    `cbor:"1,keyasint"`
	Status   AckStatus `cbor:"2,keyasint"`
	Version  uint64    `cbor:"3,keyasint"`
	Bundle   []byte    `cbor:"4,keyasint"`
	LockTime time.Time `cbor:"5,keyasint"`
	LogNext  uint64    `cbor:"6,keyasint"`
	// Events, when set, is a run of the lock's log carried in the ack so
	// that an online lock answers a bundle with one signed message instead
	// of an ack and an event batch (SignAckWithEvents, OpenAck). It is
	// sealed to the cloud (nonce ‖ XChaCha20-Poly1305 ciphertext under the
	// lock's symmetric key), so the broker or phone that relays the ack
	// learns nothing of the events, and covered by the ack's signature.
	Events []byte `cbor:"7,keyasint,omitempty"`
}

// BundleDigest names a sealed bundle in acks.
func BundleDigest(sealed []byte) []byte {
	d := sha256.Sum256(sealed)
	return d[:]
}

// SignAck signs an ack with the lock's key. An ack carrying events is
// made by SignAckWithEvents.
func SignAck(lockKey ed25519.PrivateKey, a Ack) ([]byte, error) {
	if a.Events != nil {
		return nil, fmt.Errorf("%w: ack events are sealed by SignAckWithEvents", ErrMalformed)
	}
	return signAck(lockKey, a)
}

func signAck(lockKey ed25519.PrivateKey, a Ack) ([]byte, error) {
	a.V = Version
	a.LockTime = a.LockTime.Truncate(time.Second)
	payload, err := marshal(&a)
	if err != nil {
		return nil, err
	}
	return sign1(lockKey, ctxAck, payload)
}

// VerifyAck checks an ack relayed from lockID against the lock's public key.
// An ack that carries events is refused (ErrAckEvents): only OpenAck, which
// holds the lock's symmetric key, can take it without dropping its events.
func VerifyAck(lockPub ed25519.PublicKey, lockID string, data []byte) (*Ack, error) {
	a, err := verifyAck(lockPub, lockID, data)
	if err != nil {
		return nil, err
	}
	if a.Events != nil {
		return nil, fmt.Errorf("%w: open it with the lock's symmetric key", ErrAckEvents)
	}
	return a, nil
}

func verifyAck(lockPub ed25519.PublicKey, lockID string, data []byte) (*Ack, error) {
	payload, err := verify1(lockPub, ctxAck, data, MaxAckSize)
	if err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	var a Ack
	if err := unmarshal(payload, &a); err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	if err := checkVersion(a.V); err != nil {
		return nil, err
	}
	if a.LockID != lockID {
		return nil, fmt.Errorf("%w: ack from %q", ErrWrongLock, a.LockID)
	}
	if a.Status < AckApplied || a.Status > AckNeedSnapshot || len(a.Bundle) != sha256.Size {
		return nil, fmt.Errorf("%w: ack", ErrMalformed)
	}
	return &a, nil
}
