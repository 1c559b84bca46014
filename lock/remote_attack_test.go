package lock_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// remoteCloud is an outsider's view of one online lock: the property key
// that signs commands, the lock's public keys, and the lock itself.
type remoteCloud struct {
	*outsider
	counter uint64
}

func newRemoteCloud(t *testing.T) *remoteCloud {
	o := newOutsider(t, lock.Options{})
	return &remoteCloud{outsider: o}
}

// command signs a remote unlock for person at door-1, valid 30 s from now;
// mod changes it before signing.
func (c *remoteCloud) command(t testing.TB, mod func(*lockproto.RemoteUnlock)) []byte {
	t.Helper()
	c.counter++
	now := c.clock.Now()
	cmd := lockproto.RemoteUnlock{LockID: "door-1", PersonID: "p-ana", Counter: c.counter, IssuedAt: now, NotAfter: now.Add(lockproto.DefaultRemoteUnlockLife)}
	if mod != nil {
		mod(&cmd)
	}
	b, err := lockproto.IssueRemoteUnlock(c.propPriv, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send delivers command and checks the lock's signed result against it.
func (c *remoteCloud) send(t testing.TB, command []byte) *lockproto.RemoteResult {
	t.Helper()
	raw, d, err := c.l.RemoteUnlock(command)
	if err != nil {
		t.Fatal(err)
	}
	res, err := lockproto.VerifyRemoteResult(c.keys.Public, "door-1", command, raw)
	if err != nil {
		t.Fatalf("result does not verify: %v", err)
	}
	if res.Granted != d.Granted || res.Reason != d.Reason || d.Credential != "remote" {
		t.Fatalf("result %+v disagrees with decision %+v", res, d)
	}
	return res
}

func wantRemote(t testing.TB, res *lockproto.RemoteResult, granted bool, reason string) {
	t.Helper()
	if res.Granted != granted || res.Reason != reason {
		t.Fatalf("remote unlock: granted=%v reason=%q, want granted=%v reason=%q", res.Granted, res.Reason, granted, reason)
	}
}

func (c *remoteCloud) bundle(t testing.TB, b lockproto.Bundle) {
	t.Helper()
	c.version++
	b.LockID, b.Version, b.Snapshot, b.TrustedTime = "door-1", c.version, true, c.clock.Now()
	sealed, err := lockproto.SealBundle(c.propPriv, c.keys.Symmetric, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.l.ApplyBundle(sealed); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteUnlock_GrantedAndLogged(t *testing.T) {
	c := newRemoteCloud(t)
	res := c.send(t, c.command(t, nil))
	wantRemote(t, res, true, lock.ReasonOK)
	if res.Counter != 1 || res.Seq == 0 || !res.LockTime.Equal(c.clock.Now()) {
		t.Fatalf("result %+v: want counter 1, a log sequence and the lock's time", res)
	}
	b := c.oldest(t)
	var found bool
	for _, e := range b.Events {
		if e.Seq == res.Seq {
			found = e.Kind == lockproto.EventUnlockGranted && e.Credential == "remote" && e.PersonID == "p-ana" && e.Ref == "1"
		}
	}
	if !found {
		t.Fatalf("no unlock.granted event for the remote unlock in the signed log: %+v", b.Events)
	}
}

// TestRemoteUnlock_Attacks: every way an outsider (or a broken cloud, or a
// replaying broker) might open the door with a command the lock must refuse.
func TestRemoteUnlock_Attacks(t *testing.T) {
	t.Run("replay of a granted command", func(t *testing.T) {
		c := newRemoteCloud(t)
		cmd := c.command(t, nil)
		wantRemote(t, c.send(t, cmd), true, lock.ReasonOK)
		wantRemote(t, c.send(t, cmd), false, lock.ReasonReplay)
	})
	t.Run("overtaken command: opens once, then a replay", func(t *testing.T) {
		c := newRemoteCloud(t)
		old := c.command(t, nil)
		wantRemote(t, c.send(t, c.command(t, nil)), true, lock.ReasonOK)
		wantRemote(t, c.send(t, old), true, lock.ReasonOK)
		wantRemote(t, c.send(t, old), false, lock.ReasonReplay)
	})
	t.Run("older than the counter window", func(t *testing.T) {
		c := newRemoteCloud(t)
		old := c.command(t, nil) // counter 1, never delivered in time
		c.counter += 63
		wantRemote(t, c.send(t, c.command(t, nil)), true, lock.ReasonOK) // counter 65
		wantRemote(t, c.send(t, old), false, lock.ReasonReplay)
	})
	t.Run("window edge and replays inside it after a reboot", func(t *testing.T) {
		fs := lock.NewMemFS()
		c := newRemoteCloud(t)
		pub := ed25519.PrivateKey(c.propPriv).Public().(ed25519.PublicKey)
		if err := lock.Provision(fs, lockproto.NewProvisioning(c.keys, pub, "UTC", c.clock.Now())); err != nil {
			t.Fatal(err)
		}
		var err error
		if c.l, err = lock.Open(lock.Options{FS: fs, Clock: c.clock}); err != nil {
			t.Fatal(err)
		}
		edge := c.command(t, nil) // counter 1
		c.counter += 62
		mid := c.command(t, nil)                                         // counter 64
		wantRemote(t, c.send(t, c.command(t, nil)), true, lock.ReasonOK) // counter 65
		wantRemote(t, c.send(t, mid), true, lock.ReasonOK)
		if c.l, err = lock.Open(lock.Options{FS: fs.Clone(), Clock: c.clock}); err != nil {
			t.Fatal(err)
		}
		wantRemote(t, c.send(t, mid), false, lock.ReasonReplay)
		wantRemote(t, c.send(t, edge), false, lock.ReasonReplay) // 65−1 = 64: outside
	})
	t.Run("replay after a reboot", func(t *testing.T) {
		fs := lock.NewMemFS()
		c := newRemoteCloud(t)
		// Re-provision on a flash we can reboot from.
		pub := ed25519.PrivateKey(c.propPriv).Public().(ed25519.PublicKey)
		if err := lock.Provision(fs, lockproto.NewProvisioning(c.keys, pub, "UTC", c.clock.Now())); err != nil {
			t.Fatal(err)
		}
		l, err := lock.Open(lock.Options{FS: fs, Clock: c.clock})
		if err != nil {
			t.Fatal(err)
		}
		c.l = l
		cmd := c.command(t, nil)
		wantRemote(t, c.send(t, cmd), true, lock.ReasonOK)
		// Power cut right after the door opened: the flash as it is.
		if c.l, err = lock.Open(lock.Options{FS: fs.Clone(), Clock: c.clock}); err != nil {
			t.Fatal(err)
		}
		wantRemote(t, c.send(t, cmd), false, lock.ReasonReplay)
	})
	t.Run("another lock's command", func(t *testing.T) {
		c := newRemoteCloud(t)
		wantRemote(t, c.send(t, c.command(t, func(r *lockproto.RemoteUnlock) { r.LockID = "door-2" })), false, lock.ReasonOtherLock)
	})
	t.Run("expired in transit", func(t *testing.T) {
		c := newRemoteCloud(t)
		cmd := c.command(t, nil)
		c.clock.Add(lockproto.DefaultRemoteUnlockLife)
		wantRemote(t, c.send(t, cmd), false, lock.ReasonExpired)
	})
	t.Run("issued in the future", func(t *testing.T) {
		c := newRemoteCloud(t)
		now := c.clock.Now()
		wantRemote(t, c.send(t, c.command(t, func(r *lockproto.RemoteUnlock) {
			r.IssuedAt, r.NotAfter = now.Add(time.Hour), now.Add(time.Hour+time.Minute)
		})), false, lock.ReasonNotYetValid)
	})
	t.Run("signed by another property", func(t *testing.T) {
		c := newRemoteCloud(t)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		now := c.clock.Now()
		forged, err := lockproto.IssueRemoteUnlock(other, lockproto.RemoteUnlock{LockID: "door-1", PersonID: "p-ana", Counter: 99, IssuedAt: now, NotAfter: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		res := c.send(t, forged)
		wantRemote(t, res, false, lock.ReasonBadCommand)
		// A forgery does not burn the counter: the cloud's next command works.
		if res.Counter != 0 {
			t.Fatalf("forged command's counter %d taken", res.Counter)
		}
		wantRemote(t, c.send(t, c.command(t, nil)), true, lock.ReasonOK)
	})
	t.Run("tampered bytes", func(t *testing.T) {
		c := newRemoteCloud(t)
		cmd := c.command(t, nil)
		cmd[len(cmd)-1] ^= 1
		wantRemote(t, c.send(t, cmd), false, lock.ReasonBadCommand)
	})
	t.Run("a credential or bundle presented as a command", func(t *testing.T) {
		c := newRemoteCloud(t)
		now := c.clock.Now()
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		cred, err := lockproto.IssueCredential(c.propPriv, lockproto.Credential{Serial: 1, PersonID: "p-ana", DeviceKey: pub,
			Locks: []lockproto.LockAccess{{LockID: "door-1"}}, NotBefore: now, NotAfter: now.Add(time.Hour), IssuedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		wantRemote(t, c.send(t, cred), false, lock.ReasonBadCommand)
		wantRemote(t, c.send(t, []byte(strings.Repeat("x", 5000))), false, lock.ReasonBadCommand)
	})
	t.Run("revoked after the command was signed", func(t *testing.T) {
		c := newRemoteCloud(t)
		cmd := c.command(t, nil)
		c.clock.Add(2 * time.Second)
		c.bundle(t, lockproto.Bundle{Revocations: []lockproto.Revocation{{PersonID: "p-ana", EffectiveAt: c.clock.Now()}}})
		wantRemote(t, c.send(t, cmd), false, lock.ReasonRevoked)
		// Someone else's command is not affected.
		wantRemote(t, c.send(t, c.command(t, func(r *lockproto.RemoteUnlock) { r.PersonID = "p-ben" })), true, lock.ReasonOK)
	})
	t.Run("outside the schedule at this door", func(t *testing.T) {
		c := newRemoteCloud(t)
		// The clock is Monday 09:00 UTC; the key opens on Sundays only.
		sunday := lockproto.Schedule{{Day: time.Sunday, Start: 0, End: 1440}}
		cmd := c.command(t, func(r *lockproto.RemoteUnlock) { r.Schedule = sunday })
		wantRemote(t, c.send(t, cmd), false, lock.ReasonOutsideSchedule)
		// Refused commands are used up too: not replayable once Sunday comes.
		wantRemote(t, c.send(t, cmd), false, lock.ReasonReplay)
		monday := lockproto.Schedule{{Day: time.Monday, Start: 8 * 60, End: 10 * 60}}
		wantRemote(t, c.send(t, c.command(t, func(r *lockproto.RemoteUnlock) { r.Schedule = monday })), true, lock.ReasonOK)
	})
	t.Run("a result cannot answer another command", func(t *testing.T) {
		c := newRemoteCloud(t)
		first := c.command(t, nil)
		raw, _, err := c.l.RemoteUnlock(first)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lockproto.VerifyRemoteResult(c.keys.Public, "door-1", c.command(t, nil), raw); err == nil {
			t.Fatal("a granted result verified as the answer to a newer command")
		}
		other, _ := lockproto.NewLockKeys("door-1")
		if _, err := lockproto.VerifyRemoteResult(other.Public, "door-1", first, raw); err == nil {
			t.Fatal("a result verified with another lock's key")
		}
	})
}

// TestRemoteUnlock_IssueRefusesLongLife: the property key will not sign a
// command that lives longer than lockproto.MaxRemoteUnlockLife.
func TestRemoteUnlock_IssueRefusesLongLife(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	for _, cmd := range []lockproto.RemoteUnlock{
		{LockID: "door-1", PersonID: "p", Counter: 1, IssuedAt: now, NotAfter: now.Add(lockproto.MaxRemoteUnlockLife + time.Second)},
		{LockID: "door-1", PersonID: "p", Counter: 0, IssuedAt: now, NotAfter: now.Add(time.Second * 10)},
		{LockID: "", PersonID: "p", Counter: 1, IssuedAt: now, NotAfter: now.Add(time.Second * 10)},
		{LockID: "door-1", PersonID: "p", Counter: 1, IssuedAt: now, NotAfter: now},
	} {
		if _, err := lockproto.IssueRemoteUnlock(priv, cmd); err == nil {
			t.Errorf("signed %+v", cmd)
		}
	}
}
