package lockproto

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// The channel (§4.10): before anything personal is sent, phone and lock run
// ephemeral X25519 and the lock signs the transcript with its provisioned
// Ed25519 key. The phone checks that signature with the key the cloud
// certified for the lock id of the door the person chose, so a fake lock or
// a relay to another door never sees a credential. Everything after is
// ChaCha20-Poly1305 under per-direction keys derived from the shared secret
// and the transcript, with implicit per-direction counters as nonces and the
// transcript hash as AAD: a replayed, reordered, altered or cross-session
// frame does not open.

// EphemeralSize is the size of an X25519 public key.
const EphemeralSize = 32

// Size ceilings of the handshake messages, checked before parsing.
const (
	MaxHelloSize  = 64
	MaxAcceptSize = 512
)

// ErrNotAuthenticated refuses bundles and log reads in a channel where no
// phone proved a valid credential for this lock.
var ErrNotAuthenticated = errors.New("no valid credential proven in this channel")

// ChannelHello opens a channel: the phone's ephemeral X25519 key.
type ChannelHello struct {
	V         uint8  `cbor:"0,keyasint"`
	Ephemeral []byte `cbor:"1,keyasint"`
}

// ChannelAccept is the lock's answer: its ephemeral key and its signature
// over the transcript, which holds its lock id. The id itself is not sent:
// the phone puts the id of the door the person chose in the transcript it
// checks, so only that door's lock can answer (and the answer is 22 bytes
// shorter on a slow link).
type ChannelAccept struct {
	V         uint8  `cbor:"0,keyasint"`
	Ephemeral []byte `cbor:"1,keyasint"`
	Signature []byte `cbor:"2,keyasint"`
}

// DecodeChannelHello decodes a phone's hello.
func DecodeChannelHello(data []byte) (*ChannelHello, error) {
	if len(data) > MaxHelloSize {
		return nil, fmt.Errorf("%w: hello", ErrTooLarge)
	}
	var h ChannelHello
	if err := unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	if err := checkVersion(h.V); err != nil {
		return nil, err
	}
	if len(h.Ephemeral) != EphemeralSize {
		return nil, fmt.Errorf("%w: hello ephemeral key", ErrMalformed)
	}
	return &h, nil
}

// DecodeChannelAccept decodes a lock's answer to a hello. It checks shape
// only; PhoneHandshake.Finish verifies it.
func DecodeChannelAccept(data []byte) (*ChannelAccept, error) {
	if len(data) > MaxAcceptSize {
		return nil, fmt.Errorf("%w: accept", ErrTooLarge)
	}
	var a ChannelAccept
	if err := unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	if err := checkVersion(a.V); err != nil {
		return nil, err
	}
	if len(a.Ephemeral) != EphemeralSize || len(a.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: accept", ErrMalformed)
	}
	return &a, nil
}

// transcript is what the lock signs and what everything after is bound to.
type transcript struct {
	_        struct{} `cbor:",toarray"`
	Context  string
	V        uint8
	LockID   string
	PhoneEph []byte
	LockEph  []byte
}

func transcriptBytes(lockID string, phoneEph, lockEph []byte) []byte {
	b, err := marshal(&transcript{Context: "dooros-channel", V: Version, LockID: lockID, PhoneEph: phoneEph, LockEph: lockEph})
	if err != nil {
		panic(err) // strings and byte slices only: cannot fail
	}
	return b
}

// Channel is one end of an established channel. It is not safe for
// concurrent use: each direction's counter is a sequence.
type Channel struct {
	lockID     string
	binding    [sha256.Size]byte
	send, recv cipher.AEAD
	sent, rcvd uint64
	broken     bool
}

// LockID is the lock the channel was established with.
func (c *Channel) LockID() string { return c.lockID }

// Binding is the transcript hash: what the phone's device signature covers,
// so a proof made in one channel is worth nothing in another.
func (c *Channel) Binding() []byte { return bytes.Clone(c.binding[:]) }

func nonceFor(n uint64) []byte {
	nonce := make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(nonce[4:], n)
	return nonce
}

// Seal encrypts the next message in the sending direction.
func (c *Channel) Seal(plain []byte) []byte {
	out := c.send.Seal(nil, nonceFor(c.sent), plain, c.binding[:])
	c.sent++
	return out
}

// Open decrypts the next message of the receiving direction. Any failure
// breaks the channel for good: a frame that does not open is an attack or a
// lost frame, and neither is recovered from by guessing.
func (c *Channel) Open(frame []byte) ([]byte, error) {
	if c.broken {
		return nil, fmt.Errorf("%w: channel broken by an earlier bad frame", ErrDecrypt)
	}
	plain, err := c.recv.Open(nil, nonceFor(c.rcvd), frame, c.binding[:])
	if err != nil {
		c.broken = true
		return nil, fmt.Errorf("%w: channel frame %d", ErrDecrypt, c.rcvd)
	}
	c.rcvd++
	return plain, nil
}

func newChannel(lockID string, secret []byte, tr []byte, phone bool) (*Channel, error) {
	c := &Channel{lockID: lockID, binding: sha256.Sum256(tr)}
	key := func(info string) (cipher.AEAD, error) {
		k, err := hkdf.Key(sha256.New, secret, c.binding[:], info, chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		return chacha20poly1305.New(k)
	}
	toLock, err := key("dooros-channel v2 phone to lock")
	if err != nil {
		return nil, err
	}
	toPhone, err := key("dooros-channel v2 lock to phone")
	if err != nil {
		return nil, err
	}
	if phone {
		c.send, c.recv = toLock, toPhone
	} else {
		c.send, c.recv = toPhone, toLock
	}
	return c, nil
}

// AcceptChannel is the lock's side of the handshake: it answers a phone's
// hello with a fresh ephemeral key and its signature over the transcript.
func AcceptChannel(lockID string, lockKey ed25519.PrivateKey, hello []byte) (*Channel, []byte, error) {
	h, err := DecodeChannelHello(hello)
	if err != nil {
		return nil, nil, err
	}
	phonePub, err := ecdh.X25519().NewPublicKey(h.Ephemeral)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: hello ephemeral key: %v", ErrMalformed, err)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	// An all-zero result (a low-order point from the phone) is an error here.
	secret, err := eph.ECDH(phonePub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: hello ephemeral key: %v", ErrMalformed, err)
	}
	lockEph := eph.PublicKey().Bytes()
	tr := transcriptBytes(lockID, h.Ephemeral, lockEph)
	ch, err := newChannel(lockID, secret, tr, false)
	if err != nil {
		return nil, nil, err
	}
	reply, err := marshal(&ChannelAccept{V: Version, Ephemeral: lockEph, Signature: ed25519.Sign(lockKey, tr)})
	if err != nil {
		return nil, nil, err
	}
	return ch, reply, nil
}

// PhoneHandshake is the phone's side, between its hello and the lock's
// answer. It knows which lock the person chose and that lock's certified key.
type PhoneHandshake struct {
	lockID  string
	lockPub ed25519.PublicKey
	eph     *ecdh.PrivateKey
}

// NewPhoneHandshake starts a channel to lockID whose key is lockPub (from a
// lock certificate the phone verified) and returns the hello to send.
func NewPhoneHandshake(lockID string, lockPub ed25519.PublicKey) (*PhoneHandshake, []byte, error) {
	if lockID == "" || len(lockPub) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%w: handshake needs a lock id and its %d-byte key", ErrMalformed, ed25519.PublicKeySize)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	hello, err := marshal(&ChannelHello{V: Version, Ephemeral: eph.PublicKey().Bytes()})
	if err != nil {
		return nil, nil, err
	}
	return &PhoneHandshake{lockID: lockID, lockPub: lockPub, eph: eph}, hello, nil
}

// Finish checks the lock's answer: it must sign this very transcript, with
// the chosen lock's id in it, with that lock's certified key. Only then is the channel usable,
// so nothing personal ever reaches a fake lock or another door.
func (p *PhoneHandshake) Finish(accept []byte) (*Channel, error) {
	a, err := DecodeChannelAccept(accept)
	if err != nil {
		return nil, err
	}
	tr := transcriptBytes(p.lockID, p.eph.PublicKey().Bytes(), a.Ephemeral)
	if !ed25519.Verify(p.lockPub, tr, a.Signature) {
		return nil, fmt.Errorf("%w: the lock did not prove it is the lock of door %s (a fake lock, or another door's)", ErrSignature, p.lockID)
	}
	lockPub, err := ecdh.X25519().NewPublicKey(a.Ephemeral)
	if err != nil {
		return nil, fmt.Errorf("%w: accept ephemeral key: %v", ErrMalformed, err)
	}
	secret, err := p.eph.ECDH(lockPub)
	if err != nil {
		return nil, fmt.Errorf("%w: accept ephemeral key: %v", ErrMalformed, err)
	}
	return newChannel(p.lockID, secret, tr, true)
}

// ChannelMsg is the first byte of every message inside a channel.
type ChannelMsg byte

// Requests go phone → lock inside the channel; each has one reply, or
// ChanError.
const (
	ChanUnlock       ChannelMsg = 1 // UnlockRequest → ChanResult; opens when granted
	ChanAuthenticate ChannelMsg = 2 // UnlockRequest → ChanResult; proves the credential, the door stays shut
	ChanResult       ChannelMsg = 3 // UnlockResult
	ChanBundle       ChannelMsg = 4 // sealed bundle → ChanAck
	ChanAck          ChannelMsg = 5 // lock-signed ack
	ChanLogRequest   ChannelMsg = 6 // 8-byte big-endian first sequence → ChanEvents
	ChanEvents       ChannelMsg = 7 // lock-signed event batch
	ChanError        ChannelMsg = 8 // ChannelError
	// Chunked bundle transfer (manifest.go): a lock older than these
	// answers ChanError "malformed", and the phone says so.
	ChanManifest ChannelMsg = 9  // signed BundleManifest → ChanTransfer (where to resume) or ChanError with ack
	ChanChunk    ChannelMsg = 10 // EncodeChunk → ChanTransfer, or ChanAck after the last chunk
	ChanTransfer ChannelMsg = 11 // TransferStatus
)

// EncodeChannelMsg frames a message for Channel.Seal.
func EncodeChannelMsg(t ChannelMsg, body []byte) []byte {
	return append([]byte{byte(t)}, body...)
}

// DecodeChannelMsg splits an opened message into its type and body.
func DecodeChannelMsg(msg []byte) (ChannelMsg, []byte, error) {
	if len(msg) < 1 {
		return 0, nil, fmt.Errorf("%w: empty channel message", ErrMalformed)
	}
	t := ChannelMsg(msg[0])
	if t < ChanUnlock || t > ChanTransfer {
		return 0, nil, fmt.Errorf("%w: channel message type %d", ErrMalformed, t)
	}
	return t, msg[1:], nil
}

// EncodeLogRequest is the body of ChanLogRequest.
func EncodeLogRequest(from uint64) []byte { return binary.BigEndian.AppendUint64(nil, from) }

// DecodeLogRequest reads the body of ChanLogRequest.
func DecodeLogRequest(body []byte) (uint64, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("%w: log request", ErrMalformed)
	}
	return binary.BigEndian.Uint64(body), nil
}

// ChannelError carries a refusal. Ack is set when the lock refused an
// authentic bundle (stale, wrong base): the cloud still learns its version.
type ChannelError struct {
	Code    string `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint,omitempty"`
	Ack     []byte `cbor:"3,keyasint,omitempty"`
}

// MaxErrorSize bounds an error reply (the ack it may carry included).
const MaxErrorSize = 2 << 10

// EncodeChannelError names err by its wire code.
func EncodeChannelError(err error, ack []byte) []byte {
	b, merr := marshal(&ChannelError{Code: ErrorCode(err), Message: err.Error(), Ack: ack})
	if merr != nil {
		panic(merr) // strings and bytes only: cannot fail
	}
	return b
}

// DecodeChannelError decodes an error reply.
func DecodeChannelError(body []byte) (*ChannelError, error) {
	if len(body) > MaxErrorSize {
		return nil, fmt.Errorf("%w: error reply", ErrTooLarge)
	}
	var e ChannelError
	if err := unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("error reply: %w", err)
	}
	if e.Code == "" {
		return nil, fmt.Errorf("%w: error reply without a code", ErrMalformed)
	}
	return &e, nil
}
