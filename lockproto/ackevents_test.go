package lockproto_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

// events returns n consecutive events from seq from, of a lock that
// applied bundles.
func events(from uint64, n int) []lockproto.Event {
	out := make([]lockproto.Event, n)
	for i := range out {
		out[i] = lockproto.Event{Seq: from + uint64(i), At: now, Kind: lockproto.EventCardGranted, PersonID: "person-alice", Ref: "04A1B2C3D4"}
	}
	return out
}

func ackWith(f *fixture) lockproto.Ack {
	return lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Version: 7, Bundle: lockproto.BundleDigest([]byte("bundle 7")), LockTime: now, LogNext: 3}
}

func signAckEvents(t *testing.T, f *fixture, a lockproto.Ack, run lockproto.EventBatch) []byte {
	t.Helper()
	raw, err := lockproto.SignAckWithEvents(f.lock.Private, f.lock.Symmetric, a, run)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAckWithEvents(t *testing.T) {
	f := newFixture(t)
	run := lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: events(1, 2), Next: 3, Oldest: 1}
	raw := signAckEvents(t, f, ackWith(f), run)
	a, b, err := lockproto.OpenAck(f.lock.Public, "lock-1", f.lock.Symmetric, raw)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 7 || b == nil || len(b.Events) != 2 || b.From != 1 || b.Next != 3 || b.LockID != "lock-1" || !b.At.Equal(now) || b.Events[1].PersonID != "person-alice" {
		t.Fatalf("opened %+v, %+v", a, b)
	}
	// The events are the batch the same lock would seal: Continues and
	// LostBefore apply unchanged.
	if err := b.Continues(1, lockproto.GenesisHash); err != nil {
		t.Fatal(err)
	}
	// The relay (broker, phone) cannot read them.
	for _, secret := range []string{"person-alice", "04A1B2C3D4", lockproto.EventCardGranted} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("ack shows %q in the clear", secret)
		}
	}
	// VerifyAck cannot open them, and says so rather than drop them.
	if _, err := lockproto.VerifyAck(f.lock.Public, "lock-1", raw); !errors.Is(err, lockproto.ErrAckEvents) {
		t.Fatalf("VerifyAck of an ack with events = %v, want ErrAckEvents", err)
	}
	// A plain ack opens with no events; an empty run makes a plain ack.
	plain, err := lockproto.SignAckWithEvents(f.lock.Private, f.lock.Symmetric, ackWith(f), lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 3, Next: 3})
	if err != nil {
		t.Fatal(err)
	}
	if a, b, err := lockproto.OpenAck(f.lock.Public, "lock-1", f.lock.Symmetric, plain); err != nil || b != nil || a.Version != 7 {
		t.Fatalf("plain ack = %+v, %+v, %v", a, b, err)
	}
	if _, err := lockproto.VerifyAck(f.lock.Public, "lock-1", plain); err != nil {
		t.Fatalf("a plain ack stays what every server takes: %v", err)
	}
	if _, err := lockproto.SignAck(f.lock.Private, lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Bundle: make([]byte, 32), Events: []byte("x")}); err == nil {
		t.Fatal("SignAck signed events it did not seal")
	}
}

// The largest run an ack may carry (MaxAckEvents events of the largest
// bounded size, within the budget) fits under MaxAckSize: the lock never
// signs an ack the cloud refuses for its size.
func TestAckWithEventsLargestFits(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", lockproto.MaxEventField)
	var run []lockproto.Event
	for i := 0; i < lockproto.MaxAckEvents; i++ {
		e := lockproto.Event{Seq: uint64(i + 1), At: now, Kind: long, Credential: long, PersonID: long, Ref: long, Reason: long, Version: 1 << 60, Count: 1 << 31, Last: now}
		if !lockproto.AckRunFits(append(run, e)) {
			break
		}
		run = append(run, e)
	}
	if len(run) < 2 {
		t.Fatalf("only %d large events fit", len(run))
	}
	a := ackWith(f)
	a.LockID = strings.Repeat("l", 64)
	a.LogNext = uint64(len(run) + 1)
	keys, _ := lockproto.NewLockKeys(a.LockID)
	raw, err := lockproto.SignAckWithEvents(keys.Private, keys.Symmetric, a, lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: run, Next: a.LogNext})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > lockproto.MaxAckSize {
		t.Fatalf("largest ack with events is %d bytes, ceiling %d", len(raw), lockproto.MaxAckSize)
	}
	if _, _, err := lockproto.OpenAck(keys.Public, a.LockID, keys.Symmetric, raw); err != nil {
		t.Fatal(err)
	}
}

// Threat-model rows "Events in the ack" (docs/lock-protocol.md).
func TestAckWithEventsRefusals(t *testing.T) {
	f := newFixture(t)
	other, _ := lockproto.NewLockKeys("lock-1")
	run := lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: events(1, 2), Next: 3, Oldest: 1}
	raw := signAckEvents(t, f, ackWith(f), run)
	open := func(data []byte) error {
		_, _, err := lockproto.OpenAck(f.lock.Public, "lock-1", f.lock.Symmetric, data)
		return err
	}
	sign := func(a lockproto.Ack, run lockproto.EventBatch) error {
		_, err := lockproto.SignAckWithEvents(f.lock.Private, f.lock.Symmetric, a, run)
		return err
	}
	flipped := func(i int) []byte {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"signed by another lock's key", open(signAckEvents(t, &fixture{lock: other}, ackWith(f), run)), lockproto.ErrSignature},
		{"events sealed under another symmetric key", func() error {
			forged, err := lockproto.SignAckWithEvents(f.lock.Private, other.Symmetric, ackWith(f), run)
			if err != nil {
				return err
			}
			return open(forged)
		}(), lockproto.ErrDecrypt},
		{"another lock's ack", func() error {
			_, _, err := lockproto.OpenAck(f.lock.Public, "lock-2", f.lock.Symmetric, raw)
			return err
		}(), lockproto.ErrWrongLock},
		{"altered in the sealed events", open(flipped(len(raw) - 80)), lockproto.ErrSignature},
		{"altered in the ack", open(flipped(len(raw) / 4)), nil},
		{"oversized", open(append(raw, make([]byte, lockproto.MaxAckSize)...)), lockproto.ErrTooLarge},
		{"too many events", sign(lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Bundle: make([]byte, 32), LogNext: lockproto.MaxAckEvents + 2},
			lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: events(1, lockproto.MaxAckEvents+1), Next: lockproto.MaxAckEvents + 2}), lockproto.ErrTooLarge},
		{"skipped sequence number", sign(ackWith(f), lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: []lockproto.Event{events(1, 1)[0], events(3, 1)[0]}, Next: 3}), lockproto.ErrMalformed},
		{"repeated sequence number", sign(ackWith(f), lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: []lockproto.Event{events(1, 1)[0], events(1, 1)[0]}, Next: 3}), lockproto.ErrMalformed},
		{"run ends past the ack's log position", sign(ackWith(f), lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: events(1, 2), Next: 4}), lockproto.ErrMalformed},
		{"run beyond the lock's log end", sign(lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Bundle: make([]byte, 32), LogNext: 2},
			lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Events: events(1, 2), Next: 2}), lockproto.ErrMalformed},
		{"unbounded field", sign(ackWith(f), lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1,
			Events: []lockproto.Event{{Seq: 1, Kind: strings.Repeat("k", 600)}, events(2, 1)[0]}, Next: 3}), lockproto.ErrMalformed},
		{"no chain hash", sign(ackWith(f), lockproto.EventBatch{From: 1, Events: events(1, 2), Next: 3}), lockproto.ErrMalformed},
	}
	for _, c := range cases {
		if c.err == nil || (c.want != nil && !errors.Is(c.err, c.want)) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
}
