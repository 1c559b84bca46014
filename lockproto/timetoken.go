package lockproto

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// ctxTimeToken is the time token's own context: a signature the property key
// made over a bundle or a credential can never pass for a time, and back.
const ctxTimeToken = "application/dooros-time+cbor; v=1"

// MaxTimeTokenSize is checked before parsing; a token is a few dozen bytes.
const MaxTimeTokenSize = 256

// TimeToken is the cloud's clock, signed by the property key (§4.11). Every
// phone carries a fresh one in every unlock, so a lock whose real-time clock
// was reset recovers trusted time at the first unlock, with no bundle.
//
// Epoch numbers the cloud's time corrections: a token with a higher epoch
// than the lock's may move the lock's clock back by any amount (undoing a
// bad forward time the cloud once signed); a token with a lower epoch is
// ignored.
type TimeToken struct {
	V     uint8     `cbor:"0,keyasint"`
	Time  time.Time `cbor:"1,keyasint"`
	Epoch uint64    `cbor:"2,keyasint,omitempty"`
}

// IssueTimeToken signs t (whole seconds) and epoch with the property key.
func IssueTimeToken(propertyKey ed25519.PrivateKey, t time.Time, epoch uint64) ([]byte, error) {
	tok := TimeToken{V: Version, Time: t.Truncate(time.Second), Epoch: epoch}
	if err := tok.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&tok)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxTimeToken, payload)
}

// VerifyTimeToken checks the property's signature and decodes the token. It
// does not judge whether the time is acceptable; the lock does.
func VerifyTimeToken(propertyPub ed25519.PublicKey, data []byte) (*TimeToken, error) {
	payload, err := verify1(propertyPub, ctxTimeToken, data, MaxTimeTokenSize)
	if err != nil {
		return nil, fmt.Errorf("time token: %w", err)
	}
	var tok TimeToken
	if err := unmarshal(payload, &tok); err != nil {
		return nil, fmt.Errorf("time token: %w", err)
	}
	if err := tok.validate(); err != nil {
		return nil, err
	}
	return &tok, nil
}

func (t *TimeToken) validate() error {
	if err := checkVersion(t.V); err != nil {
		return err
	}
	if t.Time.Unix() <= 0 {
		return fmt.Errorf("%w: time token: time must be after 1970", ErrMalformed)
	}
	return nil
}
