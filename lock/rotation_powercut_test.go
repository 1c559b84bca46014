package lock

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

// TestPowerCutDuringRotation cuts the power at every write step of applying
// a bundle that rotates both the lock's keys and the property key, reboots
// from flash, and checks the lock holds the old identity with the old
// version or the new identity with the new version, never a mix, and that
// it then takes the bundle (again) or the next one under the new keys.
func TestPowerCutDuringRotation(t *testing.T) {
	base := newEnv(t, "lock-a")
	base.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: residents(20)})
	image := base.fs.(*MemFS).Clone()
	next, err := lockproto.NewLockKeys("lock-a")
	if err != nil {
		t.Fatal(err)
	}
	newPub, newPriv, _ := lockproto.NewPropertyKey()
	rotation := base.seal(lockproto.Bundle{Base: 1, Version: 2, Doorcodes: []lockproto.DoorcodeEntry{{Code: "5555555", PersonID: "p-new"}},
		Rotation: lockproto.RotationFor(next, newPub, t0)})
	after2, err := lockproto.SealBundle(newPriv, next.Symmetric, lockproto.Bundle{LockID: "lock-a", Base: 2, Version: 3, TrustedTime: t0})
	if err != nil {
		t.Fatal(err)
	}

	seen := map[uint64]bool{}
	for n := 1; ; n++ {
		fsys := &cutFS{mem: image.Clone()}
		l, err := Open(Options{FS: fsys, Clock: base.clock})
		if err != nil {
			t.Fatal(err)
		}
		fsys.steps, fsys.cutAt = 0, n
		_, applyErr := l.ApplyBundle(rotation)
		if !fsys.dead {
			if applyErr != nil {
				t.Fatal(applyErr)
			}
			if n < 3 {
				t.Fatalf("rotation finished in %d write steps; the test cuts nothing", n)
			}
			t.Logf("rotation cut at each of %d write steps; versions seen %v", n-1, seen)
			break
		}
		after, err := Open(Options{FS: fsys.mem.Clone(), Clock: base.clock})
		if err != nil {
			t.Fatalf("cut at step %d: lock does not boot: %v", n, err)
		}
		v := after.Status().Version
		seen[v] = true
		_, hasNew := after.idx.codes[after.hashCode("5555555")]
		oldIdentity := after.PublicKey().Equal(base.keys.Public) && bytes.Equal(after.keys.sym, base.keys.Symmetric) && after.keys.propertyPub.Equal(base.propPub)
		newIdentity := after.PublicKey().Equal(next.Public) && bytes.Equal(after.keys.sym, next.Symmetric) && after.keys.propertyPub.Equal(newPub)
		switch {
		case v == 1 && oldIdentity && !hasNew:
			// Not applied: the rotation bundle still applies.
			if _, err := after.ApplyBundle(rotation); err != nil {
				t.Fatalf("cut at step %d: rotation re-apply: %v", n, err)
			}
		case v == 2 && newIdentity && hasNew:
			// Applied: the replay is refused (sealed under the old key).
			if _, err := after.ApplyBundle(rotation); !errors.Is(err, lockproto.ErrDecrypt) {
				t.Fatalf("cut at step %d: replayed rotation: %v", n, err)
			}
		default:
			t.Fatalf("cut at step %d: version %d, old identity %v, new identity %v, new code %v", n, v, oldIdentity, newIdentity, hasNew)
		}
		checkWholeLog(t, after)
		if got, want := appliedEvents(t, after, 2), 1; got != want {
			t.Fatalf("cut at step %d: %d bundle.applied events for version 2, want %d", n, got, want)
		}
		if _, err := after.ApplyBundle(after2); err != nil {
			t.Fatalf("cut at step %d: bundle under the new keys: %v", n, err)
		}
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("versions seen after cuts = %v; want both old and new", seen)
	}
}
