package lock

import (
	"fmt"

	"github.com/dooros/dooros/lockproto"
)

// Reasons of remote unlock refusals (with ReasonOtherLock, ReasonExpired,
// ReasonNotYetValid, ReasonRevoked, ReasonOutsideSchedule,
// ReasonNoTrustedTime).
const (
	ReasonBadCommand = "bad_command" // not signed by the property, or not a command
	ReasonReplay     = "replay"      // counter at or below one the lock took
)

// RemoteUnlock decides a cloud-signed remote unlock command (an online
// lock's MQTT side feeds it) and returns the lock's signed result. The
// checks, in order: the property's signature; this lock; the counter not
// taken before and not more than 64 below the highest taken (written to
// flash before the door opens, so a power cut cannot make a command usable
// twice); the command's life by the
// trusted clock; revocations that took effect after it was issued; the
// person's schedule at this door in the property's zone. Every decision is
// logged like an app unlock, credential "remote". The error is for a flash
// or log failure: the door then stays shut and the result says so.
func (l *Lock) RemoteUnlock(command []byte) ([]byte, Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, counter, ferr := l.decideRemote(command)
	d.Credential = "remote"
	if ferr != nil {
		d = Decision{Reason: "flash_failed", Credential: d.Credential, PersonID: d.PersonID, Ref: d.Ref}
	}
	d, err := l.conclude(d, lockproto.EventUnlockGranted, lockproto.EventUnlockDenied)
	if ferr != nil {
		err = ferr
	}
	res, serr := lockproto.SignRemoteResult(l.keys.priv, lockproto.RemoteResult{LockID: l.prov.LockID,
		Command: lockproto.RemoteDigest(command), Counter: counter, Granted: d.Granted, Reason: d.Reason, Seq: d.Seq, LockTime: l.now()})
	if serr != nil {
		panic(serr) // the key was validated at boot; signing cannot fail
	}
	return res, d, err
}

func (l *Lock) decideRemote(command []byte) (Decision, uint64, error) {
	cmd, err := lockproto.VerifyRemoteUnlock(l.keys.propertyPub, command)
	if err != nil {
		return Decision{Reason: ReasonBadCommand}, 0, nil
	}
	d := Decision{PersonID: cmd.PersonID, Ref: fmt.Sprint(cmd.Counter)}
	if cmd.LockID != l.prov.LockID {
		d.Reason = ReasonOtherLock
		return d, cmd.Counter, nil
	}
	next := l.rt.clone()
	if !takeCounter(next, cmd.Counter) {
		d.Reason = ReasonReplay
		return d, cmd.Counter, nil
	}
	// Every authentic command for this lock is used up here, whatever the
	// rest decides: one refused outside its schedule cannot open later.
	if err := l.saveRuntime(next); err != nil {
		return d, cmd.Counter, err
	}
	now := l.now()
	switch {
	case l.clk.Untrusted:
		d.Reason = ReasonNoTrustedTime
	case now.Add(l.opts.DriftTolerance).Before(cmd.IssuedAt):
		d.Reason = ReasonNotYetValid
	case !now.Before(cmd.NotAfter):
		d.Reason = ReasonExpired
	case l.idx.revokedPerson(cmd.PersonID, cmd.IssuedAt), l.suspended(cmd.PersonID, now):
		d.Reason = ReasonRevoked
	case !cmd.Schedule.Allows(now, l.loc):
		d.Reason = ReasonOutsideSchedule
	default:
		d.Granted, d.Reason = true, ReasonOK
	}
	return d, cmd.Counter, nil
}

// remoteWindow is how far below the highest counter a command may still
// arrive (overtaken by a later one in transit) and be taken once.
const remoteWindow = 64

// takeCounter marks counter c taken in rt, or reports false for a replay:
// a counter taken before, or older than the window below the highest.
func takeCounter(rt *runtimeState, c uint64) bool {
	h, seen := rt.RemoteCounter, rt.RemoteSeen
	if h > 0 && seen == 0 {
		seen = 1 // a state from before the window: only the highest is known
	}
	switch {
	case c > h:
		if shift := c - h; shift >= remoteWindow {
			seen = 1
		} else {
			seen = seen<<shift | 1
		}
		h = c
	case h-c >= remoteWindow:
		return false
	case seen&(1<<(h-c)) != 0:
		return false
	default:
		seen |= 1 << (h - c)
	}
	rt.RemoteCounter, rt.RemoteSeen = h, seen
	return true
}
