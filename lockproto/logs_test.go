package lockproto_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

func sealedBatch(t *testing.T, f *fixture, events ...lockproto.Event) []byte {
	t.Helper()
	for i := range events {
		events[i].Seq = uint64(i + 1)
	}
	raw, err := lockproto.SealEventBatch(f.lock.Private, f.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash,
		From: 1, Events: events, Next: uint64(len(events) + 1), At: now, Oldest: 1})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A courier phone carries the batch but cannot read names, times or serials.
func TestSealedBatchUnreadableByCourier(t *testing.T) {
	f := newFixture(t)
	raw := sealedBatch(t, f, lockproto.Event{At: now, Kind: lockproto.EventCardGranted, PersonID: "person-alice", Ref: "04A1B2C3D4"})
	for _, secret := range []string{"person-alice", "04A1B2C3D4", lockproto.EventCardGranted} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("sealed batch shows %q in the clear", secret)
		}
	}
	b, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, raw)
	if err != nil || b.Events[0].PersonID != "person-alice" {
		t.Fatalf("cloud cannot open: %v", err)
	}
}

func TestSealedBatchRefusals(t *testing.T) {
	f := newFixture(t)
	raw := sealedBatch(t, f, lockproto.Event{At: now, Kind: lockproto.EventBoot})
	other, _ := lockproto.NewLockKeys("lock-1")
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"wrong symmetric key", func() error {
			_, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", other.Symmetric, raw)
			return err
		}, lockproto.ErrDecrypt},
		{"another lock's batch", func() error {
			_, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-2", f.lock.Symmetric, raw)
			return err
		}, lockproto.ErrWrongLock},
		{"sealed under the right key but signed by another lock key", func() error {
			forged, err := lockproto.SealEventBatch(other.Private, f.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash, From: 1, Next: 1, At: now})
			if err != nil {
				return err
			}
			_, _, err = lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, forged)
			return err
		}, lockproto.ErrSignature},
		{"oversized", func() error {
			_, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, make([]byte, lockproto.MaxSealedEventsSize+1))
			return err
		}, lockproto.ErrTooLarge},
	}
	for _, c := range cases {
		if err := c.run(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		if _, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, bad); err == nil {
			t.Fatalf("batch with byte %d flipped opened", i)
		}
	}
}

// A 60 KiB card "serial" (or bytes that are not UTF-8) is logged as a
// short digest, so the batch stays one the cloud takes.
func TestBoundEventField(t *testing.T) {
	huge := strings.Repeat("A", 60<<10)
	for _, in := range []string{huge, "\xff\xfe", "line\nbreak"} {
		got := lockproto.BoundEventField(in)
		if len(got) > lockproto.MaxEventField || !strings.HasPrefix(got, "sha256:") {
			t.Fatalf("BoundEventField(%.20q) = %q", in, got)
		}
		if lockproto.BoundEventField(in) != got {
			t.Fatal("same input, different digest")
		}
	}
	if got := lockproto.BoundEventField("04A1B2"); got != "04A1B2" {
		t.Fatalf("short serial changed: %q", got)
	}
	e := lockproto.Event{Kind: lockproto.EventCardDenied, Ref: huge, Reason: "unknown_card"}
	if e.Bounded() {
		t.Fatal("unbounded event reported bounded")
	}
	e.Bound()
	if !e.Bounded() || lockproto.EncodedEventSize(&e) > 256 {
		t.Fatalf("bounded event is %d bytes", lockproto.EncodedEventSize(&e))
	}
}

// The largest event a lock can log (every field at its bound) fits
// MaxEventSize, so a full batch of them stays under the cloud's ceiling.
func TestEventSizeCeiling(t *testing.T) {
	f := newFixture(t)
	wide := strings.Repeat("\u00e9", lockproto.MaxEventField/2) // 2-byte runes: the most bytes per field
	e := lockproto.Event{Seq: 1<<64 - 1, At: now, Kind: wide, Credential: wide, PersonID: wide, Ref: wide, Reason: wide,
		Version: 1<<64 - 1, Count: 1<<32 - 1, Last: now.AddDate(100, 0, 0)}
	e.Bound()
	size := lockproto.EncodedEventSize(&e)
	t.Logf("largest event: %d bytes", size)
	if !e.Bounded() || size > lockproto.MaxEventSize {
		t.Fatalf("largest event %d bytes, ceiling %d", size, lockproto.MaxEventSize)
	}
	events := make([]lockproto.Event, lockproto.MaxBatchEvents)
	for i := range events {
		events[i] = e
		events[i].Seq = uint64(i + 1)
	}
	raw, err := lockproto.SealEventBatch(f.lock.Private, f.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash,
		From: 1, Events: events, Next: uint64(len(events) + 1), At: now, Oldest: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full batch of the largest events, sealed: %d bytes (ceiling %d)", len(raw), lockproto.MaxSealedEventsSize)
	if _, _, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, raw); err != nil {
		t.Fatalf("the cloud refuses a full batch of the largest events: %v", err)
	}
}

func TestSecureCard(t *testing.T) {
	master, err := lockproto.NewCardMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	key := lockproto.CardKey(master, "04A1B2")
	if bytes.Equal(key, lockproto.CardKey(master, "04A1B3")) || len(key) != lockproto.CardKeySize {
		t.Fatal("keys are not diversified per card")
	}
	card := lockproto.SimCard{UID: "04A1B2", Key: key}
	ch, _ := lockproto.NewCardChallenge("lock-1")
	raw, _ := ch.Encode()
	resp, err := card.Respond(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockproto.VerifyCardResponse(key, ch, "04A1B2", resp); err != nil {
		t.Fatalf("genuine card refused: %v", err)
	}
	// A clone built from the serial alone cannot answer.
	if _, err := (lockproto.SimCard{UID: "04A1B2"}).Respond(raw); !errors.Is(err, lockproto.ErrCardAuth) {
		t.Fatalf("serial-only clone answered: %v", err)
	}
	// A card with another card's key, a replayed answer to a new challenge,
	// and an answer for another serial all fail.
	wrong, _ := lockproto.SimCard{UID: "04A1B2", Key: lockproto.CardKey(master, "04A1B3")}.Respond(raw)
	if err := lockproto.VerifyCardResponse(key, ch, "04A1B2", wrong); !errors.Is(err, lockproto.ErrCardAuth) {
		t.Fatalf("wrong key: %v", err)
	}
	ch2, _ := lockproto.NewCardChallenge("lock-1")
	if err := lockproto.VerifyCardResponse(key, ch2, "04A1B2", resp); !errors.Is(err, lockproto.ErrCardAuth) {
		t.Fatalf("replayed answer: %v", err)
	}
	if err := lockproto.VerifyCardResponse(key, ch, "04A1B3", resp); !errors.Is(err, lockproto.ErrCardAuth) {
		t.Fatalf("answer for another serial: %v", err)
	}
	if _, err := lockproto.DecodeCardResponse(make([]byte, lockproto.MaxCardMessageSize+1)); !errors.Is(err, lockproto.ErrTooLarge) {
		t.Fatalf("oversized answer: %v", err)
	}
	if _, err := lockproto.DecodeCardResponse(resp[:len(resp)-3]); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("truncated answer: %v", err)
	}
}

// BenchmarkVerifyCardResponse is the lock's share of a secure-card check:
// decoding the card's answer and checking its MAC.
func BenchmarkVerifyCardResponse(b *testing.B) {
	key := lockproto.CardKey(bytes.Repeat([]byte{1}, 32), "04SECURE")
	ch, _ := lockproto.NewCardChallenge("lock-1")
	raw, _ := ch.Encode()
	resp, _ := lockproto.SimCard{UID: "04SECURE", Key: key}.Respond(raw)
	for b.Loop() {
		if err := lockproto.VerifyCardResponse(key, ch, "04SECURE", resp); err != nil {
			b.Fatal(err)
		}
	}
}
