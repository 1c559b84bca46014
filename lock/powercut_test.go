package lock

import (
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

var errPowerCut = errors.New("power cut")

// cutFS passes writes through to a MemFS until the cutAt'th write, which
// loses power halfway: a write leaves half its data, a rename does not
// happen. Nothing works after that.
type cutFS struct {
	mem   *MemFS
	steps int
	cutAt int // 0: never
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
		return nil, errPowerCut
	}
	return c.mem.ReadFile(name)
}

func (c *cutFS) WriteFile(name string, data []byte) error {
	if c.step() {
		c.mem.WriteFile(name, data[:len(data)/2])
		return errPowerCut
	}
	return c.mem.WriteFile(name, data)
}

func (c *cutFS) AppendFile(name string, data []byte) error {
	if c.step() {
		c.mem.AppendFile(name, data[:len(data)/2])
		return errPowerCut
	}
	return c.mem.AppendFile(name, data)
}

func (c *cutFS) Rename(oldname, newname string) error {
	if c.step() {
		return errPowerCut
	}
	return c.mem.Rename(oldname, newname)
}

// TestPowerCutDuringApply cuts the power at every write step of applying a
// bundle, reboots from what is on flash, and checks the lock is at the old
// version or the new one — never between — with an intact event log.
func TestPowerCutDuringApply(t *testing.T) {
	base := newEnv(t, "lock-a")
	base.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: residents(50), Keycards: []lockproto.KeycardEntry{{Serial: "C1", PersonID: "p1"}}})
	image := base.fs.(*MemFS).Clone()
	delta := base.seal(lockproto.Bundle{Base: 1, Version: 2,
		RemoveDoorcodes: []string{codeFor(0)}, Doorcodes: []lockproto.DoorcodeEntry{{Code: "5555555", PersonID: "p-new"}},
		RemoveKeycards: []string{"C1"}, Revocations: []lockproto.Revocation{{PersonID: "p-alice", EffectiveAt: t0}}})

	seen := map[uint64]bool{}
	for n := 1; ; n++ {
		fsys := &cutFS{mem: image.Clone()}
		l, err := Open(Options{FS: fsys, Clock: base.clock})
		if err != nil {
			t.Fatal(err)
		}
		fsys.steps, fsys.cutAt = 0, n
		_, applyErr := l.ApplyBundle(delta)
		if !fsys.dead {
			if applyErr != nil {
				t.Fatal(applyErr)
			}
			if n < 3 {
				t.Fatalf("apply finished in %d write steps; the test cuts nothing", n)
			}
			t.Logf("apply cut at each of %d write steps; versions seen %v", n-1, seen)
			break
		}

		after, err := Open(Options{FS: fsys.mem.Clone(), Clock: base.clock})
		if err != nil {
			t.Fatalf("cut at step %d: lock does not boot: %v", n, err)
		}
		v := after.Status().Version
		seen[v] = true
		st := after.Status()
		_, hasOld := after.idx.codes[after.hashCode(codeFor(0))]
		_, hasNew := after.idx.codes[after.hashCode("5555555")]
		_, hasCard := after.idx.cards["C1"]
		switch v {
		case 1:
			if !hasOld || hasNew || !hasCard || st.Revoked != 0 || st.Doorcodes != 50 {
				t.Fatalf("cut at step %d: version 1 with partial state %+v", n, st)
			}
		case 2:
			if hasOld || !hasNew || hasCard || st.Revoked != 1 || st.Doorcodes != 50 {
				t.Fatalf("cut at step %d: version 2 with partial state %+v", n, st)
			}
		default:
			t.Fatalf("cut at step %d: version %d", n, v)
		}
		// The log still verifies as one chain from the first event, and
		// holds the version's bundle.applied exactly when the version is
		// applied: state and event are one atomic step.
		checkWholeLog(t, after)
		if got, want := appliedEvents(t, after, 2), map[uint64]int{1: 0, 2: 1}[v]; got != want {
			t.Fatalf("cut at step %d: at version %d with %d bundle.applied events for version 2, want %d", n, v, got, want)
		}
		// And the lock keeps working: the bundle applies (or is known).
		if _, err := after.ApplyBundle(delta); err != nil && !errors.Is(err, lockproto.ErrStale) {
			t.Fatalf("cut at step %d: re-apply: %v", n, err)
		}
		if after.Status().Version != 2 {
			t.Fatalf("cut at step %d: not at version 2 after re-apply", n)
		}
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("versions seen after cuts = %v; want both old and new", seen)
	}
}

// TestPowerCutDuringCodeUse cuts power while a 15-minute code's first use is
// recorded: the code either never started (and still works later for the
// full 15 minutes) or started at that moment, never anything else.
func TestPowerCutDuringCodeUse(t *testing.T) {
	base := newEnv(t, "lock-a")
	k := dayKey("key-lobby")
	base.apply(lockproto.Bundle{Version: 1, Snapshot: true, DayKeys: []lockproto.DayKey{k}})
	image := base.fs.(*MemFS).Clone()
	code := lockproto.GuestCode(k.Secret, lockproto.QuarterHourCode, lockproto.DayNumber(t0, berlin), 1, 7)
	for n := 1; ; n++ {
		fsys := &cutFS{mem: image.Clone()}
		l, err := Open(Options{FS: fsys, Clock: base.clock})
		if err != nil {
			t.Fatal(err)
		}
		fsys.steps, fsys.cutAt = 0, n
		d, _ := l.EnterCode(code)
		if !fsys.dead {
			wantDecision(t, d, true, ReasonOK)
			break
		}
		if d.Granted {
			t.Fatalf("cut at step %d: door opened without a durable record", n)
		}
		after, err := Open(Options{FS: fsys.mem.Clone(), Clock: base.clock})
		if err != nil {
			t.Fatalf("cut at step %d: %v", n, err)
		}
		if q, ok := after.rt.Quarter[after.hashCode(code)]; ok && !q.First.Equal(base.clock.Now()) {
			t.Fatalf("cut at step %d: first use %v", n, q.First)
		}
		checkWholeLog(t, after)
	}
}

func appliedEvents(t *testing.T, l *Lock, version uint64) int {
	t.Helper()
	raw, err := l.EventsSince(1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := lockproto.OpenEventBatch(l.PublicKey(), l.LockID(), l.keys.sym, raw)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range b.Events {
		if e.Kind == lockproto.EventBundleApplied && e.Version == version {
			n++
		}
	}
	return n
}

func checkWholeLog(t *testing.T, l *Lock) {
	t.Helper()
	seq, prev := uint64(1), lockproto.GenesisHash
	for {
		raw, err := l.EventsSince(seq)
		if err != nil {
			t.Fatal(err)
		}
		b, head, err := openBatch(l, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Continues(seq, prev); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			return
		}
		seq, prev = b.From+uint64(len(b.Events)), head
	}
}

// TestPowerCutClosingDenialRun cuts the power at every write step of
// logging a run of repeated denials as its aggregate: after a reboot every
// denial is counted exactly once — the aggregate is neither lost nor
// logged twice.
func TestPowerCutClosingDenialRun(t *testing.T) {
	base := newEnv(t, "lock-a")
	for range 3 {
		base.lock.TapCard("nope") // first logged, two folded into the run
	}
	image := base.fs.(*MemFS).Clone()
	count := func(l *Lock) uint32 {
		t.Helper()
		raw, err := l.EventsSince(1)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := openBatch(l, raw)
		if err != nil {
			t.Fatal(err)
		}
		var n uint32
		for _, e := range b.Events {
			if e.Kind == lockproto.EventCardDenied {
				n += max(e.Count, 1)
			}
		}
		return n
	}
	for n := 1; ; n++ {
		fsys := &cutFS{mem: image.Clone()}
		clock := &fakeClock{t: base.clock.Now()}
		l, err := Open(Options{FS: fsys, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		fsys.steps, fsys.cutAt = 0, n
		clock.Advance(DefaultDenialWindow + time.Second)
		l.EventsSince(1) // closes the run: aggregate appended, run file rewritten
		if !fsys.dead {
			if n < 3 {
				t.Fatalf("closing the run took %d write steps; the test cuts nothing", n)
			}
			if got := count(l); got != 3 {
				t.Fatalf("no cut: %d denials counted, want 3", got)
			}
			break
		}
		after, err := Open(Options{FS: fsys.mem.Clone(), Clock: clock})
		if err != nil {
			t.Fatalf("cut at step %d: lock does not boot: %v", n, err)
		}
		if got := count(after); got != 3 {
			t.Fatalf("cut at step %d: %d denials counted after reboot, want 3", n, got)
		}
	}
}
