package lock

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

func residents(n int) []lockproto.DoorcodeEntry {
	out := make([]lockproto.DoorcodeEntry, n)
	for i := range out {
		out[i] = lockproto.DoorcodeEntry{Code: codeFor(i), PersonID: personFor(i)}
	}
	return out
}

func codeFor(i int) string   { return string(rune('1'+i%9)) + padDigits(i, 6) }
func personFor(i int) string { return "person-" + padDigits(i, 6) }
func padDigits(i, n int) string {
	b := make([]byte, n)
	for j := n - 1; j >= 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

func TestApplyBundle(t *testing.T) {
	e := newEnv(t, "lock-a")
	snap := e.seal(lockproto.Bundle{Version: 5, Snapshot: true, Doorcodes: residents(3)})
	ackb, err := e.lock.ApplyBundle(snap)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := lockproto.VerifyAck(e.lock.PublicKey(), "lock-a", ackb)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Status != lockproto.AckApplied || ack.Version != 5 || !bytes.Equal(ack.Bundle, lockproto.BundleDigest(snap)) {
		t.Fatalf("ack = %+v", ack)
	}
	wantDecision(t, e.code(codeFor(1)), true, ReasonOK)

	e.apply(lockproto.Bundle{Base: 5, Version: 6, RemoveDoorcodes: []string{codeFor(1)}, Doorcodes: []lockproto.DoorcodeEntry{{Code: "5555555", PersonID: "p-new"}}})
	wantDecision(t, e.code(codeFor(1)), false, ReasonUnknownCode)
	wantDecision(t, e.code("5555555"), true, ReasonOK)
	wantDecision(t, e.code(codeFor(2)), true, ReasonOK)

	// A snapshot replaces everything, whatever the lock had.
	e.apply(lockproto.Bundle{Version: 9, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{{Code: "7777777", PersonID: "p-x"}}})
	wantDecision(t, e.code("5555555"), false, ReasonUnknownCode)
	if s := e.lock.Status(); s.Version != 9 || s.Doorcodes != 1 {
		t.Fatalf("status = %+v", s)
	}
}

func TestApplyBundleAttacks(t *testing.T) {
	e := newEnv(t, "lock-a")
	v1 := e.seal(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: residents(2)})
	v2 := e.seal(lockproto.Bundle{Base: 1, Version: 2, Doorcodes: []lockproto.DoorcodeEntry{{Code: "4444444", PersonID: "p"}}})
	if _, err := e.lock.ApplyBundle(v1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lock.ApplyBundle(v2); err != nil {
		t.Fatal(err)
	}
	other := newEnv(t, "lock-b")
	_, attacker, _ := lockproto.NewPropertyKey()
	resigned, err := lockproto.SealBundle(attacker, e.keys.Symmetric, lockproto.Bundle{LockID: "lock-a", Version: 50, Snapshot: true, TrustedTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	otherLockSameProperty, err := lockproto.SealBundle(e.propPriv, other.keys.Symmetric, lockproto.Bundle{LockID: "lock-b", Version: 50, Snapshot: true, TrustedTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	// An insider with lock A's symmetric key re-addresses B's signed bundle.
	readdressed, err := lockproto.SealBundle(e.propPriv, e.keys.Symmetric, lockproto.Bundle{LockID: "lock-b", Version: 50, Snapshot: true, TrustedTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	wrongBase := e.seal(lockproto.Bundle{Base: 1, Version: 3})
	tests := []struct {
		name   string
		sealed []byte
		err    error
		ack    lockproto.AckStatus // 0: no ack expected
	}{
		{"ReSignedByOtherKey", resigned, lockproto.ErrSignature, 0},
		{"ForAnotherLock", otherLockSameProperty, lockproto.ErrWrongLock, 0},
		{"ReaddressedToThisLock", readdressed, lockproto.ErrWrongLock, 0},
		{"Replayed", v2, lockproto.ErrStale, lockproto.AckStale},
		{"Rollback", v1, lockproto.ErrStale, lockproto.AckStale},
		{"DeltaOnWrongBase", wrongBase, lockproto.ErrWrongBase, lockproto.AckNeedSnapshot},
		{"Truncated", v2[:len(v2)-10], lockproto.ErrMalformed, 0},
		{"Oversized", make([]byte, lockproto.MaxBundleSize+1), lockproto.ErrTooLarge, 0},
		{"Empty", nil, lockproto.ErrMalformed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, err := e.lock.ApplyBundle(tt.sealed)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.ack == 0 {
				if ack != nil {
					t.Fatal("acknowledged an unauthentic bundle")
				}
			} else {
				a, err := lockproto.VerifyAck(e.lock.PublicKey(), "lock-a", ack)
				if err != nil {
					t.Fatal(err)
				}
				if a.Status != tt.ack || a.Version != 2 {
					t.Fatalf("ack = %v at %d, want %v at 2", a.Status, a.Version, tt.ack)
				}
			}
			if v := e.lock.Status().Version; v != 2 {
				t.Fatalf("version = %d after refused bundle", v)
			}
		})
	}
	t.Run("EveryBitFlipRefused", func(t *testing.T) {
		v3 := e.seal(lockproto.Bundle{Base: 2, Version: 3, Doorcodes: []lockproto.DoorcodeEntry{{Code: "9999999", PersonID: "p"}}})
		for i := range v3 {
			for _, bit := range []byte{0x01, 0x80} {
				f := append([]byte(nil), v3...)
				f[i] ^= bit
				if _, err := e.lock.ApplyBundle(f); err == nil {
					t.Fatalf("bundle with byte %d flipped (%#x) was applied", i, bit)
				}
			}
		}
		if v := e.lock.Status().Version; v != 2 {
			t.Fatalf("version = %d", v)
		}
	})
}

func TestRevocationsBounded(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, MaxCredentialLifetime: 24 * time.Hour, Revocations: []lockproto.Revocation{
		{PersonID: "old", EffectiveAt: t0.Add(-25 * time.Hour)},
		{PersonID: "recent", EffectiveAt: t0.Add(-23 * time.Hour)},
	}})
	if n := e.lock.Status().Revoked; n != 1 {
		t.Fatalf("revocations kept = %d, want 1 (the expired one dropped)", n)
	}
	e.clock.Advance(2 * time.Hour)
	e.apply(lockproto.Bundle{Base: 1, Version: 2})
	if n := e.lock.Status().Revoked; n != 0 {
		t.Fatalf("revocations kept = %d, want 0", n)
	}
}

func TestTrustedTime(t *testing.T) {
	e := newEnv(t, "lock-a")
	cred := e.cred(func(c *lockproto.Credential) { c.NotAfter = t0.Add(time.Hour) })

	// The RTC lags; a signed time moves the lock forward past the credential.
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, TrustedTime: t0.Add(2 * time.Hour)})
	if got := e.lock.Status().Now; got.Before(t0.Add(2 * time.Hour)) {
		t.Fatalf("now = %v, want moved forward", got)
	}
	wantDecision(t, e.unlock(cred), false, ReasonExpired)

	// An authentic but old time (a bundle a phone held back) cannot move it back.
	e.apply(lockproto.Bundle{Base: 1, Version: 2, TrustedTime: t0})
	if got := e.lock.Status().Now; got.Before(t0.Add(2*time.Hour - DefaultDriftTolerance)) {
		t.Fatalf("clock moved back to %v", got)
	}
	wantDecision(t, e.unlock(cred), false, ReasonExpired)

	// Within the drift tolerance it may correct slightly backwards.
	e.apply(lockproto.Bundle{Base: 2, Version: 3, TrustedTime: t0.Add(2*time.Hour - time.Minute)})
	if got := e.lock.Status().Now; !got.Equal(t0.Add(2 * time.Hour)) {
		// The trusted-time floor (the newest signed time) still holds.
		t.Fatalf("now = %v", got)
	}

	// The RTC resets (battery pulled): the persisted trusted time holds as
	// a lower bound, and with no trusted time the credential is refused.
	e.clock.Set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	e.reboot()
	if got := e.lock.Status().Now; got.Before(t0.Add(2 * time.Hour)) {
		t.Fatalf("after RTC reset now = %v", got)
	}
	wantDecision(t, e.unlock(cred), false, ReasonNoTrustedTime)
}

func TestKeycards(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Keycards: []lockproto.KeycardEntry{
		{Serial: "04A1B2", PersonID: "p1"},
		{Serial: "04FFFF", PersonID: "p2", NotAfter: t0.Add(-time.Minute)},
		{Serial: "04EEEE", PersonID: "p3", NotBefore: t0.Add(time.Hour)},
		{Serial: "04DDDD", PersonID: "p4", Schedule: lockproto.Schedule{{Day: time.Sunday, Start: 0, End: 60}}},
	}})
	for serial, want := range map[string]string{"04A1B2": ReasonOK, "04FFFF": ReasonExpired, "04EEEE": ReasonNotYetValid, "04DDDD": ReasonOutsideSchedule, "0000": ReasonUnknownCard} {
		d, err := e.lock.TapCard(serial)
		if err != nil {
			t.Fatal(err)
		}
		wantDecision(t, d, want == ReasonOK, want)
	}
	e.apply(lockproto.Bundle{Base: 1, Version: 2, RemoveKeycards: []string{"04A1B2"}})
	d, _ := e.lock.TapCard("04A1B2")
	wantDecision(t, d, false, ReasonUnknownCard)
}
