package lock_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// outsider is what the cloud holds for one lock, and the lock.
type outsider struct {
	l        *lock.Lock
	keys     *lockproto.LockKeys
	propPriv []byte
	clock    *testClock
	version  uint64
}

func newOutsider(t testing.TB, opts lock.Options) *outsider {
	t.Helper()
	pub, priv, err := lockproto.NewPropertyKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lockproto.NewLockKeys("door-1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	opts.FS = lock.NewMemFS()
	clock := &testClock{t: start}
	opts.Clock = clock
	if err := lock.Provision(opts.FS, lockproto.NewProvisioning(keys, pub, "UTC", start)); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &outsider{l: l, keys: keys, propPriv: priv, clock: clock}
}

func (o *outsider) cards(t testing.TB, cards ...lockproto.KeycardEntry) {
	t.Helper()
	o.version++
	sealed, err := lockproto.SealBundle(o.propPriv, o.keys.Symmetric, lockproto.Bundle{LockID: "door-1", Version: o.version, Snapshot: true,
		TrustedTime: o.clock.Now(), Keycards: cards})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.l.ApplyBundle(sealed); err != nil {
		t.Fatal(err)
	}
}

// oldest fetches the log as a courier would and returns the oldest event
// the lock still holds, opening the batch as the cloud does.
func (o *outsider) oldest(t testing.TB) *lockproto.EventBatch {
	t.Helper()
	raw, err := o.l.EventsSince(1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := lockproto.OpenEventBatch(o.keys.Public, "door-1", o.keys.Symmetric, raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// floodUntilEvicted sends denials of four kinds, one every interval, until
// the event at seq is no longer held, and returns the simulated time it
// took (capped at limit).
func floodUntilEvicted(t testing.TB, o *outsider, seq uint64, interval, limit time.Duration) time.Duration {
	t.Helper()
	start := o.clock.Now()
	for i := 0; ; i++ {
		switch i % 4 {
		case 0:
			o.l.TapCard("junk-" + string(rune('a'+i%26)))
		case 1:
			o.l.EnterCode("0000000")
		case 2:
			junkProof(t, o.l, []byte{byte(i)})
		case 3:
			o.l.ApplyBundle([]byte{0xa0})
		}
		o.clock.Add(interval)
		if i%50 == 0 && o.oldest(t).Oldest > seq {
			return o.clock.Now().Sub(start)
		}
		if o.clock.Now().Sub(start) > limit {
			return limit
		}
	}
}

// A flood of junk no longer pushes a real event out of retention in
// minutes: repeated denials are aggregated, so the flood's time to evict
// no longer depends on its rate. Measured with a retention of 200 (the
// time scales with retention); the figures are in docs/bench-lock.md.
func TestLogFloodCannotEvictRealEvent(t *testing.T) {
	run := func(window time.Duration) time.Duration {
		o := newOutsider(t, lock.Options{LogRetention: 200, DenialWindow: window})
		o.cards(t, lockproto.KeycardEntry{Serial: "c1", PersonID: "p1"})
		d, err := o.l.TapCard("c1")
		if err != nil || !d.Granted {
			t.Fatal(d, err)
		}
		took := floodUntilEvicted(t, o, d.Seq, time.Second, 7*24*time.Hour)
		if window == 0 {
			// Every denial still counts: the aggregates add up.
			var counted uint32
			for _, e := range o.oldest(t).Events {
				if e.Kind == lockproto.EventCardDenied {
					counted += max(e.Count, 1)
				}
			}
			if counted < 100 {
				t.Fatalf("card denials counted %d", counted)
			}
		}
		return took
	}
	// A window of a nanosecond closes every run at once: one event per
	// denial, as before aggregation.
	before := run(time.Nanosecond)
	after := run(0) // lock.DefaultDenialWindow
	t.Logf("retention 200, 4 junk kinds at 1/s: real event evicted after %v without aggregation, %v with", before, after)
	if after < 50*before {
		t.Fatalf("aggregated flood evicted a real event after %v (unaggregated: %v)", after, before)
	}
}

// A card serial of 60 KiB is logged as a short digest: batches stay within
// what the cloud accepts.
func TestHugeSerialLoggedBounded(t *testing.T) {
	o := newOutsider(t, lock.Options{DenialWindow: time.Nanosecond})
	for i := range 300 {
		o.l.TapCard(strings.Repeat(string(rune('A'+i%26)), 60<<10))
		o.clock.Add(time.Second)
	}
	raw, err := o.l.EventsSince(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > lockproto.MaxSealedEventsSize {
		t.Fatalf("batch of %d bytes", len(raw))
	}
	b, _, err := lockproto.OpenEventBatch(o.keys.Public, "door-1", o.keys.Symmetric, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Events {
		if !e.Bounded() {
			t.Fatalf("unbounded event %d: %d-byte ref", e.Seq, len(e.Ref))
		}
	}
}

// A secure card's serial, read from the log or the air, does not open the
// door: a clone without the key fails the challenge; the genuine card and
// a serial-only card (cloneable, by design) open.
func TestSecureCardCloneRefused(t *testing.T) {
	o := newOutsider(t, lock.Options{})
	master, _ := lockproto.NewCardMasterKey()
	key := lockproto.CardKey(master, "04SECURE")
	o.cards(t, lockproto.KeycardEntry{Serial: "04SECURE", PersonID: "p1", Key: key}, lockproto.KeycardEntry{Serial: "04PLAIN", PersonID: "p2"})

	if d, _ := o.l.TapCard("04SECURE"); d.Granted || d.Reason != lock.ReasonCardAuth {
		t.Fatalf("serial-only clone of a secure card: %+v", d)
	}
	if d, _ := o.l.PresentCard(lockproto.SimCard{UID: "04SECURE", Key: lockproto.CardKey(master, "04OTHER")}); d.Granted {
		t.Fatal("card with another card's key opened")
	}
	other, _ := lockproto.NewCardMasterKey()
	if d, _ := o.l.PresentCard(lockproto.SimCard{UID: "04SECURE", Key: lockproto.CardKey(other, "04SECURE")}); d.Granted {
		t.Fatal("card keyed by another property's master opened")
	}
	if d, _ := o.l.PresentCard(lockproto.SimCard{UID: "04SECURE", Key: key}); !d.Granted || d.PersonID != "p1" {
		t.Fatalf("genuine secure card: %+v", d)
	}
	if d, _ := o.l.TapCard("04PLAIN"); !d.Granted {
		t.Fatalf("serial-only card: %+v", d)
	}
}

// BenchmarkSecureCardCheck is the lock CPU of one secure-card tap
// (challenge, card answer, MAC check, decision and log append).
func BenchmarkSecureCardCheck(b *testing.B) {
	o := newOutsider(b, lock.Options{})
	master, _ := lockproto.NewCardMasterKey()
	card := lockproto.SimCard{UID: "04SECURE", Key: lockproto.CardKey(master, "04SECURE")}
	o.cards(b, lockproto.KeycardEntry{Serial: card.UID, PersonID: "p1", Key: card.Key})
	for b.Loop() {
		if d, err := o.l.PresentCard(card); err != nil || !d.Granted {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkSerialCardCheck is the same for a serial-only card (the floor).
func BenchmarkSerialCardCheck(b *testing.B) {
	o := newOutsider(b, lock.Options{})
	o.cards(b, lockproto.KeycardEntry{Serial: "04PLAIN", PersonID: "p1"})
	for b.Loop() {
		if d, err := o.l.TapCard("04PLAIN"); err != nil || !d.Granted {
			b.Fatal(d, err)
		}
	}
}

// Log entries a flood adds per hour, at 10 junk attempts a second: four
// junk kinds, and the worst case — also cycling the serials of 40 known
// secure cards (a refusal names the card's holder, so each is its own
// run). Aggregation bounds it at two entries per open run per window,
// runs at 16 plus one coarse run per kind.
func TestLogFloodRate(t *testing.T) {
	master, _ := lockproto.NewCardMasterKey()
	var cards []lockproto.KeycardEntry
	for i := range 40 {
		serial := "04" + strings.Repeat("0", 4) + string(rune('A'+i%26)) + string(rune('A'+i/26))
		cards = append(cards, lockproto.KeycardEntry{Serial: serial, PersonID: "p" + serial, Key: lockproto.CardKey(master, serial)})
	}
	for _, c := range []struct {
		name   string
		window time.Duration
		known  int
	}{
		{"no aggregation (window 1 ns)", time.Nanosecond, 0},
		{"aggregated, 4 junk kinds", 0, 0},
		{"aggregated, 4 junk kinds + 40 known card serials", 0, 40},
	} {
		o := newOutsider(t, lock.Options{DenialWindow: c.window})
		o.cards(t, cards...)
		start := o.l.Status().LogNext
		for i := range 36000 { // one hour at 10/s
			switch {
			case c.known > 0 && i%2 == 1:
				o.l.TapCard(cards[(i/2)%c.known].Serial)
			case i%8 == 0:
				o.l.TapCard("junk")
			case i%8 == 2:
				o.l.EnterCode("0000000")
			case i%8 == 4:
				junkProof(t, o.l, []byte{byte(i)})
			default:
				o.l.ApplyBundle([]byte{0xa0})
			}
			o.clock.Add(100 * time.Millisecond)
		}
		o.l.EventsSince(1) // closes runs whose window passed
		added := o.l.Status().LogNext - start
		hours := float64(lock.DefaultLogRetention) / float64(added)
		t.Logf("%s: %d log entries per hour of flood; %d retained events last %.1f h", c.name, added, lock.DefaultLogRetention, hours)
		if c.window == 0 && added > 4*2*(16+5) {
			t.Errorf("%s: %d entries per hour, over the bound", c.name, added)
		}
	}
}

// junkProof is a stranger's garbage "unlock" over the v2 channel: anyone
// may run the handshake, and what he sends then is judged and logged.
func junkProof(t testing.TB, l *lock.Lock, junk []byte) {
	t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(l.LockID(), l.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	s, accept, err := l.OpenSession(hello)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, junk))); err != nil {
		t.Fatal(err)
	}
}
