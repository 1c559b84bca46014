package lock

import (
	"errors"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

// openBatch opens a sealed batch as the cloud does.
func openBatch(l *Lock, raw []byte) (*lockproto.EventBatch, []byte, error) {
	return lockproto.OpenEventBatch(l.PublicKey(), l.LockID(), l.keys.sym, raw)
}

func fetch(t *testing.T, l *Lock, from uint64) (*lockproto.EventBatch, []byte) {
	t.Helper()
	raw, err := l.EventsSince(from)
	if err != nil {
		t.Fatal(err)
	}
	b, head, err := openBatch(l, raw)
	if err != nil {
		t.Fatal(err)
	}
	return b, head
}

func TestEventLog(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p1"}}})
	e.code("1234567")
	e.code("7654321")

	b, head := fetch(t, e.lock, 1)
	if err := b.Continues(1, lockproto.GenesisHash); err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, ev := range b.Events {
		kinds = append(kinds, ev.Kind)
	}
	want := []string{lockproto.EventBoot, lockproto.EventBundleApplied, lockproto.EventCodeGranted, lockproto.EventCodeDenied}
	if len(kinds) != len(want) {
		t.Fatalf("events = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events = %v, want %v", kinds, want)
		}
	}
	if b.Events[2].PersonID != "p1" || b.Events[2].Credential != "doorcode" {
		t.Fatalf("event = %+v", b.Events[2])
	}

	t.Run("ContinuesAcrossBatchesAndReboots", func(t *testing.T) {
		next := b.From + uint64(len(b.Events))
		e.reboot()
		e.code("1234567")
		b2, _ := fetch(t, e.lock, next)
		if err := b2.Continues(next, head); err != nil {
			t.Fatal(err)
		}
		if len(b2.Events) != 2 || b2.Events[0].Kind != lockproto.EventBoot {
			t.Fatalf("events = %+v", b2.Events)
		}
	})
	t.Run("SuppressedBatchIsAGap", func(t *testing.T) {
		// A phone that withholds a batch: the next one the cloud sees starts later.
		b3, _ := fetch(t, e.lock, 6)
		if err := b3.Continues(2, head); !errors.Is(err, lockproto.ErrLogGap) {
			t.Fatalf("err = %v, want gap", err)
		}
	})
	t.Run("ForkDetected", func(t *testing.T) {
		b4, _ := fetch(t, e.lock, 3)
		if err := b4.Continues(3, lockproto.GenesisHash); !errors.Is(err, lockproto.ErrLogFork) {
			t.Fatalf("err = %v, want fork", err)
		}
	})
	t.Run("EventsDroppedFromBatchBreakSignature", func(t *testing.T) {
		raw, _ := e.lock.EventsSince(1)
		// Re-sign is impossible without the lock key; any edit fails verification.
		for i := range raw {
			f := append([]byte(nil), raw...)
			f[i] ^= 0x10
			if _, _, err := openBatch(e.lock, f); err == nil {
				t.Fatalf("batch with byte %d flipped verified", i)
			}
		}
	})
}

func TestEventLogRetentionShowsGap(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Keycards: []lockproto.KeycardEntry{{Serial: "c1", PersonID: "p1"}}})
	l, err := Open(Options{FS: e.fs, Clock: e.clock, LogRetention: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 28 {
		if d, err := l.TapCard("c1"); err != nil || !d.Granted {
			t.Fatal(d, err)
		}
	}
	b, head := fetch(t, l, 1)
	if err := b.Continues(1, lockproto.GenesisHash); !errors.Is(err, lockproto.ErrLogGap) {
		t.Fatalf("err = %v, want gap", err)
	}
	if len(b.Events) < 10 || b.Next != b.From+uint64(len(b.Events)) {
		t.Fatalf("batch from %d with %d events, next %d", b.From, len(b.Events), b.Next)
	}
	// Compaction kept the chain intact across a reboot.
	l2, err := Open(Options{FS: e.fs, Clock: e.clock, LogRetention: 10})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := fetch(t, l2, b.Next)
	if err := b2.Continues(b.Next, head); err != nil || len(b2.Events) != 1 {
		t.Fatalf("after reboot: %d events, %v", len(b2.Events), err)
	}
}

func TestEventLogTornTail(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.lock.TapCard("x")
	mem := e.fs.(*MemFS)
	mem.AppendFile(eventsFile, []byte{0, 0, 0, 40, 1, 2, 3})
	e.reboot()
	e.lock.TapCard("y")
	checkWholeLog(t, e.lock)
}
