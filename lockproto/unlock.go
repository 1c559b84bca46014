package lockproto

import (
	"crypto"
	"crypto/sha256"
	"fmt"
)

// UnlockRequest is the phone's proof inside a channel (§4.3, §4.10): its
// credential and a device-key signature over the lock id and the channel's
// transcript hash. The transcript holds the lock's fresh ephemeral key, so
// it is the challenge: a proof made in one channel is worthless in any
// other, and it never leaves the channel it was made for in the clear. The
// phone sends no clock of its own; TimeToken, when present, is a
// cloud-signed time the lock may trust.
//
// A phone whose credential this lock accepted before may send only its
// CredentialRef instead (16 bytes rather than hundreds: what keeps an
// unlock near a second at 333 B/s); a lock that no longer holds it answers
// need_credential and the phone sends it whole in the same channel.
type UnlockRequest struct {
	V             uint8  `cbor:"0,keyasint"`
	Credential    []byte `cbor:"1,keyasint,omitempty"`
	Signature     []byte `cbor:"2,keyasint"`
	TimeToken     []byte `cbor:"3,keyasint,omitempty"`
	CredentialRef []byte `cbor:"4,keyasint,omitempty"`
}

// CredentialRefSize is the size of a credential reference.
const CredentialRefSize = 16

// CredentialRef names a credential by the first 16 bytes of its SHA-256.
func CredentialRef(credential []byte) []byte {
	d := sha256.Sum256(credential)
	return d[:CredentialRefSize]
}

// ByRef is r with the credential replaced by its reference.
func (r *UnlockRequest) ByRef() *UnlockRequest {
	out := *r
	out.CredentialRef, out.Credential = CredentialRef(r.Credential), nil
	return &out
}

// deviceSigned is what the device key signs. The context string keeps the
// device key's signatures from being usable for anything else.
type deviceSigned struct {
	_       struct{} `cbor:",toarray"`
	Context string
	V       uint8
	LockID  string
	Binding []byte
}

// DeviceMessage returns the bytes a device key signs to prove its
// credential to lockID in the channel whose Binding is binding.
func DeviceMessage(lockID string, binding []byte) []byte {
	b, err := marshal(&deviceSigned{Context: "dooros-unlock", V: Version, LockID: lockID, Binding: binding})
	if err != nil {
		panic(err) // only strings and byte slices: cannot fail
	}
	return b
}

// NewUnlockRequest proves credential in ch, signed by the device key.
func NewUnlockRequest(ch *Channel, credential []byte, device crypto.Signer, timeToken []byte) (*UnlockRequest, error) {
	sig, err := SignDevice(device, DeviceMessage(ch.LockID(), ch.Binding()))
	if err != nil {
		return nil, fmt.Errorf("lockproto: device signature: %w", err)
	}
	return &UnlockRequest{V: Version, Credential: credential, Signature: sig, TimeToken: timeToken}, nil
}

// Encode returns the wire form.
func (r *UnlockRequest) Encode() ([]byte, error) { return marshal(r) }

// MaxUnlockRequestSize bounds an unlock request before parsing.
const MaxUnlockRequestSize = MaxCredentialSize + MaxTimeTokenSize + 256

// DecodeUnlockRequest decodes a phone's proof. It checks shape only; the
// lock verifies the credential and signature against its own state.
func DecodeUnlockRequest(data []byte) (*UnlockRequest, error) {
	if len(data) > MaxUnlockRequestSize {
		return nil, fmt.Errorf("%w: unlock request", ErrTooLarge)
	}
	var r UnlockRequest
	if err := unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("unlock request: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	byRef := len(r.CredentialRef) == CredentialRefSize && len(r.Credential) == 0
	whole := len(r.CredentialRef) == 0 && len(r.Credential) > 0 && len(r.Credential) <= MaxCredentialSize
	if len(r.Signature) != DeviceSignatureSize || !(byRef || whole) || len(r.TimeToken) > MaxTimeTokenSize {
		return nil, fmt.Errorf("%w: unlock request", ErrMalformed)
	}
	return &r, nil
}

// VerifyDevice checks the device signature against the device key, for
// this lock and this channel, with the algorithm of the key's kind
// (Ed25519 or ECDSA P-256: devicekey.go).
func (r *UnlockRequest) VerifyDevice(deviceKey []byte, lockID string, binding []byte) bool {
	return VerifyDeviceSignature(deviceKey, DeviceMessage(lockID, binding), r.Signature)
}

// UnlockResult tells the phone what the lock decided. It travels inside the
// channel, so only the lock the phone authenticated can say "granted"; it is
// still advisory for the app's display, the signed log being the record.
// Authenticated says the phone proved a valid credential for this lock in
// this channel, which is what bundles and log reads need; Version and
// LogNext tell it what to relay.
type UnlockResult struct {
	V             uint8  `cbor:"0,keyasint"`
	Granted       bool   `cbor:"1,keyasint"`
	Reason        string `cbor:"2,keyasint"`
	Seq           uint64 `cbor:"3,keyasint,omitempty"`
	Authenticated bool   `cbor:"4,keyasint"`
	Version       uint64 `cbor:"5,keyasint"`
	LogNext       uint64 `cbor:"6,keyasint"`
}

// Encode returns the wire form.
func (r *UnlockResult) Encode() ([]byte, error) { return marshal(r) }

// DecodeUnlockResult decodes a lock's answer.
func DecodeUnlockResult(data []byte) (*UnlockResult, error) {
	if len(data) > 512 {
		return nil, fmt.Errorf("%w: unlock result", ErrTooLarge)
	}
	var r UnlockResult
	if err := unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("unlock result: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	return &r, nil
}
