package lockproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Events inside the ack. An online lock answers every bundle with an ack
// and, until now, a separate event batch: two signed messages, two
// verifications and two recordings per lock per round. An ack made by
// SignAckWithEvents carries the start of the lock's pending events
// instead, under the ack's one signature; the rest, if the run does not
// fit, still goes as event batches (SealEventBatch).
//
// The run is sealed to the cloud like a batch (the relay learns nothing),
// but encrypt-then-sign: the ciphertext is in the signed ack, so the cloud
// verifies one signature for both. The AAD binds the ciphertext to the
// lock and to the bundle the ack answers, so a run cannot be moved into
// another lock's ack or another ack of the same lock, even by a holder of
// the lock's symmetric key (the cloud). The run obeys the batch rules
// (consecutive sequence numbers from From, Prev the chain hash before
// From, Oldest <= From, Next = the ack's LogNext >= the end of the run,
// bounded fields) and tighter limits: at most MaxAckEvents events and,
// after the first, AckEventBudget bytes, so an ack stays under
// MaxAckSize whatever the events hold.

// Limits of the run an ack carries. An ack is answered to every bundle,
// so the run is small: a revocation round adds one or two events per lock.
const (
	MaxAckEvents   = 16
	AckEventBudget = 2 << 10
)

// ackRun is the plaintext of Ack.Events.
type ackRun struct {
	Prev   []byte  `cbor:"1,keyasint"`
	From   uint64  `cbor:"2,keyasint"`
	Events []Event `cbor:"3,keyasint"`
	Oldest uint64  `cbor:"4,keyasint,omitempty"`
}

func ackEventsAAD(v uint8, lockID string, bundle []byte) []byte {
	b, err := marshal(&[]any{"dooros-ack-events", v, lockID, bundle})
	if err != nil {
		panic(err) // plain values: cannot fail
	}
	return b
}

// checkAckRun applies the batch rules and the ack's limits to run.
func checkAckRun(b *EventBatch) error {
	if len(b.Events) == 0 {
		return fmt.Errorf("%w: ack carries an empty event run", ErrMalformed)
	}
	if len(b.Events) > MaxAckEvents {
		return fmt.Errorf("%w: ack carries %d events, at most %d", ErrTooLarge, len(b.Events), MaxAckEvents)
	}
	size := 0
	for i := range b.Events {
		if !b.Events[i].Bounded() {
			return fmt.Errorf("%w: ack event %d has an unbounded field", ErrMalformed, b.Events[i].Seq)
		}
		n := EncodedEventSize(&b.Events[i])
		if n > MaxEventSize {
			return fmt.Errorf("%w: ack event %d of %d bytes", ErrTooLarge, b.Events[i].Seq, n)
		}
		if i > 0 {
			size += n
		}
	}
	if size > AckEventBudget {
		return fmt.Errorf("%w: ack events of %d bytes", ErrTooLarge, size)
	}
	return b.checkShape()
}

// AckRunFits reports whether events (consecutive, from the run's start)
// fit in an ack: the lock fills an ack's run with it. The first event
// always fits.
func AckRunFits(events []Event) bool {
	if len(events) > MaxAckEvents {
		return false
	}
	size := 0
	for i := 1; i < len(events); i++ {
		size += EncodedEventSize(&events[i])
	}
	return size <= AckEventBudget
}

// SignAckWithEvents signs an ack that carries run, a contiguous run of the
// lock's log (Prev, From, Events, Oldest; LockID, Next and At are the
// ack's: run.Next must be a.LogNext). The events are sealed to the cloud
// under symKey. With no events it is SignAck.
func SignAckWithEvents(lockKey ed25519.PrivateKey, symKey []byte, a Ack, run EventBatch) ([]byte, error) {
	if a.Events != nil {
		return nil, fmt.Errorf("%w: ack events are set from the run", ErrMalformed)
	}
	if len(run.Events) == 0 {
		return signAck(lockKey, a)
	}
	if run.Next != a.LogNext {
		return nil, fmt.Errorf("%w: event run ends at %d, the ack says %d", ErrMalformed, run.Next, a.LogNext)
	}
	run.LockID = a.LockID
	if err := checkAckRun(&run); err != nil {
		return nil, err
	}
	plain, err := marshal(&ackRun{Prev: run.Prev, From: run.From, Events: run.Events, Oldest: run.Oldest})
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(symKey)
	if err != nil {
		return nil, fmt.Errorf("lockproto: lock key: %w", err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(plain)+chacha20poly1305.Overhead)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	a.Events = aead.Seal(nonce, nonce, plain, ackEventsAAD(Version, a.LockID, a.Bundle))
	return signAck(lockKey, a)
}

// OpenAck is the cloud's VerifyAck: it checks the ack's signature once
// and, when the ack carries events, opens them under the lock's symmetric
// key and checks them like an event batch. The events come back as an
// EventBatch (nil when the ack carries none; the returned Ack's Events is
// then cleared) with the ack's LockID,
// LockTime as At and LogNext as Next, for the same recording as a batch
// (Continues, LostBefore, store.RecordLockEvents). An ack whose events do
// not open or break the rules is refused whole: a real lock never signs
// one.
func OpenAck(lockPub ed25519.PublicKey, lockID string, symKey []byte, data []byte) (*Ack, *EventBatch, error) {
	a, err := verifyAck(lockPub, lockID, data)
	if err != nil || a.Events == nil {
		return a, nil, err
	}
	if len(a.Events) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, nil, fmt.Errorf("%w: ack events envelope", ErrMalformed)
	}
	aead, err := chacha20poly1305.NewX(symKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: lock key: %v", ErrDecrypt, err)
	}
	nonce, ct := a.Events[:chacha20poly1305.NonceSizeX], a.Events[chacha20poly1305.NonceSizeX:]
	plain, err := aead.Open(nil, nonce, ct, ackEventsAAD(a.V, a.LockID, a.Bundle))
	if err != nil {
		return nil, nil, fmt.Errorf("ack events: %w", ErrDecrypt)
	}
	var run ackRun
	if err := unmarshal(plain, &run); err != nil {
		return nil, nil, fmt.Errorf("ack events: %w", err)
	}
	b := &EventBatch{V: a.V, LockID: a.LockID, Prev: run.Prev, From: run.From, Events: run.Events, Next: a.LogNext, At: a.LockTime, Oldest: run.Oldest}
	if err := checkAckRun(b); err != nil {
		return nil, nil, fmt.Errorf("ack events: %w", err)
	}
	a.Events = nil // opened: the events are b
	return a, b, nil
}
