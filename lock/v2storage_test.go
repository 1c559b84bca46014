package lock_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// TestFlashDumpRevealsNoSecrets: before, a flash dump listed every doorcode
// and day-code secret in plaintext. With the flash sealed under a device
// key (held outside the flash), the dump holds no doorcode, no day secret,
// no 15-minute code, and none of the lock's own keys; the lock still works
// after a reboot with its device key and refuses to boot with another.
func TestFlashDumpRevealsNoSecrets(t *testing.T) {
	deviceKey := make([]byte, lock.DeviceKeySize)
	rand.Read(deviceKey)
	flash := lock.NewMemFS()
	sealed, err := lock.SealedFS(flash, deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("lock-a")
	clock := &rtc{t: start}
	if err := lock.Provision(sealed, lockproto.NewProvisioning(keys, pub, "Europe/Berlin", start)); err != nil {
		t.Fatal(err)
	}
	open := func(fsys lock.FS) (*lock.Lock, error) { return lock.Open(lock.Options{FS: fsys, Clock: clock}) }
	l, err := open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("day-secret-0123456789abcdefghijk")
	key := lockproto.DayKey{KeyID: "key-lobby", Secret: secret, Digits: 7, Slots: 4, ActiveSlots: []uint16{0}}
	b, err := lockproto.SealBundle(priv, keys.Symmetric, lockproto.Bundle{LockID: "lock-a", Version: 1, Snapshot: true, TrustedTime: start,
		Doorcodes: []lockproto.DoorcodeEntry{{Code: "7654321", PersonID: "p-1"}}, DayKeys: []lockproto.DayKey{key}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ApplyBundle(b); err != nil {
		t.Fatal(err)
	}
	quarter := lockproto.GuestCode(secret, lockproto.QuarterHourCode, lockproto.DayNumber(start, zone), 0, 7)
	for _, c := range []string{"7654321", quarter} {
		if d, err := l.EnterCode(c); err != nil || !d.Granted {
			t.Fatalf("code %s: %+v %v", c, d, err)
		}
	}
	secrets := map[string][]byte{"doorcode": []byte("7654321"), "15-minute code": []byte(quarter), "day secret": secret,
		"lock private key": keys.Private.Seed(), "lock symmetric key": keys.Symmetric}
	for name, data := range flash.Image() {
		for what, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("flash file %s holds the %s in the clear", name, what)
			}
		}
	}

	// The same device key boots it, with everything in place.
	clock.Advance(time.Minute)
	l, err = open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l.EnterCode("7654321"); !d.Granted {
		t.Fatalf("after reboot: %+v", d)
	}
	if d, _ := l.EnterCode(quarter); !d.Granted {
		t.Fatalf("15-minute code after reboot: %+v", d)
	}
	// Another device key (the flash moved to another board): refused, and
	// the flash is left as it was.
	before := flash.Image()
	other := make([]byte, lock.DeviceKeySize)
	rand.Read(other)
	wrong, _ := lock.SealedFS(flash, other)
	if _, err := open(wrong); !errors.Is(err, lock.ErrCorrupt) {
		t.Fatalf("boot with another device key: %v", err)
	}
	for name, data := range before {
		if !bytes.Equal(flash.Image()[name], data) {
			t.Fatalf("a refused boot changed %s", name)
		}
	}
	if _, err := lock.SealedFS(flash, make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte device key was accepted")
	}
}

// TestDoorcodesStoredAsKeyedHashes: even without a sealed flash, the door
// state keeps a keyed hash of each code, never the code.
func TestDoorcodesStoredAsKeyedHashes(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "7654321", PersonID: "p-1"}, {Code: "1112223", PersonID: "p-2"}}})
	for name, data := range d.fs.(*lock.MemFS).Image() {
		if name == "events" {
			continue
		}
		if bytes.Contains(data, []byte("7654321")) || bytes.Contains(data, []byte("1112223")) {
			t.Errorf("flash file %s holds a doorcode in the clear", name)
		}
	}
	want(t, "hashed code looked up", d.code("7654321"), true, lock.ReasonOK)
	d.mustBundle(lockproto.Bundle{RemoveDoorcodes: []string{"7654321"}})
	want(t, "removed code", d.code("7654321"), false, lock.ReasonUnknownCode)
	want(t, "other code", d.code("1112223"), true, lock.ReasonOK)
	d.boot()
	want(t, "after reboot", d.code("1112223"), true, lock.ReasonOK)
}

// failingAppends is a flash whose next appends to name fail (a worn or
// busy log sector), then recover.
type failingAppends struct {
	lock.FS
	name string
	fail int
}

func (f *failingAppends) AppendFile(name string, data []byte) error {
	if name == f.name && f.fail > 0 {
		f.fail--
		return errors.New("flash append failed")
	}
	return f.FS.AppendFile(name, data)
}

// TestJournalKeepsItsPlaceInTheLog: a bundle's state reaches flash but
// its bundle.applied entry cannot be appended at once. Whatever is logged
// next — a closed denial run at a log request, the next bundle — comes
// after it: every applied version keeps exactly one bundle.applied entry,
// and the log stays one chain.
func TestJournalKeepsItsPlaceInTheLog(t *testing.T) {
	d := newDoor(t)
	flash := &failingAppends{FS: d.fs, name: "events"}
	d.fs = flash
	d.boot()
	d.mustBundle(lockproto.Bundle{})
	for range 3 {
		d.code("0000000") // a denial run, still open
		d.wait(time.Second)
	}
	flash.fail = 1
	if err := d.bundle(lockproto.Bundle{}); err != nil {
		t.Fatal(err)
	}
	d.wait(20 * time.Minute) // the run's window passes: the log request closes it
	if _, err := d.l.EventsSince(1); err != nil {
		t.Fatal(err)
	}
	if err := d.bundle(lockproto.Bundle{}); err != nil {
		t.Fatal(err)
	}
	d.boot()
	applied := map[uint64]int{}
	for _, e := range d.events() {
		if e.Kind == lockproto.EventBundleApplied {
			applied[e.Version]++
		}
	}
	for v := uint64(1); v <= 3; v++ {
		if applied[v] != 1 {
			t.Fatalf("bundle.applied entries per version = %v, want one for each of 1..3", applied)
		}
	}
}
