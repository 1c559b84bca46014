package lock_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// The attack tests of issue 10 (time, revocation, keypad, storage) drive the
// lock as an outsider would: sealed bundles, signed tokens, challenges and
// keypad entries, through the exported API only.

type rtc struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rtc) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rtc) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *rtc) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

var zone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// start is a Monday morning in the property's zone.
var start = time.Date(2026, 3, 2, 10, 0, 0, 0, zone)

type door struct {
	t        testing.TB
	propPub  ed25519.PublicKey
	propPriv ed25519.PrivateKey
	keys     *lockproto.LockKeys
	fs       lock.FS
	rtc      *rtc
	// real is the true time; the RTC may disagree after a reset.
	real    time.Time
	l       *lock.Lock
	devPub  ed25519.PublicKey
	devPriv ed25519.PrivateKey
	serial  uint64
	version uint64
}

func newDoor(t testing.TB) *door {
	t.Helper()
	pub, priv, err := lockproto.NewPropertyKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lockproto.NewLockKeys("lock-a")
	if err != nil {
		t.Fatal(err)
	}
	devPub, devPriv, _ := ed25519.GenerateKey(rand.Reader)
	d := &door{t: t, propPub: pub, propPriv: priv, keys: keys, fs: lock.NewMemFS(), rtc: &rtc{t: start}, real: start, devPub: devPub, devPriv: devPriv}
	if err := lock.Provision(d.fs, lockproto.NewProvisioning(keys, pub, "Europe/Berlin", start.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	d.boot()
	return d
}

func (d *door) boot() {
	d.t.Helper()
	l, err := lock.Open(lock.Options{FS: d.fs, Clock: d.rtc, LogRetention: 100000})
	if err != nil {
		d.t.Fatal(err)
	}
	d.l = l
}

// wait lets true time and the RTC run on together.
func (d *door) wait(dt time.Duration) {
	d.real = d.real.Add(dt)
	d.rtc.Advance(dt)
}

// bundle seals and applies the next version (a delta unless it is the
// first), stamped with the true time unless b says otherwise.
func (d *door) bundle(b lockproto.Bundle) error {
	d.t.Helper()
	b.LockID = d.keys.LockID
	if d.version == 0 {
		b.Snapshot = true
	} else {
		b.Base = d.version
	}
	b.Version = d.version + 1
	if b.TrustedTime.IsZero() {
		b.TrustedTime = d.real
	}
	sealed, err := lockproto.SealBundle(d.propPriv, d.keys.Symmetric, b)
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = d.l.ApplyBundle(sealed)
	if err == nil {
		d.version++
	}
	return err
}

func (d *door) mustBundle(b lockproto.Bundle) {
	d.t.Helper()
	if err := d.bundle(b); err != nil {
		d.t.Fatal(err)
	}
}

func (d *door) token(at time.Time, epoch uint64) []byte {
	d.t.Helper()
	tok, err := lockproto.IssueTimeToken(d.propPriv, at, epoch)
	if err != nil {
		d.t.Fatal(err)
	}
	return tok
}

// cred issues a credential at issued for lifetime (the cloud's window rule).
func (d *door) cred(person string, issued time.Time, lifetime time.Duration) []byte {
	d.t.Helper()
	d.serial++
	nb, na := lockproto.CredentialWindow(issued, lifetime, issued, time.Time{})
	b, err := lockproto.IssueCredential(d.propPriv, lockproto.Credential{
		Serial: d.serial, PersonID: person, DeviceKey: d.devPub,
		Locks:     []lockproto.LockAccess{{LockID: d.keys.LockID}},
		NotBefore: nb, NotAfter: na, IssuedAt: issued,
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

func (d *door) unlock(cred []byte) lock.Decision {
	d.t.Helper()
	return d.unlockWith(cred, nil)
}

// unlockWith is an unlock through the v2 channel, the phone carrying the
// time token tok (nil: none), as a real phone does.
func (d *door) unlockWith(cred, tok []byte) lock.Decision {
	d.t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(d.keys.LockID, d.keys.Public)
	if err != nil {
		d.t.Fatal(err)
	}
	s, accept, err := d.l.OpenSession(hello)
	if err != nil {
		d.t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		d.t.Fatal(err)
	}
	req, err := lockproto.NewUnlockRequest(ch, cred, d.devPriv, tok)
	if err != nil {
		d.t.Fatal(err)
	}
	raw, err := req.Encode()
	if err != nil {
		d.t.Fatal(err)
	}
	reply, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, raw)))
	if err != nil {
		d.t.Fatal(err)
	}
	plain, err := ch.Open(reply)
	if err != nil {
		d.t.Fatal(err)
	}
	typ, body, err := lockproto.DecodeChannelMsg(plain)
	if err != nil || typ != lockproto.ChanResult {
		d.t.Fatalf("unlock reply: type %v, err %v", typ, err)
	}
	res, err := lockproto.DecodeUnlockResult(body)
	if err != nil {
		d.t.Fatal(err)
	}
	return lock.Decision{Granted: res.Granted, Reason: res.Reason, Seq: res.Seq}
}

func (d *door) code(c string) lock.Decision {
	d.t.Helper()
	dec, err := d.l.EnterCode(c)
	if err != nil {
		d.t.Fatal(err)
	}
	return dec
}

func (d *door) card(serial string) lock.Decision {
	d.t.Helper()
	dec, err := d.l.TapCard(serial)
	if err != nil {
		d.t.Fatal(err)
	}
	return dec
}

// events returns the whole verified log.
func (d *door) events() []lockproto.Event {
	d.t.Helper()
	return logOf(d.t, d.l, d.keys.Symmetric)
}

func logOf(t testing.TB, l *lock.Lock, sym []byte) []lockproto.Event {
	t.Helper()
	var out []lockproto.Event
	seq, prev := uint64(1), lockproto.GenesisHash
	for {
		raw, err := l.EventsSince(seq)
		if err != nil {
			t.Fatal(err)
		}
		b, head, err := lockproto.OpenEventBatch(l.PublicKey(), l.LockID(), sym, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Continues(seq, prev); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			return out
		}
		out = append(out, b.Events...)
		seq, prev = b.From+uint64(len(b.Events)), head
	}
}

func count(events []lockproto.Event, kind string) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func want(t testing.TB, what string, d lock.Decision, granted bool, reason string) {
	t.Helper()
	if d.Granted != granted || d.Reason != reason {
		t.Fatalf("%s: granted %v reason %q, want granted %v reason %q", what, d.Granted, d.Reason, granted, reason)
	}
}
