package lockproto

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
)

// NonceSize is the size of a lock's challenge nonce.
const NonceSize = 32

// Challenge is the lock's opening move (§4.3). Version and LogNext tell the
// phone whether it carries a newer bundle for this door and which log entries
// to collect.
type Challenge struct {
	V       uint8  `cbor:"0,keyasint"`
	LockID  string `cbor:"1,keyasint"`
	Nonce   []byte `cbor:"2,keyasint"`
	Version uint64 `cbor:"3,keyasint"`
	LogNext uint64 `cbor:"4,keyasint"`
}

// NewChallenge draws a fresh nonce for lockID.
func NewChallenge(lockID string, version, logNext uint64) (*Challenge, error) {
	n := make([]byte, NonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, err
	}
	return &Challenge{V: Version, LockID: lockID, Nonce: n, Version: version, LogNext: logNext}, nil
}

// Encode returns the wire form.
func (c *Challenge) Encode() ([]byte, error) { return marshal(c) }

// DecodeChallenge decodes a challenge received from a lock.
func DecodeChallenge(data []byte) (*Challenge, error) {
	var c Challenge
	if err := unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if err := checkVersion(c.V); err != nil {
		return nil, err
	}
	if c.LockID == "" || len(c.Nonce) != NonceSize {
		return nil, fmt.Errorf("%w: challenge", ErrMalformed)
	}
	return &c, nil
}

// UnlockRequest is the phone's answer: its credential and a device-key
// signature over the challenge nonce and the lock id. The phone sends no
// clock; the lock judges time by its own trusted clock.
type UnlockRequest struct {
	V          uint8  `cbor:"0,keyasint"`
	Nonce      []byte `cbor:"1,keyasint"`
	Credential []byte `cbor:"2,keyasint"`
	Signature  []byte `cbor:"3,keyasint"`
}

// deviceSigned is what the device key signs. The context string keeps the
// device key's signatures from being usable for anything else.
type deviceSigned struct {
	_       struct{} `cbor:",toarray"`
	Context string
	V       uint8
	LockID  string
	Nonce   []byte
}

// DeviceMessage returns the bytes a device key signs to answer a challenge.
func DeviceMessage(lockID string, nonce []byte) []byte {
	b, err := marshal(&deviceSigned{Context: "dooros-unlock", V: Version, LockID: lockID, Nonce: nonce})
	if err != nil {
		panic(err) // only strings and byte slices: cannot fail
	}
	return b
}

// NewUnlockRequest answers ch with credential, signed by the device key.
func NewUnlockRequest(ch *Challenge, credential []byte, device crypto.Signer) (*UnlockRequest, error) {
	sig, err := device.Sign(nil, DeviceMessage(ch.LockID, ch.Nonce), crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("lockproto: device signature: %w", err)
	}
	return &UnlockRequest{V: Version, Nonce: ch.Nonce, Credential: credential, Signature: sig}, nil
}

// Encode returns the wire form.
func (r *UnlockRequest) Encode() ([]byte, error) { return marshal(r) }

// DecodeUnlockRequest decodes a phone's answer. It checks shape only; the
// lock verifies the credential and signature against its own state.
func DecodeUnlockRequest(data []byte) (*UnlockRequest, error) {
	if len(data) > MaxCredentialSize+256 {
		return nil, fmt.Errorf("%w: unlock request", ErrTooLarge)
	}
	var r UnlockRequest
	if err := unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("unlock request: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	if len(r.Nonce) != NonceSize || len(r.Signature) != ed25519.SignatureSize || len(r.Credential) == 0 {
		return nil, fmt.Errorf("%w: unlock request", ErrMalformed)
	}
	return &r, nil
}

// VerifyDevice checks the device signature against the device key.
func (r *UnlockRequest) VerifyDevice(deviceKey ed25519.PublicKey, lockID string) bool {
	if len(deviceKey) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(deviceKey, DeviceMessage(lockID, r.Nonce), r.Signature)
}

// UnlockResult tells the phone what the lock decided. It is advisory for the
// app's display; the authoritative record is the lock's signed event log.
type UnlockResult struct {
	V       uint8  `cbor:"0,keyasint"`
	Granted bool   `cbor:"1,keyasint"`
	Reason  string `cbor:"2,keyasint"`
	Seq     uint64 `cbor:"3,keyasint"`
}

// Encode returns the wire form.
func (r *UnlockResult) Encode() ([]byte, error) { return marshal(r) }

// DecodeUnlockResult decodes a lock's answer.
func DecodeUnlockResult(data []byte) (*UnlockResult, error) {
	var r UnlockResult
	if err := unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("unlock result: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	return &r, nil
}
