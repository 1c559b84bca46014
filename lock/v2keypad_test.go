package lock_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// TestKeypadSlowGuessing: 4 wrong codes a minute never tripped the old
// one-minute window (5,760 guesses a day). Now the sliding windows trip,
// lockouts grow, and the lock logs keypad.alert.
func TestKeypadSlowGuessing(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p-1"}}})
	judged, locked := 0, 0
	for i := range 4 * 60 {
		dec := d.code(fmt.Sprintf("%07d", 5000000+i))
		switch dec.Reason {
		case lock.ReasonUnknownCode:
			judged++
		case lock.ReasonKeypadLocked:
			locked++
		default:
			t.Fatalf("guess %d: %+v", i, dec)
		}
		d.wait(15 * time.Second)
	}
	if judged > 20 {
		t.Fatalf("%d of 240 slow guesses judged in an hour; want at most 20", judged)
	}
	ev := d.events()
	if n := count(ev, lockproto.EventKeypadLocked); n < 3 {
		t.Fatalf("keypad.locked events = %d, want growing lockouts", n)
	}
	if n := count(ev, lockproto.EventKeypadAlert); n == 0 {
		t.Fatal("no keypad.alert event")
	}
	var lockouts []string
	for _, e := range ev {
		if e.Kind == lockproto.EventKeypadLocked {
			lockouts = append(lockouts, e.Reason)
		}
	}
	if lockouts[0] != "1m0s" || lockouts[1] != "2m0s" || lockouts[2] != "4m0s" {
		t.Fatalf("lockouts = %v, want doubling from 1m", lockouts)
	}
	t.Logf("1 h at 4 guesses/min: %d judged, %d refused while locked, lockouts %v", judged, locked, lockouts)
}

// TestKeypadGuessRate measures, through the real keypad code and clock,
// how many guesses a day an attacker gets over a week with the best of
// three strategies (as fast as allowed; just under the short window; a
// slow drip), and from it the expected time to guess a valid 7-digit code
// at a 200-resident property. Target: more than a year.
func TestKeypadGuessRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a week of guessing")
	}
	const (
		residents  = 200
		keys       = 10 // guest-code keys at the property
		slotsOnKey = 10 // active slots per key (allocated + spares)
		valid      = residents + keys*slotsOnKey*2
		space      = 1e7
		days       = 7
	)
	strategies := map[string]time.Duration{"burst": time.Second, "under short window": 10*time.Minute/4 + time.Second, "drip": 24 * time.Hour / 19}
	worst := 0.0
	for name, gap := range strategies {
		d := newDoor(t)
		d.mustBundle(lockproto.Bundle{})
		judged := 0
		end := d.real.Add(days * 24 * time.Hour)
		for i := 0; d.real.Before(end); i++ {
			dec := d.code(fmt.Sprintf("%07d", i%10000000))
			if dec.Reason == lock.ReasonKeypadLocked {
				d.wait(5 * time.Minute) // comes back later
				continue
			}
			judged++
			d.wait(gap)
		}
		perDay := float64(judged) / days
		worst = math.Max(worst, perDay)
		t.Logf("strategy %-18s: %.1f guesses/day", name, perDay)
	}
	expected := (space + 1) / (valid + 1) // guesses until the first hit, no repeats
	years := expected / worst / 365
	t.Logf("valid codes %d of %g; expected %.0f guesses; worst %.1f guesses/day → %.1f years", valid, space, expected, worst, years)
	if years <= 1 {
		t.Fatalf("expected time to guess = %.2f years, want > 1", years)
	}
}

var errCut = errors.New("power cut")

// cutFS loses power at its cutAt'th write step: a write leaves half its
// data, a rename does not happen, nothing works after.
type cutFS struct {
	mem   *lock.MemFS
	steps int
	cutAt int
	dead  bool
}

func (c *cutFS) step() bool {
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

func (c *cutFS) ReadFile(name string) ([]byte, error) {
	if c.dead {
		return nil, errCut
	}
	return c.mem.ReadFile(name)
}

func (c *cutFS) WriteFile(name string, data []byte) error {
	if c.step() {
		_ = c.mem.WriteFile(name, data[:len(data)/2])
		return errCut
	}
	return c.mem.WriteFile(name, data)
}

func (c *cutFS) AppendFile(name string, data []byte) error {
	if c.step() {
		_ = c.mem.AppendFile(name, data[:len(data)/2])
		return errCut
	}
	return c.mem.AppendFile(name, data)
}

func (c *cutFS) Rename(oldname, newname string) error {
	if c.step() {
		return errCut
	}
	return c.mem.Rename(oldname, newname)
}

// TestKeypadPowerCutGivesNoFreeGuesses: an attacker cuts the power at
// write step n of every guess and reboots. Before: the wrong-code count was
// the second of three writes and a right code opened after the first, so a
// cut after the first write was an uncounted guess. Now the attempt is
// counted before the code is judged: a cut before the count is on flash
// stops the lock before judging (a right code does not open either), and
// any later cut leaves the guess counted, so five guesses lock the keypad.
func TestKeypadPowerCutGivesNoFreeGuesses(t *testing.T) {
	base := newDoor(t)
	base.mustBundle(lockproto.Bundle{Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p-1"}}})
	image := base.fs.(*lock.MemFS).Clone()
	// A wrong guess is three write steps: the count (temporary file,
	// rename) and the log record. Cut at each.
	for n := 1; n <= 3; n++ {
		flash := image.Clone()
		judgedBeforeCount := false
		for i := range 6 {
			fsys := &cutFS{mem: flash}
			l, err := lock.Open(lock.Options{FS: fsys, Clock: base.rtc})
			if err != nil {
				t.Fatalf("cut %d guess %d: boot: %v", n, i, err)
			}
			fsys.steps, fsys.cutAt = 0, n
			guess := fmt.Sprintf("%07d", 7000000+i)
			if i == 5 {
				guess = "1234567" // the right code, still under the cut
			}
			dec, err := l.EnterCode(guess)
			if !fsys.dead {
				// Only a locked keypad answers in fewer write steps.
				if dec.Reason != lock.ReasonKeypadLocked || n <= 2 {
					t.Fatalf("cut %d guess %d: finished in fewer write steps: %+v", n, i, dec)
				}
				break
			}
			if dec.Granted {
				t.Fatalf("cut %d guess %d: door opened with no durable count", n, i)
			}
			if err == nil {
				t.Fatalf("cut %d guess %d: no error from a failed flash write", n, i)
			}
			if dec.Reason == lock.ReasonUnknownCode {
				judgedBeforeCount = true
			}
			base.rtc.Advance(10 * time.Second)
		}
		l, err := lock.Open(lock.Options{FS: flash.Clone(), Clock: base.rtc})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := l.EnterCode("1234567")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case n <= 2 && dec.Reason != lock.ReasonOK:
			// The cut came before the count was on flash: nothing was judged,
			// nothing counted, the resident still gets in.
			t.Fatalf("cut %d: right code after cuts: %+v", n, dec)
		case n > 2 && dec.Reason != lock.ReasonKeypadLocked:
			t.Fatalf("cut at step %d (after the count): keypad not locked after 5 cut guesses: %+v", n, dec)
		}
		if judgedBeforeCount && n <= 2 {
			t.Fatalf("cut %d: a guess was judged before it was counted", n)
		}
	}
}

// TestOnlyActiveGuestSlots: every slot's codes were valid every day,
// allocated or not. Now only the slots the bundle activates open.
func TestOnlyActiveGuestSlots(t *testing.T) {
	d := newDoor(t)
	key := lockproto.DayKey{KeyID: "key-lobby", Secret: []byte("0123456789abcdef0123456789abcdef"), Digits: 7, Slots: 20, ActiveSlots: []uint16{2}}
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{key}})
	today := lockproto.DayNumber(d.real, zone)
	code := func(kind lockproto.GuestCodeKind, slot uint16) string {
		return lockproto.GuestCode(key.Secret, kind, today, slot, 7)
	}
	want(t, "active slot day code", d.code(code(lockproto.DayCode, 2)), true, lock.ReasonOK)
	for _, slot := range []uint16{0, 1, 3, 19} {
		want(t, fmt.Sprintf("inactive slot %d day code", slot), d.code(code(lockproto.DayCode, slot)), false, lock.ReasonUnknownCode)
		d.wait(10 * time.Minute)
	}
	want(t, "inactive slot 15-minute code", d.code(code(lockproto.QuarterHourCode, 3)), false, lock.ReasonUnknownCode)
	// The bundle activates slot 3 (a guest allocated it): its code opens.
	key.ActiveSlots = []uint16{2, 3}
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{key}})
	want(t, "newly active slot 15-minute code", d.code(code(lockproto.QuarterHourCode, 3)), true, lock.ReasonOK)
	// Deactivated: a started 15-minute code stops too.
	key.ActiveSlots = []uint16{2}
	d.mustBundle(lockproto.Bundle{DayKeys: []lockproto.DayKey{key}})
	want(t, "deactivated slot", d.code(code(lockproto.QuarterHourCode, 3)), false, lock.ReasonUnknownCode)
}
