package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type fixture struct {
	propPub  ed25519.PublicKey
	propPriv ed25519.PrivateKey
	lock     *lockproto.LockKeys
	devPub   ed25519.PublicKey
	devPriv  ed25519.PrivateKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pub, priv, err := lockproto.NewPropertyKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lockproto.NewLockKeys("lock-1")
	if err != nil {
		t.Fatal(err)
	}
	dp, dk, _ := ed25519.GenerateKey(rand.Reader)
	return &fixture{pub, priv, keys, dp, dk}
}

func (f *fixture) credential(t testing.TB) []byte {
	t.Helper()
	nb, na := lockproto.CredentialWindow(now, lockproto.DefaultCredentialLifetime, now.Add(-time.Hour), now.Add(6*time.Hour))
	b, err := lockproto.IssueCredential(f.propPriv, lockproto.Credential{
		Serial: 7, PersonID: "p-1", DeviceKey: f.devPub,
		Locks:     []lockproto.LockAccess{{LockID: "lock-1", Schedule: lockproto.Schedule{{Day: time.Monday, Start: 0, End: 1440}}}},
		NotBefore: nb, NotAfter: na, IssuedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) bundle(t testing.TB) []byte {
	t.Helper()
	b, err := lockproto.SealBundle(f.propPriv, f.lock.Symmetric, lockproto.Bundle{
		LockID: "lock-1", Base: 3, Version: 4, TrustedTime: now,
		Doorcodes:   []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p-1", NotAfter: now.Add(time.Hour)}},
		Keycards:    []lockproto.KeycardEntry{{Serial: "04AB", PersonID: "p-2"}},
		Revocations: []lockproto.Revocation{{PersonID: "p-3", EffectiveAt: now}},
		DayKeys:     []lockproto.DayKey{{KeyID: "k", Secret: make([]byte, 32), Digits: 7, Slots: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCredential(t *testing.T) {
	f := newFixture(t)
	raw := f.credential(t)
	c, err := lockproto.VerifyCredential(f.propPub, raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.PersonID != "p-1" || !c.NotAfter.Equal(now.Add(6*time.Hour)) || !c.NotBefore.Equal(now.Add(-time.Hour)) || !c.SameDevice(f.devPub) {
		t.Fatalf("credential = %+v", c)
	}
	if a, ok := c.Access("lock-1"); !ok || len(a.Schedule) != 1 {
		t.Fatalf("access = %+v", a)
	}
	if !c.ValidAt(now) || c.ValidAt(now.Add(6*time.Hour)) {
		t.Fatal("validity window wrong")
	}
	other, _, _ := lockproto.NewPropertyKey()
	if _, err := lockproto.VerifyCredential(other, raw); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("other property key: %v", err)
	}
	// A credential signature is not a bundle or ack signature.
	if _, err := lockproto.VerifyAck(f.propPub, "lock-1", raw); err == nil {
		t.Fatal("credential accepted as an ack")
	}
}

func TestCredentialWindow(t *testing.T) {
	start := now.Add(-48 * time.Hour)
	nb, na := lockproto.CredentialWindow(now, 24*time.Hour, start, time.Time{})
	if !nb.Equal(start) || !na.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("window %v–%v", nb, na)
	}
	_, na = lockproto.CredentialWindow(now, 24*time.Hour, start, now.Add(time.Hour))
	if !na.Equal(now.Add(time.Hour)) {
		t.Fatalf("grant expiry not honoured: %v", na)
	}
}

func TestIssueCredentialRejectsNonsense(t *testing.T) {
	f := newFixture(t)
	if _, err := lockproto.IssueCredential(f.propPriv, lockproto.Credential{Serial: 1, PersonID: "p", DeviceKey: f.devPub,
		Locks: []lockproto.LockAccess{{LockID: "l"}}, NotBefore: now, NotAfter: now, IssuedAt: now}); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("empty window: %v", err)
	}
}

func TestBundleSealOpen(t *testing.T) {
	f := newFixture(t)
	sealed := f.bundle(t)
	h, err := lockproto.ReadBundleHeader(sealed)
	if err != nil || h.LockID != "lock-1" || h.Base != 3 || h.Version != 4 {
		t.Fatalf("header %+v %v", h, err)
	}
	b, err := lockproto.OpenBundle(f.propPub, "lock-1", f.lock.Symmetric, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Doorcodes) != 1 || b.Doorcodes[0].Code != "1234567" || !b.Doorcodes[0].NotAfter.Equal(now.Add(time.Hour)) || !b.Doorcodes[0].NotBefore.IsZero() {
		t.Fatalf("bundle = %+v", b)
	}
	// The relaying phone cannot read it.
	if bytes.Contains(sealed, []byte("1234567")) || bytes.Contains(sealed, []byte("p-1")) {
		t.Fatal("bundle content visible in the sealed bytes")
	}
	t.Run("WrongLock", func(t *testing.T) {
		if _, err := lockproto.OpenBundle(f.propPub, "lock-2", f.lock.Symmetric, sealed); !errors.Is(err, lockproto.ErrWrongLock) {
			t.Fatal(err)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		if _, err := lockproto.OpenBundle(f.propPub, "lock-1", make([]byte, 32), sealed); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatal(err)
		}
	})
	t.Run("HeaderVersionChanged", func(t *testing.T) {
		// Re-encode the envelope with a different version in the clear header.
		type env struct {
			lockproto.BundleHeader
			Nonce      []byte `cbor:"5,keyasint"`
			Ciphertext []byte `cbor:"6,keyasint"`
		}
		var e env
		if err := cborUnmarshal(sealed, &e); err != nil {
			t.Fatal(err)
		}
		e.Version = 99
		tampered := cborMarshal(t, &e)
		if _, err := lockproto.OpenBundle(f.propPub, "lock-1", f.lock.Symmetric, tampered); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BadEntries", func(t *testing.T) {
		for _, b := range []lockproto.Bundle{
			{LockID: "lock-1", Version: 1, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{{Code: "12a4", PersonID: "p"}}},
			{LockID: "lock-1", Version: 1, Snapshot: true, Revocations: []lockproto.Revocation{{EffectiveAt: now}}},
			{LockID: "lock-1", Version: 2, Base: 2},
			{LockID: "lock-1", Version: 2, Base: 1, Snapshot: true},
		} {
			if _, err := lockproto.SealBundle(f.propPriv, f.lock.Symmetric, b); !errors.Is(err, lockproto.ErrMalformed) {
				t.Fatalf("sealed %+v: %v", b, err)
			}
		}
	})
}

func TestAck(t *testing.T) {
	f := newFixture(t)
	raw, err := lockproto.SignAck(f.lock.Private, lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Version: 4, Bundle: lockproto.BundleDigest([]byte("x")), LockTime: now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := lockproto.VerifyAck(f.lock.Public, "lock-1", raw)
	if err != nil || a.Version != 4 || a.Status != lockproto.AckApplied {
		t.Fatalf("ack %+v %v", a, err)
	}
	if _, err := lockproto.VerifyAck(f.lock.Public, "lock-2", raw); !errors.Is(err, lockproto.ErrWrongLock) {
		t.Fatal(err)
	}
	other, _ := lockproto.NewLockKeys("lock-1")
	if _, err := lockproto.VerifyAck(other.Public, "lock-1", raw); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatal(err)
	}
}

func TestEventBatch(t *testing.T) {
	f := newFixture(t)
	events := []lockproto.Event{{Seq: 1, At: now, Kind: lockproto.EventBoot}, {Seq: 2, At: now, Kind: lockproto.EventCardDenied, Ref: "04"}}
	raw, err := lockproto.SealEventBatch(f.lock.Private, f.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash, From: 1, Events: events, Next: 3, At: now})
	if err != nil {
		t.Fatal(err)
	}
	b, head, err := lockproto.OpenEventBatch(f.lock.Public, "lock-1", f.lock.Symmetric, raw)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := lockproto.ChainHash(lockproto.GenesisHash, &events[0])
	h2, _ := lockproto.ChainHash(h1, &events[1])
	if !bytes.Equal(head, h2) || b.Continues(1, lockproto.GenesisHash) != nil {
		t.Fatal("chain head wrong")
	}
	if err := b.Continues(0, lockproto.GenesisHash); !errors.Is(err, lockproto.ErrLogGap) {
		t.Fatalf("gap not detected: %v", err)
	}
	// A lock cannot sign a batch with a hole in it.
	if _, err := lockproto.SealEventBatch(f.lock.Private, f.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash, From: 1,
		Events: []lockproto.Event{{Seq: 1, Kind: "a"}, {Seq: 3, Kind: "b"}}, Next: 4}); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatal(err)
	}
}

func TestProvisioning(t *testing.T) {
	f := newFixture(t)
	p := lockproto.NewProvisioning(f.lock, f.propPub, "America/Chicago", now)
	raw, err := jsonMarshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lockproto.ParseProvisioning(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LockPrivate().Equal(f.lock.Private) || got.LockID != "lock-1" {
		t.Fatal("provisioning round trip lost the key")
	}
	p.TimeZone = "Mars/Olympus"
	raw, _ = jsonMarshal(p)
	if _, err := lockproto.ParseProvisioning(raw); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("bad zone: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	for _, err := range []error{lockproto.ErrStale, lockproto.ErrWrongBase, lockproto.ErrSignature} {
		if got := lockproto.ErrorFromCode(lockproto.ErrorCode(err)); got != err {
			t.Fatalf("%v round trips to %v", err, got)
		}
	}
	if lockproto.ErrorCode(errors.New("disk full")) != "internal" {
		t.Fatal("unknown error leaks")
	}
}
