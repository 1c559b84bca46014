package lockproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"
)

// Remote unlock (issue 16): an online lock opens on a command the cloud
// signs with the property key and sends over MQTT. The command is the
// cloud's word that a resident asked, seconds ago, and held a key to this
// door: it is bound to one lock, one person, a per-lock counter (each
// command opens once) and a short life, and carries the person's schedule
// at the door so the lock judges it as it judges a credential (revocations,
// schedule, window, by its own trusted clock). The lock answers with a
// result signed by its own key and bound to the command's digest.
const (
	ctxRemoteUnlock = "application/dooros-remote-unlock+cbor; v=1"
	ctxRemoteResult = "application/dooros-remote-result+cbor; v=1"
)

// Limits of a remote unlock command.
const (
	// MaxRemoteUnlockLife is the longest a command may live (NotAfter −
	// IssuedAt); a lock refuses a longer one even if the property signed it.
	MaxRemoteUnlockLife = 2 * time.Minute
	// DefaultRemoteUnlockLife is what the cloud issues.
	DefaultRemoteUnlockLife = 30 * time.Second
	MaxRemoteUnlockSize     = 2 << 10
	MaxRemoteResultSize     = 1 << 10
)

// RemoteUnlock is the signed command.
type RemoteUnlock struct {
	V        uint8     `cbor:"0,keyasint"`
	LockID   string    `cbor:"1,keyasint"`
	PersonID string    `cbor:"2,keyasint"`
	Counter  uint64    `cbor:"3,keyasint"`
	IssuedAt time.Time `cbor:"4,keyasint"`
	NotAfter time.Time `cbor:"5,keyasint"`
	Schedule Schedule  `cbor:"6,keyasint,omitempty"`
}

func (c *RemoteUnlock) validate() error {
	if err := checkVersion(c.V); err != nil {
		return err
	}
	switch {
	case c.LockID == "" || c.PersonID == "":
		return fmt.Errorf("%w: remote unlock: lock and person are required", ErrMalformed)
	case c.Counter == 0:
		return fmt.Errorf("%w: remote unlock: counter is required", ErrMalformed)
	case c.IssuedAt.Unix() <= 0 || !c.IssuedAt.Before(c.NotAfter):
		return fmt.Errorf("%w: remote unlock: empty or missing life", ErrMalformed)
	case c.NotAfter.Sub(c.IssuedAt) > MaxRemoteUnlockLife:
		return fmt.Errorf("%w: remote unlock: life over %s", ErrMalformed, MaxRemoteUnlockLife)
	}
	return c.Schedule.Validate()
}

// IssueRemoteUnlock signs c with the property key. V is set for the caller.
func IssueRemoteUnlock(propertyKey ed25519.PrivateKey, c RemoteUnlock) ([]byte, error) {
	c.V = Version
	c.IssuedAt = c.IssuedAt.Truncate(time.Second)
	c.NotAfter = c.NotAfter.Truncate(time.Second)
	if err := c.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&c)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxRemoteUnlock, payload)
}

// VerifyRemoteUnlock checks the property's signature and the command's
// shape. Lock, time, counter, revocation and schedule are the lock's checks.
func VerifyRemoteUnlock(propertyPub ed25519.PublicKey, data []byte) (*RemoteUnlock, error) {
	payload, err := verify1(propertyPub, ctxRemoteUnlock, data, MaxRemoteUnlockSize)
	if err != nil {
		return nil, fmt.Errorf("remote unlock: %w", err)
	}
	var c RemoteUnlock
	if err := unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("remote unlock: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// RemoteDigest names a signed command in the lock's result.
func RemoteDigest(command []byte) []byte {
	d := sha256.Sum256(command)
	return d[:]
}

// RemoteResult is the lock's signed answer to a command. Command is the
// digest of the command it answers, so an old "granted" cannot be replayed
// as the answer to a new command. A command that is not authentic (no
// property signature) gets an answer too, with Counter 0, so the cloud
// learns at once that the lock refused it.
type RemoteResult struct {
	V        uint8     `cbor:"0,keyasint"`
	LockID   string    `cbor:"1,keyasint"`
	Command  []byte    `cbor:"2,keyasint"`
	Counter  uint64    `cbor:"3,keyasint"`
	Granted  bool      `cbor:"4,keyasint"`
	Reason   string    `cbor:"5,keyasint"`
	Seq      uint64    `cbor:"6,keyasint,omitempty"`
	LockTime time.Time `cbor:"7,keyasint"`
}

// SignRemoteResult signs a result with the lock's key.
func SignRemoteResult(lockKey ed25519.PrivateKey, r RemoteResult) ([]byte, error) {
	r.V = Version
	r.LockTime = r.LockTime.Truncate(time.Second)
	payload, err := marshal(&r)
	if err != nil {
		return nil, err
	}
	return sign1(lockKey, ctxRemoteResult, payload)
}

// VerifyRemoteResult checks a result from lockID against the lock's public
// key and that it answers command.
func VerifyRemoteResult(lockPub ed25519.PublicKey, lockID string, command, data []byte) (*RemoteResult, error) {
	payload, err := verify1(lockPub, ctxRemoteResult, data, MaxRemoteResultSize)
	if err != nil {
		return nil, fmt.Errorf("remote result: %w", err)
	}
	var r RemoteResult
	if err := unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("remote result: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	if r.LockID != lockID {
		return nil, fmt.Errorf("%w: remote result from %q", ErrWrongLock, r.LockID)
	}
	if !bytes.Equal(r.Command, RemoteDigest(command)) {
		return nil, fmt.Errorf("%w: remote result answers another command", ErrMalformed)
	}
	return &r, nil
}
