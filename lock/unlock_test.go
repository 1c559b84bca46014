package lock

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

func TestUnlock(t *testing.T) {
	mondayOnly := lockproto.Schedule{{Day: time.Monday, Start: 8 * 60, End: 12 * 60}}
	tuesdayOnly := lockproto.Schedule{{Day: time.Tuesday, Start: 0, End: 24 * 60}}
	tests := []struct {
		name    string
		mod     func(e *env, c *lockproto.Credential)
		granted bool
		reason  string
	}{
		{"OK", nil, true, ReasonOK},
		{"OKInsideSchedule", func(e *env, c *lockproto.Credential) { c.Locks[0].Schedule = mondayOnly }, true, ReasonOK},
		{"ErrOutsideSchedule", func(e *env, c *lockproto.Credential) { c.Locks[0].Schedule = tuesdayOnly }, false, ReasonOutsideSchedule},
		{"ErrOtherLock", func(e *env, c *lockproto.Credential) { c.Locks[0].LockID = "lock-other" }, false, ReasonOtherLock},
		{"ErrExpired", func(e *env, c *lockproto.Credential) {
			c.NotBefore, c.NotAfter = t0.Add(-48*time.Hour), t0.Add(-time.Second)
		}, false, ReasonExpired},
		{"ErrNotYetValid", func(e *env, c *lockproto.Credential) {
			c.NotBefore, c.NotAfter = t0.Add(time.Hour), t0.Add(23*time.Hour)
		}, false, ReasonNotYetValid},
		{"ErrOtherDevice", func(e *env, c *lockproto.Credential) {
			other, _, _ := ed25519.GenerateKey(rand.Reader)
			c.DeviceKey = other
		}, false, ReasonBadDeviceSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "lock-a")
			cred := e.cred(func(c *lockproto.Credential) {
				if tt.mod != nil {
					tt.mod(e, c)
				}
			})
			wantDecision(t, e.unlock(cred), tt.granted, tt.reason)
		})
	}
}

func TestUnlockForgedCredential(t *testing.T) {
	e := newEnv(t, "lock-a")
	_, attacker, _ := lockproto.NewPropertyKey()
	forged, err := lockproto.IssueCredential(attacker, lockproto.Credential{
		Serial: 9, PersonID: "mallory", DeviceKey: e.devPub, Locks: []lockproto.LockAccess{{LockID: "lock-a"}},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), IssuedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, e.unlock(forged), false, ReasonBadCredential)

	good := e.cred(nil)
	for _, i := range []int{0, len(good) / 3, len(good) / 2, len(good) - 1} {
		flipped := append([]byte(nil), good...)
		flipped[i] ^= 0x04
		wantDecision(t, e.unlock(flipped), false, ReasonBadCredential)
	}
}

func TestUnlockReplayedResponse(t *testing.T) {
	e := newEnv(t, "lock-a")
	s, req := e.request(e.cred(nil), e.devPriv)
	d, err := s.decide(req)
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, d, true, ReasonOK)
	t.Run("SameChannel", func(t *testing.T) {
		d, _ := s.decide(req)
		wantDecision(t, d, false, ReasonUnknownChallenge)
	})
	t.Run("NewChannel", func(t *testing.T) {
		s2, _ := e.connect()
		d, _ := s2.decide(req)
		wantDecision(t, d, false, ReasonBadDeviceSig)
	})
}

func TestUnlockStaleChallenge(t *testing.T) {
	e := newEnv(t, "lock-a")
	s, req := e.request(e.cred(nil), e.devPriv)
	e.clock.Advance(DefaultChallengeTTL + time.Second)
	d, _ := s.decide(req)
	wantDecision(t, d, false, ReasonUnknownChallenge)
}

func TestUnlockOtherLocksChallenge(t *testing.T) {
	pub, priv, _ := lockproto.NewPropertyKey()
	a := newEnvWithProperty(t, "lock-a", pub, priv, NewMemFS())
	b := newEnvWithProperty(t, "lock-b", pub, priv, NewMemFS())
	b.devPub, b.devPriv = a.devPub, a.devPriv
	cred := a.cred(func(c *lockproto.Credential) {
		c.Locks = []lockproto.LockAccess{{LockID: "lock-a"}, {LockID: "lock-b"}}
	})

	t.Run("ResponseRelayedToOtherLock", func(t *testing.T) {
		// A proof made in a channel to lock B, carried to lock A.
		_, req := b.request(cred, b.devPriv)
		s, _ := a.connect()
		d, _ := s.decide(req)
		wantDecision(t, d, false, ReasonBadDeviceSig)
	})
	t.Run("SignedForOtherLock", func(t *testing.T) {
		// Lock A's channel, but the device signed it as lock B.
		s, ch := a.connect()
		sig := ed25519.Sign(a.devPriv, lockproto.DeviceMessage("lock-b", ch.Binding()))
		rb, _ := (&lockproto.UnlockRequest{V: lockproto.Version, Credential: cred, Signature: sig}).Encode()
		d, _ := s.decide(rb)
		wantDecision(t, d, false, ReasonBadDeviceSig)
	})
}

func TestUnlockMalformed(t *testing.T) {
	e := newEnv(t, "lock-a")
	_, req := e.request(e.cred(nil), e.devPriv)
	for _, bad := range [][]byte{nil, {0xa0}, req[:len(req)-1], append(append([]byte(nil), req...), 0)} {
		s, _ := e.connect()
		d, err := s.decide(bad)
		if err != nil {
			t.Fatal(err)
		}
		wantDecision(t, d, false, ReasonMalformed)
	}
}

// A phone cannot bring its own clock: the request has no time field, and one
// smuggled in makes the request unreadable.
func TestUnlockPhoneClockIgnored(t *testing.T) {
	e := newEnv(t, "lock-a")
	cred := e.cred(func(c *lockproto.Credential) { c.NotAfter = t0.Add(time.Minute) })
	e.clock.Advance(2 * time.Minute)
	wantDecision(t, e.unlock(cred), false, ReasonExpired)

	type withClock struct {
		lockproto.UnlockRequest
		PhoneTime int64 `cbor:"9,keyasint"`
	}
	s, ch := e.connect()
	req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
	b, err := stEnc.Marshal(&withClock{UnlockRequest: *req, PhoneTime: t0.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.decide(b)
	wantDecision(t, d, false, ReasonMalformed)
}

// Sessions are independent: any number of other handshakes leaves a
// phone's own challenge (its channel) answerable.
func TestManySessionsEvictNothing(t *testing.T) {
	e := newEnv(t, "lock-a")
	s, req := e.request(e.cred(nil), e.devPriv)
	for range 100 {
		e.connect()
	}
	d, _ := s.decide(req)
	wantDecision(t, d, true, ReasonOK)
}

// sealed sends one request through the channel as the phone would.
func sealed(t *testing.T, s *Session, ch *lockproto.Channel, typ lockproto.ChannelMsg, body []byte) (lockproto.ChannelMsg, []byte) {
	t.Helper()
	out, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(typ, body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ch.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	rt, rb, err := lockproto.DecodeChannelMsg(plain)
	if err != nil {
		t.Fatal(err)
	}
	return rt, rb
}

func TestSessionAuthGatesBundlesAndLogs(t *testing.T) {
	e := newEnv(t, "lock-a")
	bundle := e.seal(lockproto.Bundle{Version: 1, Snapshot: true})
	refused := func(t *testing.T, s *Session, ch *lockproto.Channel) {
		t.Helper()
		for _, r := range []struct {
			typ  lockproto.ChannelMsg
			body []byte
		}{{lockproto.ChanLogRequest, lockproto.EncodeLogRequest(1)}, {lockproto.ChanBundle, bundle}} {
			rt, rb := sealed(t, s, ch, r.typ, r.body)
			ce, err := lockproto.DecodeChannelError(rb)
			if rt != lockproto.ChanError || err != nil || ce.Code != "not_authenticated" {
				t.Fatalf("request %d without a proof answered %d %+v", r.typ, rt, ce)
			}
		}
		if e.lock.Status().Version != 0 {
			t.Fatal("bundle applied without a proof")
		}
	}
	prove := func(t *testing.T, s *Session, ch *lockproto.Channel, typ lockproto.ChannelMsg, cred []byte) *lockproto.UnlockResult {
		t.Helper()
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		rb, _ := req.Encode()
		rt, body := sealed(t, s, ch, typ, rb)
		if rt != lockproto.ChanResult {
			t.Fatalf("proof answered %d", rt)
		}
		res, err := lockproto.DecodeUnlockResult(body)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Run("NoProof", func(t *testing.T) {
		s, ch := e.connect()
		refused(t, s, ch)
	})
	t.Run("ExpiredCredential", func(t *testing.T) {
		s, ch := e.connect()
		res := prove(t, s, ch, lockproto.ChanAuthenticate, e.cred(func(c *lockproto.Credential) { c.NotAfter = t0.Add(-time.Second) }))
		if res.Authenticated || res.Granted || res.Reason != ReasonExpired {
			t.Fatalf("result %+v", res)
		}
		refused(t, s, ch)
	})
	t.Run("SyncWithoutOpening", func(t *testing.T) {
		next := e.lock.Status().LogNext
		s, ch := e.connect()
		res := prove(t, s, ch, lockproto.ChanAuthenticate, e.cred(nil))
		if !res.Authenticated || res.Granted || res.LogNext != next {
			t.Fatalf("result %+v", res)
		}
		if e.lock.Status().LogNext != next {
			t.Fatal("a sync-only proof was logged as an unlock")
		}
		if rt, _ := sealed(t, s, ch, lockproto.ChanBundle, bundle); rt != lockproto.ChanAck {
			t.Fatalf("bundle answered %d", rt)
		}
		if rt, _ := sealed(t, s, ch, lockproto.ChanLogRequest, lockproto.EncodeLogRequest(1)); rt != lockproto.ChanEvents {
			t.Fatalf("log request answered %d", rt)
		}
	})
	t.Run("UnlockAuthenticates", func(t *testing.T) {
		s, ch := e.connect()
		res := prove(t, s, ch, lockproto.ChanUnlock, e.cred(nil))
		if !res.Authenticated || !res.Granted || res.Version != 1 || res.Seq == 0 {
			t.Fatalf("result %+v", res)
		}
		if rt, _ := sealed(t, s, ch, lockproto.ChanLogRequest, lockproto.EncodeLogRequest(1)); rt != lockproto.ChanEvents {
			t.Fatalf("log request answered %d", rt)
		}
	})
}

func TestUnlockRevoked(t *testing.T) {
	e := newEnv(t, "lock-a")
	before := e.cred(nil) // issued an hour before t0
	wantDecision(t, e.unlock(before), true, ReasonOK)

	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Revocations: []lockproto.Revocation{{PersonID: "p-alice", EffectiveAt: t0}}})
	wantDecision(t, e.unlock(before), false, ReasonRevoked)

	// Access granted again after the revocation: a credential issued later works.
	after := e.cred(func(c *lockproto.Credential) { c.IssuedAt = t0.Add(time.Minute) })
	wantDecision(t, e.unlock(after), true, ReasonOK)

	t.Run("BySerial", func(t *testing.T) {
		c := e.cred(func(c *lockproto.Credential) { c.PersonID = "p-bob"; c.IssuedAt = t0 })
		e.apply(lockproto.Bundle{Base: 1, Version: 2, Revocations: []lockproto.Revocation{{Serial: e.serial, EffectiveAt: t0.Add(time.Second)}}})
		wantDecision(t, e.unlock(c), false, ReasonRevoked)
	})
	t.Run("ByDevice", func(t *testing.T) {
		c := e.cred(func(c *lockproto.Credential) { c.PersonID = "p-carol"; c.IssuedAt = t0 })
		e.apply(lockproto.Bundle{Base: 2, Version: 3, Revocations: []lockproto.Revocation{{DeviceKey: e.devPub, EffectiveAt: t0.Add(time.Second)}}})
		wantDecision(t, e.unlock(c), false, ReasonRevoked)
	})
	t.Run("SurvivesReboot", func(t *testing.T) {
		e.reboot()
		wantDecision(t, e.unlock(before), false, ReasonRevoked)
	})
}

// A revoked phone that never meets a synced lock still loses access when its
// credential runs out (§4.2).
func TestRevokedPhoneExpiresWithoutSync(t *testing.T) {
	e := newEnv(t, "lock-a")
	nb, na := lockproto.CredentialWindow(t0, lockproto.DefaultCredentialLifetime, t0.Add(-24*time.Hour), time.Time{})
	cred := e.cred(func(c *lockproto.Credential) { c.NotBefore, c.NotAfter, c.IssuedAt = nb, na, t0 })
	wantDecision(t, e.unlock(cred), true, ReasonOK)
	e.clock.Advance(lockproto.DefaultCredentialLifetime)
	wantDecision(t, e.unlock(cred), false, ReasonExpired)
}

// A credential the lock verified before may be named by reference; a lock
// that no longer holds it (rebooted) asks for it whole without deciding,
// logging or consuming the channel's challenge.
func TestUnlockByReference(t *testing.T) {
	e := newEnv(t, "lock-a")
	cred := e.cred(nil)
	byRef := func(ch *lockproto.Channel) []byte {
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		b, _ := req.ByRef().Encode()
		return b
	}
	wantDecision(t, e.unlock(cred), true, ReasonOK)
	s, ch := e.connect()
	d, _ := s.decide(byRef(ch))
	wantDecision(t, d, true, ReasonOK)

	t.Run("UnknownReference", func(t *testing.T) {
		e.reboot()
		next := e.lock.Status().LogNext
		s, ch := e.connect()
		d, _ := s.decide(byRef(ch))
		wantDecision(t, d, false, ReasonNeedCredential)
		if e.lock.Status().LogNext != next {
			t.Fatal("a reference the lock does not hold was logged")
		}
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		full, _ := req.Encode()
		d, _ = s.decide(full)
		wantDecision(t, d, true, ReasonOK)
	})
	t.Run("ReferenceOfAnotherDevicesCredential", func(t *testing.T) {
		// Knowing a cached credential's reference is worth nothing without
		// its device key.
		_, thief, _ := ed25519.GenerateKey(rand.Reader)
		s, ch := e.connect()
		req, _ := lockproto.NewUnlockRequest(ch, cred, thief, nil)
		b, _ := req.ByRef().Encode()
		d, _ := s.decide(b)
		wantDecision(t, d, false, ReasonBadDeviceSig)
	})
	t.Run("BothOrNeither", func(t *testing.T) {
		_, ch := e.connect()
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		both := *req
		both.CredentialRef = lockproto.CredentialRef(cred)
		short := *req.ByRef()
		short.CredentialRef = short.CredentialRef[:8]
		for _, r := range []*lockproto.UnlockRequest{&both, &short} {
			b, _ := r.Encode()
			if _, err := lockproto.DecodeUnlockRequest(b); !errors.Is(err, lockproto.ErrMalformed) {
				t.Fatalf("request %+v: %v", r, err)
			}
		}
	})
}
