package lockproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
)

// Event is one entry of a lock's log. At is the lock's own trusted clock.
//
// Count > 0 marks an aggregate: Count identical denials seen between At
// and Last, folded into one entry so a flood cannot push real events out
// of the lock's retention.
type Event struct {
	Seq        uint64    `cbor:"1,keyasint"`
	At         time.Time `cbor:"2,keyasint"`
	Kind       string    `cbor:"3,keyasint"`
	Credential string    `cbor:"4,keyasint,omitempty"`
	PersonID   string    `cbor:"5,keyasint,omitempty"`
	Ref        string    `cbor:"6,keyasint,omitempty"`
	Reason     string    `cbor:"7,keyasint,omitempty"`
	Version    uint64    `cbor:"8,keyasint,omitempty"`
	Count      uint32    `cbor:"60,keyasint,omitempty"`
	Last       time.Time `cbor:"61,keyasint,omitzero"`
}

// MaxEventField is the most bytes any text field of an event may hold. The
// lock bounds every field before logging (BoundEventField), so an event
// is at most a few hundred bytes whatever a card or phone sent.
const MaxEventField = 64

// BoundEventField returns s if it is short, valid, printable UTF-8, and
// otherwise a fixed-size digest of it ("sha256:" and 32 hex digits): a
// 60 KiB card "serial" or a control character must not make the lock sign
// a batch the cloud cannot take, yet the same junk still logs the same
// value, so repeats can be told apart and correlated.
func BoundEventField(s string) string {
	if len(s) <= MaxEventField && utf8.ValidString(s) && printable(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Bound applies BoundEventField to every text field of e.
func (e *Event) Bound() {
	e.Kind, e.Credential, e.PersonID = BoundEventField(e.Kind), BoundEventField(e.Credential), BoundEventField(e.PersonID)
	e.Ref, e.Reason = BoundEventField(e.Ref), BoundEventField(e.Reason)
}

// Bounded reports whether every text field of e is within the bounds a
// lock applies.
func (e *Event) Bounded() bool {
	for _, f := range []string{e.Kind, e.Credential, e.PersonID, e.Ref, e.Reason} {
		if BoundEventField(f) != f {
			return false
		}
	}
	return true
}

// Event kinds a lock writes.
const (
	EventBoot          = "boot"
	EventUnlockGranted = "unlock.granted"
	EventUnlockDenied  = "unlock.denied"
	EventCodeGranted   = "code.granted"
	EventCodeDenied    = "code.denied"
	EventKeypadLocked  = "keypad.locked"
	EventCardGranted   = "card.granted"
	EventCardDenied    = "card.denied"
	EventBundleApplied = "bundle.applied"
	EventBundleRefused = "bundle.refused"
	EventTimeSet       = "time.set"
	EventTimeIgnored   = "time.ignored"
	EventLogTruncated  = "log.truncated"
	// EventNoticeApplied: a revocation notice suspended people, day keys'
	// guest codes, keycards or people's doorcodes (PersonID when it named one person and
	// nothing else, Count-free; Ref the number of names) until the lock
	// applies Version (notice.go).
	EventNoticeApplied = "notice.applied"
)

// GenesisHash is the chain hash before a lock's first event.
var GenesisHash = make([]byte, sha256.Size)

// ChainHash returns the hash of e chained after prev: SHA-256(prev ‖ CBOR(e)).
// Changing, dropping or reordering any event changes every later hash.
func ChainHash(prev []byte, e *Event) ([]byte, error) {
	b, err := marshal(e)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(b)
	return h.Sum(nil), nil
}

// EventBatch is a contiguous run of a lock's log, signed by the lock. Prev is
// the chain hash before the first event; Next is the lock's next sequence
// number, so a batch that ends early is visible as such. Oldest is the
// oldest event the lock still holds: events before it that the cloud never
// received are really lost (overwritten), while a batch that merely starts
// later than the cloud's next expected event is only out of order.
type EventBatch struct {
	V      uint8     `cbor:"0,keyasint"`
	LockID string    `cbor:"1,keyasint"`
	Prev   []byte    `cbor:"2,keyasint"`
	From   uint64    `cbor:"3,keyasint"`
	Events []Event   `cbor:"4,keyasint,omitempty"`
	Next   uint64    `cbor:"5,keyasint"`
	At     time.Time `cbor:"6,keyasint"`
	Oldest uint64    `cbor:"60,keyasint,omitempty"`
}

// Batch limits a lock applies when it fills a batch: at most
// MaxBatchEvents events and, after the first, no more than EventBatchBudget
// bytes of encoded events, so a sealed batch always fits the cloud's
// ceiling (MaxSealedEventsSize) whatever the events hold. With bounded
// fields an event is at most MaxEventSize bytes, so the budget holds 256
// of the largest and never cuts a batch short; it guards the ceiling only.
const (
	MaxBatchEvents   = 256
	MaxEventSize     = 512
	EventBatchBudget = MaxBatchEvents * MaxEventSize
)

// EncodedEventSize is the size of e in a batch, for filling batches to
// EventBatchBudget.
func EncodedEventSize(e *Event) int {
	b, err := marshal(e)
	if err != nil {
		return MaxEventBatchSize
	}
	return len(b)
}

func signEventBatch(lockKey ed25519.PrivateKey, b EventBatch) ([]byte, error) {
	b.V = Version
	b.At = b.At.Truncate(time.Second)
	if err := b.checkShape(); err != nil {
		return nil, err
	}
	payload, err := marshal(&b)
	if err != nil {
		return nil, err
	}
	return sign1(lockKey, ctxEventBatch, payload)
}

func (b *EventBatch) checkShape() error {
	if len(b.Prev) != sha256.Size || b.From == 0 || len(b.Events) > MaxBatchEvents {
		return fmt.Errorf("%w: event batch", ErrMalformed)
	}
	if b.Oldest > b.From {
		return fmt.Errorf("%w: event batch starts before the oldest event held", ErrMalformed)
	}
	for i, e := range b.Events {
		if e.Seq != b.From+uint64(i) {
			return fmt.Errorf("%w: event batch sequence %d at position %d", ErrMalformed, e.Seq, i)
		}
	}
	if b.Next < b.From+uint64(len(b.Events)) {
		return fmt.Errorf("%w: event batch next", ErrMalformed)
	}
	return nil
}

// verifyEventBatch checks the lock's signature and that the events are
// consecutive. It returns the batch and the chain hash after its last event.
func verifyEventBatch(lockPub ed25519.PublicKey, lockID string, data []byte) (*EventBatch, []byte, error) {
	payload, err := verify1(lockPub, ctxEventBatch, data, MaxEventBatchSize)
	if err != nil {
		return nil, nil, fmt.Errorf("event batch: %w", err)
	}
	var b EventBatch
	if err := unmarshal(payload, &b); err != nil {
		return nil, nil, fmt.Errorf("event batch: %w", err)
	}
	if err := checkVersion(b.V); err != nil {
		return nil, nil, err
	}
	if b.LockID != lockID {
		return nil, nil, fmt.Errorf("%w: event batch from %q", ErrWrongLock, b.LockID)
	}
	if err := b.checkShape(); err != nil {
		return nil, nil, err
	}
	head := b.Prev
	for i := range b.Events {
		if head, err = ChainHash(head, &b.Events[i]); err != nil {
			return nil, nil, err
		}
	}
	return &b, head, nil
}

// Continues checks the batch against what the verifier already holds: the
// next sequence number it expects and the chain hash after its last event
// (GenesisHash for a new lock). A batch that starts later is a gap — events
// were lost or withheld — and is reported with ErrLogGap; the events in it
// are still authentic. A batch that starts at the expected place but does
// not chain on is ErrLogFork.
func (b *EventBatch) Continues(wantSeq uint64, wantPrev []byte) error {
	switch {
	case b.From > wantSeq:
		return fmt.Errorf("%w: expected event %d, batch starts at %d (%d missing)", ErrLogGap, wantSeq, b.From, b.From-wantSeq)
	case b.From == wantSeq && !bytes.Equal(b.Prev, wantPrev):
		return fmt.Errorf("%w at event %d", ErrLogFork, wantSeq)
	}
	return nil
}

// LostBefore returns how many events before the batch, from wantSeq on, the
// lock no longer holds: those the cloud has not received are really lost.
// Events between them and the batch's start are still on the lock and
// only arrived out of order.
func (b *EventBatch) LostBefore(wantSeq uint64) uint64 {
	if b.Oldest > wantSeq {
		return b.Oldest - wantSeq
	}
	return 0
}

// Sealed event batches: the lock signs a batch, then encrypts it to the
// cloud under its symmetric key, so the phone that carries it learns
// nothing (names, times, card serials). Envelope {V, LockID, Nonce,
// Ciphertext}; AAD = CBOR ["dooros-events", V, LockID].
type sealedEvents struct {
	V          uint8  `cbor:"0,keyasint"`
	LockID     string `cbor:"1,keyasint"`
	Nonce      []byte `cbor:"2,keyasint"`
	Ciphertext []byte `cbor:"3,keyasint"`
}

// MaxSealedEventsSize is the ceiling on a sealed batch, checked before
// parsing.
const MaxSealedEventsSize = MaxEventBatchSize + 256

func eventsAAD(v uint8, lockID string) []byte {
	b, err := marshal(&[]any{"dooros-events", v, lockID})
	if err != nil {
		panic(err) // plain scalars: cannot fail
	}
	return b
}

// SealEventBatch signs b with the lock's key and encrypts it to the cloud
// under the lock's symmetric key.
func SealEventBatch(lockKey ed25519.PrivateKey, symKey []byte, b EventBatch) ([]byte, error) {
	signed, err := signEventBatch(lockKey, b)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(symKey)
	if err != nil {
		return nil, fmt.Errorf("lockproto: lock key: %w", err)
	}
	s := sealedEvents{V: Version, LockID: b.LockID, Nonce: make([]byte, chacha20poly1305.NonceSizeX)}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, s.Nonce, signed, eventsAAD(s.V, s.LockID))
	return marshal(&s)
}

// OpenEventBatch is the cloud's side of SealEventBatch: it decrypts under
// the lock's symmetric key, checks the lock's signature inside and that the
// events are consecutive, and returns the batch and the chain hash after
// its last event. Whether the batch continues what the cloud holds is
// Continues' and LostBefore's.
func OpenEventBatch(lockPub ed25519.PublicKey, lockID string, symKey []byte, sealed []byte) (*EventBatch, []byte, error) {
	if len(sealed) > MaxSealedEventsSize {
		return nil, nil, fmt.Errorf("%w: event batch of %d bytes", ErrTooLarge, len(sealed))
	}
	var s sealedEvents
	if err := unmarshal(sealed, &s); err != nil {
		return nil, nil, fmt.Errorf("event batch: %w", err)
	}
	if err := checkVersion(s.V); err != nil {
		return nil, nil, err
	}
	if len(s.Nonce) != chacha20poly1305.NonceSizeX || len(s.Ciphertext) < chacha20poly1305.Overhead {
		return nil, nil, fmt.Errorf("%w: event batch envelope", ErrMalformed)
	}
	if s.LockID != lockID {
		return nil, nil, fmt.Errorf("%w: event batch from %q", ErrWrongLock, s.LockID)
	}
	aead, err := chacha20poly1305.NewX(symKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: lock key: %v", ErrDecrypt, err)
	}
	signed, err := aead.Open(nil, s.Nonce, s.Ciphertext, eventsAAD(s.V, s.LockID))
	if err != nil {
		return nil, nil, fmt.Errorf("event batch: %w", ErrDecrypt)
	}
	return verifyEventBatch(lockPub, lockID, signed)
}
