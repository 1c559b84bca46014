package lock

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// t0 is a Monday morning in the property's zone.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, berlin)

type env struct {
	t        testing.TB
	propPub  ed25519.PublicKey
	propPriv ed25519.PrivateKey
	keys     *lockproto.LockKeys
	fs       FS
	clock    *fakeClock
	lock     *Lock
	devPub   ed25519.PublicKey
	devPriv  ed25519.PrivateKey
	serial   uint64
}

func newEnv(t testing.TB, lockID string) *env {
	t.Helper()
	pub, priv, err := lockproto.NewPropertyKey()
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWithProperty(t, lockID, pub, priv, NewMemFS())
}

func newEnvWithProperty(t testing.TB, lockID string, pub ed25519.PublicKey, priv ed25519.PrivateKey, fsys FS) *env {
	t.Helper()
	keys, err := lockproto.NewLockKeys(lockID)
	if err != nil {
		t.Fatal(err)
	}
	devPub, devPriv, _ := ed25519.GenerateKey(rand.Reader)
	e := &env{t: t, propPub: pub, propPriv: priv, keys: keys, fs: fsys, clock: &fakeClock{t: t0}, devPub: devPub, devPriv: devPriv}
	if err := Provision(e.fs, lockproto.NewProvisioning(keys, pub, "Europe/Berlin", t0.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	e.reboot()
	return e
}

func (e *env) reboot() {
	e.t.Helper()
	l, err := Open(Options{FS: e.fs, Clock: e.clock, LogRetention: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	e.lock = l
}

// seal seals b for this lock with the property key, stamped with the
// current (fake) time unless b says otherwise.
func (e *env) seal(b lockproto.Bundle) []byte {
	e.t.Helper()
	if b.LockID == "" {
		b.LockID = e.keys.LockID
	}
	if b.TrustedTime.IsZero() {
		b.TrustedTime = e.clock.Now()
	}
	s, err := lockproto.SealBundle(e.propPriv, e.keys.Symmetric, b)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) apply(b lockproto.Bundle) {
	e.t.Helper()
	if _, err := e.lock.ApplyBundle(e.seal(b)); err != nil {
		e.t.Fatal(err)
	}
}

// cred issues a credential for this lock valid around now; mod adjusts it.
func (e *env) cred(mod func(*lockproto.Credential)) []byte {
	e.t.Helper()
	e.serial++
	now := e.clock.Now()
	c := lockproto.Credential{
		Serial: e.serial, PersonID: "p-alice", DeviceKey: e.devPub,
		Locks:     []lockproto.LockAccess{{LockID: e.keys.LockID}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(23 * time.Hour), IssuedAt: now.Add(-time.Hour),
	}
	if mod != nil {
		mod(&c)
	}
	b, err := lockproto.IssueCredential(e.propPriv, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// connect opens a session to the lock as a phone that knows its key.
func (e *env) connect() (*Session, *lockproto.Channel) {
	e.t.Helper()
	return e.connectT(e.t)
}

// connectT is connect reporting to t (inside a fuzz function).
func (e *env) connectT(t testing.TB) (*Session, *lockproto.Channel) {
	t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(e.keys.LockID, e.keys.Public)
	if err != nil {
		t.Fatal(err)
	}
	s, accept, err := e.lock.OpenSession(hello)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		t.Fatal(err)
	}
	return s, ch
}

// request opens a session and builds the phone's proof in it.
func (e *env) request(cred []byte, dev crypto.Signer) (*Session, []byte) {
	e.t.Helper()
	s, ch := e.connect()
	req, err := lockproto.NewUnlockRequest(ch, cred, dev, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := req.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	return s, b
}

// decide is an unlock of request in s, the channel's encryption aside.
func (s *Session) decide(request []byte) (Decision, error) {
	d, _, err := s.prove(request, true)
	return d, err
}

func (e *env) unlock(cred []byte) Decision {
	e.t.Helper()
	s, req := e.request(cred, e.devPriv)
	d, err := s.decide(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) code(code string) Decision {
	e.t.Helper()
	d, err := e.lock.EnterCode(code)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func wantDecision(t testing.TB, d Decision, granted bool, reason string) {
	t.Helper()
	if d.Granted != granted || d.Reason != reason {
		t.Fatalf("decision = granted %v reason %q, want granted %v reason %q", d.Granted, d.Reason, granted, reason)
	}
}
