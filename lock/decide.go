package lock

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Decision is the outcome of one unlock attempt.
type Decision struct {
	Granted    bool
	Reason     string // "ok" or why not; the same word goes into the log
	Credential string // "app", "doorcode", "daycode", "quartercode", "keycard"
	PersonID   string
	Ref        string // credential serial, key id or card serial
	Seq        uint64 // the event recording it
}

// Reasons a lock gives.
const (
	ReasonOK               = "ok"
	ReasonMalformed        = "malformed"
	ReasonUnknownChallenge = "unknown_challenge"
	ReasonBadCredential    = "bad_credential"
	ReasonOtherLock        = "other_lock"
	ReasonBadDeviceSig     = "bad_device_signature"
	ReasonNotYetValid      = "not_yet_valid"
	ReasonExpired          = "expired"
	ReasonRevoked          = "revoked"
	ReasonOutsideSchedule  = "outside_schedule"
	// ReasonSyncOnly refuses to open for a courier credential
	// (lockproto.Credential.SyncOnly): it authenticates a Door Sync only.
	ReasonSyncOnly     = "sync_only"
	ReasonUnknownCode  = "unknown_code"
	ReasonKeypadLocked = "keypad_locked"
	ReasonUnknownCard  = "unknown_card"
	// ReasonNeedCredential answers a proof by reference to a credential the
	// lock does not hold (any more): nothing is decided or consumed, the
	// phone sends the credential whole in the same channel.
	ReasonNeedCredential = "need_credential"
)

// decideUnlock makes the checks of §4.3 in order for a proof that arrived
// fresh in a channel whose transcript hash is binding; each refusal names
// the first check that failed.
func (l *Lock) decideUnlock(req *lockproto.UnlockRequest, binding []byte) Decision {
	// 1. The credential must carry the property's signature.
	cred, err := l.verifyCredential(req)
	if err != nil {
		return Decision{Reason: ReasonBadCredential}
	}
	d := Decision{PersonID: cred.PersonID, Ref: fmt.Sprint(cred.Serial)}
	// 2. It must name this lock.
	access, ok := cred.Access(l.prov.LockID)
	if !ok {
		d.Reason = ReasonOtherLock
		return d
	}
	// 3. The phone must hold the device key the credential names, and have
	//    signed this channel's transcript for this lock: a proof made in
	//    another channel (a relay to another door, a replay) does not verify.
	if !req.VerifyDevice(cred.DeviceKey, l.prov.LockID, binding) {
		d.Reason = ReasonBadDeviceSig
		return d
	}
	// 4. Validity window, by the lock's trusted clock only.
	//    With no trusted time, or over the lifetime ceiling, refused (clock.go).
	now := l.now()
	if r := l.credentialTimeReason(cred, now); r != "" {
		d.Reason = r
		return d
	}
	// 5. Revocations carried by bundles refuse credentials issued before
	//    them; a revocation notice refuses the person until its bundle.
	if l.idx.revoked(cred) || l.suspended(cred.PersonID, now) {
		d.Reason = ReasonRevoked
		return d
	}
	// A courier credential syncs and never opens, whatever the schedule.
	if cred.SyncOnly {
		d.Reason = ReasonSyncOnly
		return d
	}
	// 6. The weekly schedule at this door, in the property's time zone.
	if !access.Schedule.Allows(now, l.loc) {
		d.Reason = ReasonOutsideSchedule
		return d
	}
	d.Granted, d.Reason = true, ReasonOK
	return d
}

// authenticates says whether a decision shows a valid credential for this
// lock, proven by its device: enough to carry bundles and read the log,
// even when this is not a time the holder may open the door.
func authenticates(reason string) bool {
	switch reason {
	case ReasonOK, ReasonOutsideSchedule, ReasonNotYetValid, ReasonSyncOnly:
		return true
	}
	return false
}

// cachedCred is a credential whose property signature the lock verified.
type cachedCred struct {
	digest [sha256.Size]byte
	cred   *lockproto.Credential
}

// verifyCredential checks the property signature, remembering credentials it
// verified before so a phone's repeated unlocks cost one signature check and
// may name the credential by reference. The cache holds only
// signature-verified content; every time, revocation and lock check still
// runs on each use.
func (l *Lock) verifyCredential(req *lockproto.UnlockRequest) (*lockproto.Credential, error) {
	if req.Credential == nil {
		if c, ok := l.credCache[[lockproto.CredentialRefSize]byte(req.CredentialRef)]; ok {
			return c.cred, nil
		}
		return nil, errNeedCredential
	}
	digest := sha256.Sum256(req.Credential)
	ref := [lockproto.CredentialRefSize]byte(digest[:])
	if c, ok := l.credCache[ref]; ok && c.digest == digest {
		return c.cred, nil
	}
	c, err := l.keys.verifyCredential(req.Credential)
	if err != nil {
		return nil, err
	}
	if len(l.credCache) >= maxCredCache {
		clear(l.credCache)
	}
	l.credCache[ref] = cachedCred{digest: digest, cred: c}
	return c, nil
}

var errNeedCredential = errors.New("credential not held: send it whole")

// holds says whether the lock can decide req without its credential bytes.
func (l *Lock) holds(req *lockproto.UnlockRequest) bool {
	if req.Credential != nil {
		return true
	}
	_, ok := l.credCache[[lockproto.CredentialRefSize]byte(req.CredentialRef)]
	return ok
}

// conclude logs a decision durably. If the log cannot be written the door
// stays shut: an unlock that leaves no trace is worse than a retry.
func (l *Lock) conclude(d Decision, granted, denied string) (Decision, error) {
	kind := denied
	if d.Granted {
		kind = granted
	}
	e, err := l.record(lockproto.Event{Kind: kind, Credential: d.Credential, PersonID: d.PersonID, Ref: d.Ref, Reason: d.Reason})
	if err != nil {
		l.log.Error("decision not logged; refusing", "kind", kind, "err", err)
		return Decision{Reason: "log_failed", Credential: d.Credential}, err
	}
	d.Seq = e.Seq
	l.log.Info("decision", "granted", d.Granted, "reason", d.Reason, "credential", d.Credential,
		"person", d.PersonID, "ref", d.Ref, "seq", d.Seq)
	return d, nil
}

func windowReason(now, notBefore, notAfter time.Time, s lockproto.Schedule, loc *time.Location) string {
	switch {
	case !notBefore.IsZero() && now.Before(notBefore):
		return ReasonNotYetValid
	case !notAfter.IsZero() && !now.Before(notAfter):
		return ReasonExpired
	case !s.Allows(now, loc):
		return ReasonOutsideSchedule
	}
	return ReasonOK
}
