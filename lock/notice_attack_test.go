package lock_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// Revocation notice (issue 14), threat-model rows "revocation notice"
// (docs/lock-protocol.md): the lock driven as the cloud, a relay or an
// attacker would, through the exported API only.

// noticeDoor is a door at version 1 holding two residents, p-ana and
// p-bob, each with a doorcode and a keycard.
func noticeDoor(t *testing.T) *door {
	t.Helper()
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{
		Doorcodes: []lockproto.DoorcodeEntry{{Code: "1111111", PersonID: "p-ana"}, {Code: "2222222", PersonID: "p-bob"}},
		Keycards:  []lockproto.KeycardEntry{{Serial: "C-ANA", PersonID: "p-ana"}, {Serial: "C-BOB", PersonID: "p-bob"}},
	})
	return d
}

// notice signs a revocation notice for persons issued at issued and seals
// it to this door, holding until door version until.
func (d *door) notice(until uint64, issued time.Time, persons ...string) []byte {
	d.t.Helper()
	return d.noticeOf(until, lockproto.RevocationNotice{Persons: persons, IssuedAt: issued})
}

func (d *door) mustNotice(sealed []byte) {
	d.t.Helper()
	if err := d.l.ApplyNotice(sealed); err != nil {
		d.t.Fatal(err)
	}
}

// remote signs and sends a remote unlock for person at this door.
func (d *door) remote(person string) lock.Decision {
	d.t.Helper()
	d.serial++
	cmd, err := lockproto.IssueRemoteUnlock(d.propPriv, lockproto.RemoteUnlock{LockID: d.keys.LockID, PersonID: person, Counter: d.serial,
		IssuedAt: d.real, NotAfter: d.real.Add(lockproto.DefaultRemoteUnlockLife)})
	if err != nil {
		d.t.Fatal(err)
	}
	_, dec, err := d.l.RemoteUnlock(cmd)
	if err != nil {
		d.t.Fatal(err)
	}
	return dec
}

// access is what each of a person's four ways in says right now.
type access struct{ code, card, app, remote lock.Decision }

func (d *door) access(person, code, card string) access {
	d.t.Helper()
	return access{code: d.code(code), card: d.card(card), app: d.unlock(d.cred(person, d.real, 24*time.Hour)), remote: d.remote(person)}
}

func wantAccess(t *testing.T, who string, a access, granted bool, reason string) {
	t.Helper()
	for name, dec := range map[string]lock.Decision{"doorcode": a.code, "keycard": a.card, "app": a.app, "remote": a.remote} {
		if dec.Granted != granted || dec.Reason != reason {
			t.Fatalf("%s %s: granted=%v reason=%q, want granted=%v reason=%q", who, name, dec.Granted, dec.Reason, granted, reason)
		}
	}
}

func (d *door) ana() access { return d.access("p-ana", "1111111", "C-ANA") }
func (d *door) bob() access { return d.access("p-bob", "2222222", "C-BOB") }

func wantSuspended(t *testing.T, d *door, people, codes int) {
	t.Helper()
	if s := d.l.Status(); s.Suspended != people || s.SuspendedDoorcodes != codes {
		t.Fatalf("status: suspended %d, suspended doorcodes %d; want %d, %d", s.Suspended, s.SuspendedDoorcodes, people, codes)
	}
}

// TestNotice_SuspendsEveryWayIn: a notice naming Ana refuses her
// doorcode, keycard, app credential and remote unlock with reason
// revoked, ahead of the bundle; Bob is unaffected; the lock logs it.
func TestNotice_SuspendsEveryWayIn(t *testing.T) {
	d := noticeDoor(t)
	wantAccess(t, "ana before", d.ana(), true, lock.ReasonOK)
	d.mustNotice(d.notice(2, d.real, "p-ana"))
	wantAccess(t, "ana", d.ana(), false, lock.ReasonRevoked)
	wantAccess(t, "bob", d.bob(), true, lock.ReasonOK)
	wantSuspended(t, d, 1, 1)
	var applied []lockproto.Event
	for _, e := range d.events() {
		if e.Kind == lockproto.EventNoticeApplied {
			applied = append(applied, e)
		}
	}
	if len(applied) != 1 || applied[0].PersonID != "p-ana" || applied[0].Version != 2 || applied[0].Ref != "1" {
		t.Fatalf("notice.applied events: %+v", applied)
	}
	// A notice naming several people names no one in its event.
	d.mustNotice(d.notice(2, d.real, "p-bob", "p-carl"))
	wantAccess(t, "bob", d.bob(), false, lock.ReasonRevoked)
	wantSuspended(t, d, 3, 2)
}

// TestNotice_SuspendedCodeIsNotAWrongCode: a suspended resident typing
// their code again and again is refused each time, and the keypad does
// not lock: the code is known, not a guess.
func TestNotice_SuspendedCodeIsNotAWrongCode(t *testing.T) {
	d := noticeDoor(t)
	d.mustNotice(d.notice(2, d.real, "p-ana"))
	for i := range 8 {
		if dec := d.code("1111111"); dec.Granted || dec.Reason != lock.ReasonRevoked {
			t.Fatalf("try %d: %+v, want revoked (a keypad lockout means the suspended code was counted as a guess)", i+1, dec)
		}
	}
	if dec := d.code("2222222"); !dec.Granted {
		t.Fatalf("bob after ana's 8 tries: %+v", dec)
	}
	if n := count(d.events(), lockproto.EventKeypadLocked); n != 0 {
		t.Fatalf("%d keypad.locked events", n)
	}
}

// TestNotice_SurvivesRebootUntilItsBundle: the suspension is on flash; a
// bundle below Until leaves it, the bundle of version Until lifts it (a
// doorcode it re-grants works), and a replay of the notice after that is
// stale and changes nothing, logs nothing.
func TestNotice_SurvivesRebootUntilItsBundle(t *testing.T) {
	d := noticeDoor(t)
	sealed := d.notice(3, d.real, "p-ana")
	d.mustNotice(sealed)
	d.boot() // Open on the same flash
	wantAccess(t, "ana after reboot", d.ana(), false, lock.ReasonRevoked)
	wantSuspended(t, d, 1, 1)

	// Version 2: an older change the cloud made before the revocation.
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "3333333", PersonID: "p-carl"}}})
	wantAccess(t, "ana at version 2", d.ana(), false, lock.ReasonRevoked)

	// Version 3: the revocation's bundle; here the manager re-granted Ana
	// a new code in the meantime.
	d.mustBundle(lockproto.Bundle{RemoveDoorcodes: []string{"1111111"}, Doorcodes: []lockproto.DoorcodeEntry{{Code: "4444444", PersonID: "p-ana"}}})
	if dec := d.code("4444444"); !dec.Granted {
		t.Fatalf("re-granted code after the bundle: %+v", dec)
	}
	if dec := d.card("C-ANA"); !dec.Granted {
		t.Fatalf("ana's card after the bundle: %+v", dec)
	}
	wantSuspended(t, d, 0, 0)

	before := len(d.events())
	for range 50 {
		if err := d.l.ApplyNotice(sealed); !errors.Is(err, lockproto.ErrStale) {
			t.Fatalf("replay after its bundle: %v, want stale", err)
		}
	}
	if dec := d.code("4444444"); !dec.Granted {
		t.Fatalf("re-granted code after the replays: %+v", dec)
	}
	wantSuspended(t, d, 0, 0)
	if after := len(d.events()); after != before+1 { // the code.granted just above
		t.Fatalf("replays logged %d events", after-before-1)
	}
	d.boot()
	if dec := d.code("4444444"); !dec.Granted {
		t.Fatalf("re-granted code after a reboot: %+v", dec)
	}
}

// TestNotice_Stale: a notice whose version the lock already holds, or
// older than NoticeLife by the lock's clock, changes nothing and logs
// nothing.
func TestNotice_Stale(t *testing.T) {
	d := noticeDoor(t)
	d.mustBundle(lockproto.Bundle{}) // version 2
	before := len(d.events())
	for name, sealed := range map[string][]byte{
		"until the version held":  d.notice(2, d.real, "p-ana"),
		"until an older version":  d.notice(1, d.real, "p-ana"),
		"older than NoticeLife":   d.notice(9, d.real.Add(-lockproto.NoticeLife), "p-ana"),
		"25 hours old, far ahead": d.notice(1<<40, d.real.Add(-25*time.Hour), "p-ana"),
	} {
		if err := d.l.ApplyNotice(sealed); !errors.Is(err, lockproto.ErrStale) {
			t.Fatalf("%s: %v, want stale", name, err)
		}
	}
	if after := len(d.events()); after != before {
		t.Fatalf("stale notices logged %d events", after-before)
	}
	wantAccess(t, "ana", d.ana(), true, lock.ReasonOK)
	wantSuspended(t, d, 0, 0)
}

// TestNotice_EndsAfterNoticeLife: a notice whose bundle never comes stops
// holding NoticeLife after it was issued, by the lock's clock, across a
// reboot too.
func TestNotice_EndsAfterNoticeLife(t *testing.T) {
	d := noticeDoor(t)
	issued := d.real.Add(-time.Hour)
	d.mustNotice(d.notice(1<<40, issued, "p-ana"))
	d.wait(lockproto.NoticeLife - time.Hour - time.Minute)
	wantAccess(t, "ana a minute before the end", d.ana(), false, lock.ReasonRevoked)
	d.wait(time.Minute)
	d.boot()
	wantAccess(t, "ana at the end", d.ana(), true, lock.ReasonOK)
	wantSuspended(t, d, 0, 0)
	// The expired notice itself is now stale.
	if err := d.l.ApplyNotice(d.notice(1<<40, issued, "p-ana")); !errors.Is(err, lockproto.ErrStale) {
		t.Fatalf("expired notice: %v", err)
	}
}

// TestNotice_Refusals: notices the lock must not take: another lock's,
// one sealed under another lock's key, one signed by a stranger (sealed
// under this lock's key: someone holding the lock's flash), a bundle
// passed as a notice and a notice passed as a bundle. Each is logged as
// bundle.refused with a notice_ reason (or the bundle's) and suspends
// no one.
func TestNotice_Refusals(t *testing.T) {
	d := noticeDoor(t)
	other, err := lockproto.NewLockKeys("lock-b")
	if err != nil {
		t.Fatal(err)
	}
	_, stranger, _ := lockproto.NewPropertyKey()
	signed, err := lockproto.SignRevocationNotice(d.propPriv, lockproto.RevocationNotice{Persons: []string{"p-ana"}, IssuedAt: d.real})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := lockproto.SignRevocationNotice(stranger, lockproto.RevocationNotice{Persons: []string{"p-ana"}, IssuedAt: d.real})
	if err != nil {
		t.Fatal(err)
	}
	seal := func(signed []byte, lockID string, key []byte) []byte {
		s, err := lockproto.SealRevocationNotice(signed, lockID, key, 2)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bundle, err := lockproto.SealBundle(d.propPriv, d.keys.Symmetric, lockproto.Bundle{LockID: d.keys.LockID, Base: 1, Version: 2, TrustedTime: d.real})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, reason string
		sentinel     error
		sealed       []byte
	}{
		{"another lock's notice", "notice_wrong_lock", lockproto.ErrWrongLock, seal(signed, "lock-b", other.Symmetric)},
		{"sealed under another lock's key", "notice_decrypt", lockproto.ErrDecrypt, seal(signed, d.keys.LockID, other.Symmetric)},
		{"signed by a stranger", "notice_signature", lockproto.ErrSignature, seal(forged, d.keys.LockID, d.keys.Symmetric)},
		{"a bundle as a notice", "notice_malformed", lockproto.ErrMalformed, bundle},
		{"junk", "notice_malformed", lockproto.ErrMalformed, []byte{0xa0}},
	} {
		if err := d.l.ApplyNotice(c.sealed); !errors.Is(err, c.sentinel) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.sentinel)
		}
		ev := d.events()
		if last := ev[len(ev)-1]; last.Kind != lockproto.EventBundleRefused || last.Reason != c.reason {
			t.Fatalf("%s: last event %+v, want bundle.refused %s", c.name, last, c.reason)
		}
		wantSuspended(t, d, 0, 0)
	}
	// A notice on the bundle path (a lock that does not know notices
	// takes it there): refused as a bundle, no ack, nothing suspended.
	if ack, err := d.l.ApplyBundle(seal(signed, d.keys.LockID, d.keys.Symmetric)); !errors.Is(err, lockproto.ErrMalformed) || ack != nil {
		t.Fatalf("ApplyBundle(notice) = %x, %v", ack, err)
	}
	ev := d.events()
	if last := ev[len(ev)-1]; last.Kind != lockproto.EventBundleRefused {
		t.Fatalf("notice as a bundle: last event %+v", last)
	}
	wantAccess(t, "ana", d.ana(), true, lock.ReasonOK)
	// The bundle itself still applies.
	if _, err := d.l.ApplyBundle(bundle); err != nil {
		t.Fatal(err)
	}
}

// TestNotice_FloodDoesNotGrowLogOrFlash: a relay replaying refused
// notices, stale ones, or the same valid notice again and again before
// its bundle arrives: the log stays a few aggregated events and the
// suspension file does not grow.
func TestNotice_FloodDoesNotGrowLogOrFlash(t *testing.T) {
	d := noticeDoor(t)
	other, _ := lockproto.NewLockKeys("lock-b")
	_, stranger, _ := lockproto.NewPropertyKey()
	forged, err := lockproto.SignRevocationNotice(stranger, lockproto.RevocationNotice{Persons: []string{"p-bob"}, IssuedAt: d.real})
	if err != nil {
		t.Fatal(err)
	}
	forgedSealed, err := lockproto.SealRevocationNotice(forged, d.keys.LockID, d.keys.Symmetric, 2)
	if err != nil {
		t.Fatal(err)
	}
	otherLock, err := lockproto.SealRevocationNotice(forged, "lock-b", other.Symmetric, 2)
	if err != nil {
		t.Fatal(err)
	}
	stale := d.notice(1, d.real, "p-bob")
	valid := d.notice(2, d.real, "p-ana")
	d.mustNotice(valid)
	fs := d.fs.(*lock.MemFS)
	size := len(fs.Image()["suspended"])
	before := len(d.events())
	for i := range 2000 {
		switch i % 5 {
		case 0:
			d.l.ApplyNotice(forgedSealed)
		case 1:
			d.l.ApplyNotice(otherLock)
		case 2:
			d.l.ApplyNotice([]byte{0xa0, byte(i)})
		case 3:
			if err := d.l.ApplyNotice(stale); !errors.Is(err, lockproto.ErrStale) {
				t.Fatalf("stale replay: %v", err)
			}
		case 4:
			// The same valid notice, replayed before its bundle: in force
			// already, nothing to add.
			if err := d.l.ApplyNotice(valid); err != nil {
				t.Fatalf("replay of the applied notice: %v", err)
			}
		}
		if i%100 == 0 {
			d.wait(time.Second)
		}
	}
	ev := d.events()
	if grown := len(ev) - before; grown > 10 {
		t.Fatalf("2,000 refused, stale and replayed notices logged %d events: %v", grown, ev[before:])
	}
	if n := count(ev, lockproto.EventNoticeApplied); n != 1 {
		t.Fatalf("%d notice.applied events for one notice replayed 400 times", n)
	}
	if got := len(fs.Image()["suspended"]); got != size {
		t.Fatalf("suspension file grew from %d to %d bytes under replays", size, got)
	}
	wantAccess(t, "ana", d.ana(), false, lock.ReasonRevoked)
	wantAccess(t, "bob", d.bob(), true, lock.ReasonOK)
}

// cutFS passes writes through to a MemFS until its cutAt'th write (counted
// from arm), which loses power halfway: a write leaves half its data, a
// rename does not happen, nothing works after.
type noticeCutFS struct {
	mem          *lock.MemFS
	steps, cutAt int
	dead         bool
}

var errNoticeCut = errors.New("power cut")

func (c *noticeCutFS) step() bool {
	if c.dead {
		return true
	}
	c.steps++
	if c.cutAt != 0 && c.steps == c.cutAt {
		c.dead = true
		return true
	}
	return false
}

func (c *noticeCutFS) ReadFile(name string) ([]byte, error) {
	if c.dead {
		return nil, errNoticeCut
	}
	return c.mem.ReadFile(name)
}

func (c *noticeCutFS) WriteFile(name string, data []byte) error {
	if c.step() {
		c.mem.WriteFile(name, data[:len(data)/2])
		return errNoticeCut
	}
	return c.mem.WriteFile(name, data)
}

func (c *noticeCutFS) AppendFile(name string, data []byte) error {
	if c.step() {
		c.mem.AppendFile(name, data[:len(data)/2])
		return errNoticeCut
	}
	return c.mem.AppendFile(name, data)
}

func (c *noticeCutFS) Rename(oldname, newname string) error {
	if c.step() {
		return errNoticeCut
	}
	return c.mem.Rename(oldname, newname)
}

// TestNotice_PowerCut cuts the power at every write step of applying a
// notice (a second one, so an old suspension file is being replaced) and
// reboots from what is on flash: the lock boots, with an intact log, and
// holds the new suspension or not, and never loses the one it held.
func TestNotice_PowerCut(t *testing.T) {
	d := noticeDoor(t)
	d.mustNotice(d.notice(2, d.real, "p-bob"))
	image := d.fs.(*lock.MemFS).Clone()
	sealed := d.notice(2, d.real, "p-ana")
	outcomes := map[bool]int{}
	for n := 1; ; n++ {
		fsys := &noticeCutFS{mem: image.Clone()}
		l, err := lock.Open(lock.Options{FS: fsys, Clock: d.rtc, LogRetention: 100000})
		if err != nil {
			t.Fatal(err)
		}
		fsys.cutAt = fsys.steps + n
		applyErr := l.ApplyNotice(sealed)
		if !fsys.dead {
			if applyErr != nil {
				t.Fatal(applyErr)
			}
			if n == 1 {
				t.Fatal("applying a notice wrote nothing")
			}
			break
		}
		// Reboot on what reached flash.
		d.fs = fsys.mem
		d.boot()
		logOf(t, d.l, d.keys.Symmetric) // verifies the chain
		ana, bob := d.code("1111111"), d.code("2222222")
		if bob.Reason != lock.ReasonRevoked {
			t.Fatalf("cut at write %d: the earlier suspension was lost: %+v", n, bob)
		}
		suspended := ana.Reason == lock.ReasonRevoked
		if !suspended && !ana.Granted {
			t.Fatalf("cut at write %d: ana %+v", n, ana)
		}
		if applyErr == nil && !suspended {
			t.Fatalf("cut at write %d: ApplyNotice returned nil but the suspension is not on flash", n)
		}
		outcomes[suspended]++
		// Not suspended: the notice (or the next one) applies now.
		if !suspended {
			d.mustNotice(sealed)
			if dec := d.code("1111111"); dec.Reason != lock.ReasonRevoked {
				t.Fatalf("cut at write %d: notice applied after reboot: %+v", n, dec)
			}
		}
	}
	if outcomes[false] == 0 {
		t.Fatalf("no cut left the notice unapplied: %v", outcomes)
	}
	t.Logf("cuts: %d left the suspension, %d did not", outcomes[true], outcomes[false])
}

// The suspended people are not readable from a sealed lock's flash image
// (the file is sealed like the door state).
func TestNotice_SuspensionFileSealed(t *testing.T) {
	mem := lock.NewMemFS()
	sealedFS, err := lock.SealedFS(mem, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	d := newDoor(t)
	d.fs = sealedFS
	if err := lock.Provision(d.fs, lockproto.NewProvisioning(d.keys, d.propPub, "Europe/Berlin", start.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	d.boot()
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "1111111", PersonID: "p-ana-secret"}}})
	d.mustNotice(d.notice(2, d.real, "p-ana-secret"))
	d.boot()
	if dec := d.code("1111111"); dec.Reason != lock.ReasonRevoked {
		t.Fatalf("sealed flash: %+v", dec)
	}
	raw, ok := mem.Image()["suspended"]
	if !ok {
		t.Fatal("no suspended file")
	}
	if bytes.Contains(raw, []byte("p-ana-secret")) {
		t.Fatal("suspended person readable on a sealed lock's flash")
	}
}

// TestNotice_AfterKeyRotation: once the lock took new keys, a notice
// signed with the replaced property key or sealed under the replaced
// symmetric key is refused; the cloud must sign and seal with the keys
// the lock holds.
func TestNotice_AfterKeyRotation(t *testing.T) {
	d := noticeDoor(t)
	oldKeys, oldPriv := d.keys, d.propPriv
	newPub, newPriv, _ := lockproto.NewPropertyKey()
	d.rotate(newKeys(t, d.keys.LockID), newPub, newPriv)
	sign := func(priv []byte) []byte {
		s, err := lockproto.SignRevocationNotice(priv, lockproto.RevocationNotice{Persons: []string{"p-ana"}, IssuedAt: d.real})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	seal := func(signed, key []byte) []byte {
		s, err := lockproto.SealRevocationNotice(signed, d.keys.LockID, key, d.version+1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := d.l.ApplyNotice(seal(sign(oldPriv), d.keys.Symmetric)); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("notice signed with the replaced property key: %v", err)
	}
	if err := d.l.ApplyNotice(seal(sign(newPriv), oldKeys.Symmetric)); !errors.Is(err, lockproto.ErrDecrypt) {
		t.Fatalf("notice sealed under the replaced symmetric key: %v", err)
	}
	wantSuspended(t, d, 0, 0)
	d.mustNotice(seal(sign(newPriv), d.keys.Symmetric))
	wantSuspended(t, d, 1, 1)
}

// TestNotice_ResealedByKeyHolder is the residual risk, measured: someone
// holding this lock's symmetric key (a flash dump of an unsealed lock) and
// a notice the property signed can re-seal it with a larger Until, so it
// outlives its bundle — but not NoticeLife from its signed issue time,
// and it can only refuse the people the property named.
func TestNotice_ResealedByKeyHolder(t *testing.T) {
	d := noticeDoor(t)
	signed, err := lockproto.SignRevocationNotice(d.propPriv, lockproto.RevocationNotice{Persons: []string{"p-ana"}, IssuedAt: d.real})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := lockproto.SealRevocationNotice(signed, d.keys.LockID, d.keys.Symmetric, 2)
	if err != nil {
		t.Fatal(err)
	}
	d.mustNotice(sealed)
	d.mustBundle(lockproto.Bundle{}) // version 2: Ana re-granted, say
	wantAccess(t, "ana after the bundle", d.ana(), true, lock.ReasonOK)

	resealed, err := lockproto.SealRevocationNotice(signed, d.keys.LockID, d.keys.Symmetric, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	d.mustNotice(resealed)
	wantAccess(t, "ana, resealed notice", d.ana(), false, lock.ReasonRevoked)
	wantAccess(t, "bob, resealed notice", d.bob(), true, lock.ReasonOK)
	d.wait(lockproto.NoticeLife)
	wantAccess(t, "ana NoticeLife after issue", d.ana(), true, lock.ReasonOK)
	if err := d.l.ApplyNotice(resealed); !errors.Is(err, lockproto.ErrStale) {
		t.Fatalf("resealed notice after NoticeLife: %v", err)
	}
}

// TestNotice_CorruptSuspensionFileBoots: flash damage to the suspension
// file (best effort, and no more than deleting it would do) loses the
// suspensions but does not keep the door from booting.
func TestNotice_CorruptSuspensionFileBoots(t *testing.T) {
	d := noticeDoor(t)
	d.mustNotice(d.notice(2, d.real, "p-ana"))
	fs := d.fs.(*lock.MemFS)
	raw := bytes.Clone(fs.Image()["suspended"])
	raw[len(raw)-1] ^= 0xff
	if err := fs.WriteFile("suspended", raw); err != nil {
		t.Fatal(err)
	}
	d.boot()
	wantAccess(t, "bob", d.bob(), true, lock.ReasonOK)
	wantSuspended(t, d, 0, 0)
	// The next notice applies and rewrites the file.
	d.mustNotice(d.notice(2, d.real, "p-ana"))
	d.boot()
	wantAccess(t, "ana", d.ana(), false, lock.ReasonRevoked)
}

// noticeOf signs n (issued now unless n says when) and seals it to this
// door until version until.
func (d *door) noticeOf(until uint64, n lockproto.RevocationNotice) []byte {
	d.t.Helper()
	if n.IssuedAt.IsZero() {
		n.IssuedAt = d.real
	}
	signed, err := lockproto.SignRevocationNotice(d.propPriv, n)
	if err != nil {
		d.t.Fatal(err)
	}
	sealed, err := lockproto.SealRevocationNotice(signed, d.keys.LockID, d.keys.Symmetric, until)
	if err != nil {
		d.t.Fatal(err)
	}
	return sealed
}

// TestNotice_GuestCodesOfADayKey: a guest code is a slot of a key's day
// secret and belongs to no person, so a notice naming the guest (or the
// host) could not refuse it. Ending a guest's code rotates the key's
// secret; the notice names the key, and the lock refuses every guest code
// of it — day codes, 15-minute codes, one already started — until the
// bundle with the new secret arrives, through a reboot; such a refusal is
// a known code, not a guess. Another key's guest codes and the residents
// are untouched.
func TestNotice_GuestCodesOfADayKey(t *testing.T) {
	d := noticeDoor(t)
	lobby := lockproto.DayKey{KeyID: "key-lobby", Secret: []byte("0123456789abcdef0123456789abcdef"), Digits: 7, Slots: 8, ActiveSlots: []uint16{0, 1}}
	gym := lockproto.DayKey{KeyID: "key-gym", Secret: []byte("fedcba9876543210fedcba9876543210"), Digits: 7, Slots: 8, ActiveSlots: []uint16{0}}
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{lobby, gym}}) // version 2
	today := lockproto.DayNumber(d.real, zone)
	code := func(k lockproto.DayKey, kind lockproto.GuestCodeKind, slot uint16) string {
		return lockproto.GuestCode(k.Secret, kind, today, slot, 7)
	}
	dayCode, started, fresh := code(lobby, lockproto.DayCode, 0), code(lobby, lockproto.QuarterHourCode, 1), code(lobby, lockproto.QuarterHourCode, 0)
	want(t, "lobby day code", d.code(dayCode), true, lock.ReasonOK)
	want(t, "lobby 15-minute code, first use", d.code(started), true, lock.ReasonOK)

	d.mustNotice(d.noticeOf(3, lockproto.RevocationNotice{Persons: []string{"p-guest"}, DayKeys: []string{"key-lobby"}}))
	for range 8 { // refused each time, never counted as a guess
		want(t, "lobby day code", d.code(dayCode), false, lock.ReasonRevoked)
	}
	want(t, "lobby 15-minute code already started", d.code(started), false, lock.ReasonRevoked)
	want(t, "lobby 15-minute code not started", d.code(fresh), false, lock.ReasonRevoked)
	want(t, "gym day code", d.code(code(gym, lockproto.DayCode, 0)), true, lock.ReasonOK)
	wantAccess(t, "ana", d.ana(), true, lock.ReasonOK)
	if s := d.l.Status(); s.SuspendedDayKeys != 1 || s.Suspended != 1 || s.SuspendedCards != 0 {
		t.Fatalf("status: %+v", s)
	}
	if n := count(d.events(), lockproto.EventKeypadLocked); n != 0 {
		t.Fatalf("%d keypad.locked events: a suspended guest code was counted as a guess", n)
	}

	d.boot()
	want(t, "lobby day code after a reboot", d.code(dayCode), false, lock.ReasonRevoked)

	// Version 3: the bundle with the rotated secret. The old codes are
	// gone; the new secret's codes open (the suspension is moot).
	rotated := lobby
	rotated.Secret = []byte("rotated-secret-rotated-secret-32")
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{rotated}})
	want(t, "old lobby day code after the bundle", d.code(dayCode), false, lock.ReasonUnknownCode)
	want(t, "new lobby day code", d.code(code(rotated, lockproto.DayCode, 1)), true, lock.ReasonOK)
	if s := d.l.Status(); s.SuspendedDayKeys != 0 {
		t.Fatalf("status after the bundle: %+v", s)
	}
}

// TestNotice_Card: a notice naming a keycard serial (a card deactivated
// or replaced; its holder keeps the rest) refuses that card until the
// bundle, and nothing else of its holder's.
func TestNotice_Card(t *testing.T) {
	d := noticeDoor(t)
	d.mustNotice(d.noticeOf(2, lockproto.RevocationNotice{Cards: []string{"C-ANA"}}))
	want(t, "ana's card", d.card("C-ANA"), false, lock.ReasonRevoked)
	want(t, "ana's doorcode", d.code("1111111"), true, lock.ReasonOK)
	want(t, "ana's phone", d.unlock(d.cred("p-ana", d.real, 24*time.Hour)), true, lock.ReasonOK)
	want(t, "bob's card", d.card("C-BOB"), true, lock.ReasonOK)
	if s := d.l.Status(); s.SuspendedCards != 1 || s.Suspended != 0 {
		t.Fatalf("status: %+v", s)
	}
	// A person id that happens to equal the serial is another name, both
	// ways (the other way below).
	want(t, "remote unlock for a person named like the card", d.remote("C-ANA"), true, lock.ReasonOK)
	d.boot()
	want(t, "ana's card after a reboot", d.card("C-ANA"), false, lock.ReasonRevoked)
	d.mustBundle(lockproto.Bundle{RemoveKeycards: []string{"C-ANA"}}) // version 2
	want(t, "ana's card after the bundle", d.card("C-ANA"), false, lock.ReasonUnknownCard)
	if s := d.l.Status(); s.SuspendedCards != 0 {
		t.Fatalf("status after the bundle: %+v", s)
	}
	// A notice naming person "C-BOB" leaves card C-BOB open, and one
	// naming person "key-lobby" leaves that key's guest codes alone.
	lobby := lockproto.DayKey{KeyID: "key-lobby", Secret: []byte("0123456789abcdef0123456789abcdef"), Digits: 7, Slots: 8, ActiveSlots: []uint16{0}}
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{lobby}}) // version 3
	d.mustNotice(d.noticeOf(4, lockproto.RevocationNotice{Persons: []string{"C-BOB", "key-lobby"}}))
	want(t, "bob's card after a notice naming a person C-BOB", d.card("C-BOB"), true, lock.ReasonOK)
	guest := lockproto.GuestCode(lobby.Secret, lockproto.DayCode, lockproto.DayNumber(d.real, zone), 0, 7)
	want(t, "a lobby guest code after a notice naming a person key-lobby", d.code(guest), true, lock.ReasonOK)
}

// TestNotice_Doorcodes: a notice naming a person's doorcodes (a resident
// who reset a code that leaked) refuses the codes they hold at the lock
// until the bundle with the new one — as a known code, never counted as a
// guess — while their card, phone and remote unlocks stay open.
func TestNotice_Doorcodes(t *testing.T) {
	d := noticeDoor(t)
	d.mustNotice(d.noticeOf(2, lockproto.RevocationNotice{Doorcodes: []string{"p-ana"}}))
	for range 8 {
		want(t, "ana's old doorcode", d.code("1111111"), false, lock.ReasonRevoked)
	}
	if n := count(d.events(), lockproto.EventKeypadLocked); n != 0 {
		t.Fatalf("%d keypad.locked events", n)
	}
	want(t, "ana's card", d.card("C-ANA"), true, lock.ReasonOK)
	want(t, "ana's phone", d.unlock(d.cred("p-ana", d.real, 24*time.Hour)), true, lock.ReasonOK)
	want(t, "ana's remote unlock", d.remote("p-ana"), true, lock.ReasonOK)
	want(t, "bob's doorcode", d.code("2222222"), true, lock.ReasonOK)
	wantSuspended(t, d, 0, 1)
	d.boot()
	want(t, "ana's old doorcode after a reboot", d.code("1111111"), false, lock.ReasonRevoked)
	d.mustBundle(lockproto.Bundle{RemoveDoorcodes: []string{"1111111"}, Doorcodes: []lockproto.DoorcodeEntry{{Code: "5555555", PersonID: "p-ana"}}})
	want(t, "ana's new doorcode", d.code("5555555"), true, lock.ReasonOK)
	want(t, "ana's old doorcode after the bundle", d.code("1111111"), false, lock.ReasonUnknownCode)
	wantSuspended(t, d, 0, 0)
}

// TestNotice_RepeatedResetKeepsOneEntry: a resident resetting their
// doorcode again and again while the door's bundles are held back sends a
// notice each time, each holding longer than the last: the lock keeps one
// entry for them, not one per notice, so the file does not grow.
func TestNotice_RepeatedResetKeepsOneEntry(t *testing.T) {
	d := noticeDoor(t)
	fs := d.fs.(*lock.MemFS)
	var sizes []int
	for i := range 50 {
		d.wait(time.Minute)
		d.mustNotice(d.noticeOf(uint64(2+i), lockproto.RevocationNotice{Doorcodes: []string{"p-ana"}}))
		sizes = append(sizes, len(fs.Image()["suspended"]))
	}
	if sizes[49] > sizes[0]+16 { // Until grows by a byte or two at most
		t.Fatalf("suspension file grew from %d to %d bytes over 50 resets", sizes[0], sizes[49])
	}
	want(t, "ana's old doorcode", d.code("1111111"), false, lock.ReasonRevoked)
	wantSuspended(t, d, 0, 1)
	// Names beside it are kept: Bob's suspension survives Ana's resets.
	d.mustNotice(d.noticeOf(60, lockproto.RevocationNotice{Persons: []string{"p-bob"}}))
	d.wait(time.Minute)
	d.mustNotice(d.noticeOf(61, lockproto.RevocationNotice{Doorcodes: []string{"p-ana"}}))
	wantAccess(t, "bob", d.bob(), false, lock.ReasonRevoked)
	want(t, "ana's old doorcode", d.code("1111111"), false, lock.ReasonRevoked)
}
