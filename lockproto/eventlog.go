package lockproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"
)

// Event is one entry of a lock's log. At is the lock's own trusted clock.
type Event struct {
	Seq        uint64    `cbor:"1,keyasint"`
	At         time.Time `cbor:"2,keyasint"`
	Kind       string    `cbor:"3,keyasint"`
	Credential string    `cbor:"4,keyasint,omitempty"`
	PersonID   string    `cbor:"5,keyasint,omitempty"`
	Ref        string    `cbor:"6,keyasint,omitempty"`
	Reason     string    `cbor:"7,keyasint,omitempty"`
	Version    uint64    `cbor:"8,keyasint,omitempty"`
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
// number, so a batch that ends early is visible as such.
type EventBatch struct {
	V      uint8     `cbor:"0,keyasint"`
	LockID string    `cbor:"1,keyasint"`
	Prev   []byte    `cbor:"2,keyasint"`
	From   uint64    `cbor:"3,keyasint"`
	Events []Event   `cbor:"4,keyasint,omitempty"`
	Next   uint64    `cbor:"5,keyasint"`
	At     time.Time `cbor:"6,keyasint"`
}

// SignEventBatch signs a batch with the lock's key.
func SignEventBatch(lockKey ed25519.PrivateKey, b EventBatch) ([]byte, error) {
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
	if len(b.Prev) != sha256.Size || b.From == 0 {
		return fmt.Errorf("%w: event batch", ErrMalformed)
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

// VerifyEventBatch checks the lock's signature and that the events are
// consecutive. It returns the batch and the chain hash after its last event.
// Whether the batch continues what the cloud already holds is Continues'.
func VerifyEventBatch(lockPub ed25519.PublicKey, lockID string, data []byte) (*EventBatch, []byte, error) {
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
