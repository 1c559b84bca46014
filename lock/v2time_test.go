package lock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// TestRevocationOutlivesLifetimeChange: a 168 h credential, the person
// revoked, the property's lifetime lowered to 24 h, 25 h later any bundle:
// the revocation is kept (retention = the longest lifetime ever issued) and
// the old credential is refused on both counts.
func TestRevocationOutlivesLifetimeChange(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{MaxCredentialLifetime: 168 * time.Hour, RevocationRetention: 168 * time.Hour})
	old := d.cred("p-mallory", d.real, 168*time.Hour)
	want(t, "before revocation", d.unlock(old), true, lock.ReasonOK)

	d.wait(time.Minute)
	d.mustBundle(lockproto.Bundle{Revocations: []lockproto.Revocation{{PersonID: "p-mallory", EffectiveAt: d.real}}})
	want(t, "after revocation", d.unlock(old), false, lock.ReasonRevoked)

	d.wait(time.Minute)
	d.mustBundle(lockproto.Bundle{MaxCredentialLifetime: 24 * time.Hour, RevocationRetention: 168 * time.Hour})
	d.wait(25 * time.Hour)
	d.mustBundle(lockproto.Bundle{})
	if n := d.l.Status().Revoked; n != 1 {
		t.Fatalf("revocations kept after 25 h = %d, want 1", n)
	}
	// Over the 24 h ceiling now: refused before revocations are even asked.
	want(t, "old credential after 25 h", d.unlock(old), false, lock.ReasonOverCeiling)

	// Even if the cloud forgot to send the retention, the lock keeps the
	// longest lifetime it was ever told.
	d.wait(100 * time.Hour)
	d.mustBundle(lockproto.Bundle{MaxCredentialLifetime: 24 * time.Hour})
	if n := d.l.Status().Revoked; n != 1 {
		t.Fatalf("revocations kept after 126 h = %d, want 1", n)
	}
	d.wait(43 * time.Hour)
	d.mustBundle(lockproto.Bundle{})
	if n := d.l.Status().Revoked; n != 0 {
		t.Fatalf("revocations kept after every credential expired = %d, want 0", n)
	}
}

// TestCredentialOverCeiling: a credential signed for ten years is refused.
func TestCredentialOverCeiling(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{MaxCredentialLifetime: 24 * time.Hour})
	want(t, "10-year credential", d.unlock(d.cred("p-1", d.real, 10*365*24*time.Hour)), false, lock.ReasonOverCeiling)
	want(t, "25 h credential", d.unlock(d.cred("p-1", d.real, 25*time.Hour)), false, lock.ReasonOverCeiling)
	want(t, "24 h credential", d.unlock(d.cred("p-1", d.real, 24*time.Hour)), true, lock.ReasonOK)
}

// TestPullBackBounded: eight late bundles, each within the drift tolerance
// of the lock's clock, cannot add up: the total pull-back stays within the
// tolerance (plus the RTC's possible drift), and a credential expired three
// minutes ago stays expired.
func TestPullBackBounded(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	cred := d.cred("p-1", d.real.Add(-24*time.Hour+time.Hour), 24*time.Hour) // expires in 1 h
	for range 8 {
		d.wait(time.Minute)
		lockNow := d.l.Status().Now
		if err := d.bundle(lockproto.Bundle{TrustedTime: lockNow.Add(-lock.DefaultDriftTolerance + time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	d.wait(63 * time.Minute)
	lag := d.real.Sub(d.l.Status().Now)
	if lag > lock.DefaultDriftTolerance+time.Second {
		t.Fatalf("clock lags %v after eight late bundles; bound is %v", lag, lock.DefaultDriftTolerance)
	}
	t.Logf("lag after eight late bundles: %v (old rule: about 16 min)", lag)
	want(t, "credential expired 3 minutes ago", d.unlock(cred), false, lock.ReasonExpired)

	// The same with late time tokens: a token never pulls a trusted clock
	// back at all.
	before := d.l.Status().Now
	for range 8 {
		d.wait(time.Minute)
		if err := d.l.OfferTime(d.token(d.l.Status().Now.Add(-lock.DefaultDriftTolerance+time.Second), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := d.l.Status().Now.Sub(before), 8*time.Minute; got < want {
		t.Fatalf("clock moved %v in 8 minutes of late tokens, want at least %v", got, want)
	}
}

// TestReplayedTokensDoNotFillTheLog: anyone may open a channel and send a
// time token before proving anything. Old, older-epoch and alternating
// tokens, a thousand times, add nothing to the log.
func TestReplayedTokensDoNotFillTheLog(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	d.wait(time.Hour)
	d.mustBundle(lockproto.Bundle{TrustedTime: d.real, Epoch: 1})
	old := d.token(d.real.Add(-time.Hour), 1)
	older := d.token(d.real.Add(-time.Minute), 1)
	oldEpoch := d.token(d.real, 0)
	before := len(d.events())
	for i := range 1000 {
		tok := []byte(nil)
		switch i % 3 {
		case 0:
			tok = old
		case 1:
			tok = older
		case 2:
			tok = oldEpoch
		}
		if i%100 == 0 {
			d.wait(30 * time.Second)
		}
		if err := d.l.OfferTime(tok); err != nil {
			t.Fatal(err)
		}
	}
	// Fresh tokens a few seconds ahead of the lock: drift, corrected
	// silently.
	for range 50 {
		d.wait(10 * time.Second)
		if err := d.l.OfferTime(d.token(d.l.Status().Now.Add(5*time.Second), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(d.events()) - before; got != 0 {
		t.Fatalf("%d log entries from replayed tokens, want 0", got)
	}
	// A real jump past the tolerance is still logged.
	if err := d.l.OfferTime(d.token(d.l.Status().Now.Add(10*time.Minute), 1)); err != nil {
		t.Fatal(err)
	}
	if got := len(d.events()) - before; got != 1 {
		t.Fatalf("a 10-minute jump logged %d entries, want 1", got)
	}
}

// TestRTCResetRefusesWhatExpires: the RTC is reset (battery pulled) and the
// lock stays offline 30 days. Before: the clock stood at the last trusted
// time and a 15-minute code, a 1-hour credential and an expiring doorcode
// opened, and a keypad lockout never ended. Now: with no trusted time,
// everything that expires is refused; permanent resident codes and cards
// open; a lockout ends; the first time token restores trusted time.
func TestRTCResetRefusesWhatExpires(t *testing.T) {
	d := newDoor(t)
	key := lockproto.DayKey{KeyID: "key-lobby", Secret: []byte("0123456789abcdef0123456789abcdef"), Digits: 7, Slots: 20, ActiveSlots: []uint16{0, 1}}
	d.mustBundle(lockproto.Bundle{
		Doorcodes: []lockproto.DoorcodeEntry{
			{Code: "1111111", PersonID: "p-resident"},
			{Code: "2222222", PersonID: "p-tenant", NotAfter: start.Add(60 * 24 * time.Hour)},
			{Code: "3333333", PersonID: "p-cleaner", Schedule: lockproto.Schedule{{Day: time.Monday, Start: 0, End: 1440}}},
		},
		Keycards: []lockproto.KeycardEntry{
			{Serial: "C-PERM", PersonID: "p-resident"},
			{Serial: "C-TEMP", PersonID: "p-tenant", NotAfter: start.Add(60 * 24 * time.Hour)},
		},
		DayKeys: []lockproto.DayKey{key},
	})
	cred := d.cred("p-1", d.real, time.Hour)
	today := lockproto.DayNumber(d.real, zone)
	quarter := lockproto.GuestCode(key.Secret, lockproto.QuarterHourCode, today, 0, 7)
	dayCode := lockproto.GuestCode(key.Secret, lockproto.DayCode, today, 1, 7)

	// Battery pulled: the RTC restarts at 2000-01-01. 30 days pass.
	d.rtc.Set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	d.boot()
	d.wait(30 * 24 * time.Hour)
	if !d.l.Status().NoTrustedTime {
		t.Fatal("RTC reset not detected")
	}
	want(t, "1-hour credential", d.unlock(cred), false, lock.ReasonNoTrustedTime)
	want(t, "15-minute code", d.code(quarter), false, lock.ReasonNoTrustedTime)
	want(t, "day code", d.code(dayCode), false, lock.ReasonNoTrustedTime)
	want(t, "expiring doorcode", d.code("2222222"), false, lock.ReasonNoTrustedTime)
	want(t, "scheduled doorcode", d.code("3333333"), false, lock.ReasonNoTrustedTime)
	want(t, "expiring card", d.card("C-TEMP"), false, lock.ReasonNoTrustedTime)
	want(t, "permanent doorcode", d.code("1111111"), true, lock.ReasonOK)
	want(t, "permanent card", d.card("C-PERM"), true, lock.ReasonOK)

	// A keypad lockout still ends: its time runs on the RTC's seconds.
	for range 5 {
		d.code("9999999")
	}
	want(t, "locked", d.code("1111111"), false, lock.ReasonKeypadLocked)
	d.wait(2 * time.Minute)
	want(t, "after the lockout", d.code("1111111"), true, lock.ReasonOK)

	// The first unlock carrying a fresh token restores trusted time, and is
	// judged by it.
	want(t, "fresh credential carrying a time token", d.unlockWith(d.cred("p-1", d.real, time.Hour), d.token(d.real, 0)), true, lock.ReasonOK)
	if d.l.Status().NoTrustedTime {
		t.Fatal("still untrusted after a valid token")
	}
	if got := d.l.Status().Now; got.Sub(d.real).Abs() > time.Second {
		t.Fatalf("clock after token = %v, want %v", got, d.real)
	}
	want(t, "1-hour credential 30 days on", d.unlock(cred), false, lock.ReasonExpired)
	want(t, "expiring doorcode, trusted again", d.code("2222222"), true, lock.ReasonOK)
	want(t, "fresh credential", d.unlock(d.cred("p-1", d.real, time.Hour)), true, lock.ReasonOK)
}

// TestRTCResetWhileRunning: the RTC jumps back without a reboot (brown-out);
// the lock notices on its next reading, and a reboot keeps the verdict.
func TestRTCResetWhileRunning(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	cred := d.cred("p-1", d.real, time.Hour)
	d.rtc.Set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	want(t, "after the RTC jumped back", d.unlock(cred), false, lock.ReasonNoTrustedTime)
	d.boot()
	want(t, "after a reboot", d.unlock(cred), false, lock.ReasonNoTrustedTime)
	// An authentic but old token (before the last known time) does not
	// restore trust: it would revive what expired meanwhile.
	if err := d.l.OfferTime(d.token(start.Add(-time.Hour), 0)); err != nil {
		t.Fatal(err)
	}
	if !d.l.Status().NoTrustedTime {
		t.Fatal("an old token restored trusted time")
	}
	if err := d.l.OfferTime(d.token(d.real, 0)); err != nil {
		t.Fatal(err)
	}
	want(t, "with trusted time", d.unlock(cred), true, lock.ReasonOK)
}

// TestEpochUndoesBadForwardTime: the cloud once signed a time ten years
// ahead; every credential expired for good. A correction with a higher
// epoch brings the clock back; a correction of the same epoch cannot, and
// old-epoch times are ignored afterwards.
func TestEpochUndoesBadForwardTime(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{TrustedTime: d.real.Add(10 * 365 * 24 * time.Hour)})
	cred := d.cred("p-1", d.real, 24*time.Hour)
	want(t, "after the bad time", d.unlock(cred), false, lock.ReasonExpired)

	if err := d.l.OfferTime(d.token(d.real, 0)); err != nil {
		t.Fatal(err)
	}
	want(t, "same-epoch correction", d.unlock(cred), false, lock.ReasonExpired)

	if err := d.l.OfferTime(d.token(d.real, 1)); err != nil {
		t.Fatal(err)
	}
	want(t, "epoch 1 correction", d.unlock(cred), true, lock.ReasonOK)
	// The bad time (epoch 0) relayed again by a phone: ignored.
	if err := d.l.OfferTime(d.token(d.real.Add(10*365*24*time.Hour), 0)); err != nil {
		t.Fatal(err)
	}
	if err := d.bundle(lockproto.Bundle{TrustedTime: d.real.Add(10 * 365 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want(t, "old epoch replayed", d.unlock(cred), true, lock.ReasonOK)
	// The epoch survives a reboot.
	d.boot()
	if err := d.l.OfferTime(d.token(d.real.Add(10*365*24*time.Hour), 0)); err != nil {
		t.Fatal(err)
	}
	want(t, "old epoch after reboot", d.unlock(cred), true, lock.ReasonOK)
	// Bundles carry the epoch too.
	d.wait(time.Hour)
	if err := d.bundle(lockproto.Bundle{TrustedTime: d.real.Add(-48 * time.Hour), Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	if got := d.l.Status().Now; got.Sub(d.real.Add(-48*time.Hour)).Abs() > time.Second {
		t.Fatalf("epoch-2 bundle: clock %v", got)
	}
	var set int
	for _, e := range d.events() {
		if e.Kind == lockproto.EventTimeSet {
			set++
		}
	}
	if set < 3 {
		t.Fatalf("time.set events = %d, want the forward jump and both corrections", set)
	}
}

// TestOfferTimeRefusesForgeries: a token another property signed, a
// credential passed as a token, garbage: an error, and nothing changes.
func TestOfferTimeRefusesForgeries(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	before := d.l.Status()
	other := newDoor(t)
	for name, tok := range map[string][]byte{
		"other property": other.token(d.real.Add(time.Hour), 5),
		"credential":     d.cred("p-1", d.real, time.Hour),
		"garbage":        []byte("not a token"),
	} {
		if err := d.l.OfferTime(tok); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	if err := d.l.OfferTime(other.token(d.real, 0)); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("other property's token: %v", err)
	}
	if err := d.l.OfferTime(nil); err != nil {
		t.Fatalf("no token: %v", err)
	}
	after := d.l.Status()
	if !after.Now.Equal(before.Now) || after.LogNext != before.LogNext {
		t.Fatalf("a refused token changed the lock: %+v → %+v", before, after)
	}
}

// FuzzOfferTime: whatever bytes a phone sends as a time token, the lock's
// clock moves only for a token the property signed.
func FuzzOfferTime(f *testing.F) {
	d := newDoor(f)
	d.mustBundle(lockproto.Bundle{})
	f.Add(d.token(d.real.Add(time.Hour), 0))
	f.Add(d.token(d.real.Add(-time.Hour), 3))
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, tok []byte) {
		before := d.l.Status().Now
		if err := d.l.OfferTime(tok); err != nil && !d.l.Status().Now.Equal(before) {
			t.Fatalf("a refused token moved the clock from %v to %v", before, d.l.Status().Now)
		}
	})
}
