package lock

import (
	"crypto/ed25519"
	"crypto/rand"
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
	req := e.request(e.cred(nil), e.devPriv)
	d, err := e.lock.UnlockDecision(req)
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, d, true, ReasonOK)
	d, err = e.lock.UnlockDecision(req)
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, d, false, ReasonUnknownChallenge)
}

func TestUnlockStaleChallenge(t *testing.T) {
	e := newEnv(t, "lock-a")
	req := e.request(e.cred(nil), e.devPriv)
	e.clock.Advance(DefaultChallengeTTL + time.Second)
	d, _ := e.lock.UnlockDecision(req)
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
		// A response to lock B's challenge, carried to lock A.
		d, _ := a.lock.UnlockDecision(b.request(cred, b.devPriv))
		wantDecision(t, d, false, ReasonUnknownChallenge)
	})
	t.Run("NonceSignedForOtherLock", func(t *testing.T) {
		// Lock A's nonce, but the device signed it for lock B.
		chb, _ := a.lock.Challenge()
		ch, _ := lockproto.DecodeChallenge(chb)
		ch.LockID = "lock-b"
		req, _ := lockproto.NewUnlockRequest(ch, cred, a.devPriv)
		rb, _ := req.Encode()
		d, _ := a.lock.UnlockDecision(rb)
		wantDecision(t, d, false, ReasonBadDeviceSig)
	})
}

func TestUnlockMalformed(t *testing.T) {
	e := newEnv(t, "lock-a")
	req := e.request(e.cred(nil), e.devPriv)
	for _, bad := range [][]byte{nil, {0xa0}, req[:len(req)-1], append(append([]byte(nil), req...), 0)} {
		d, err := e.lock.UnlockDecision(bad)
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
		PhoneTime int64 `cbor:"4,keyasint"`
	}
	chb, _ := e.lock.Challenge()
	ch, _ := lockproto.DecodeChallenge(chb)
	req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv)
	b, err := stEnc.Marshal(&withClock{UnlockRequest: *req, PhoneTime: t0.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.lock.UnlockDecision(b)
	wantDecision(t, d, false, ReasonMalformed)
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
