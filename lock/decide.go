package lock

import (
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
	ReasonUnknownCode      = "unknown_code"
	ReasonKeypadLocked     = "keypad_locked"
	ReasonUnknownCard      = "unknown_card"
)

// Challenge issues a fresh challenge (§4.3). Each nonce can be answered once,
// within the challenge lifetime.
func (l *Lock) Challenge() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Clock.Now()
	if len(l.challenges) >= maxChallenges {
		var oldest string
		for n, exp := range l.challenges {
			if oldest == "" || exp.Before(l.challenges[oldest]) {
				oldest = n
			}
		}
		delete(l.challenges, oldest)
	}
	ch, err := lockproto.NewChallenge(l.prov.LockID, l.st.Version, l.events.next())
	if err != nil {
		return nil, err
	}
	// Challenge lifetime runs on the raw RTC: it is a short interval, and
	// must not jump when a bundle corrects the clock.
	l.challenges[string(ch.Nonce)] = now.Add(l.opts.ChallengeTTL)
	return ch.Encode()
}

// Unlock decides a phone's answer to a challenge and returns the encoded
// result. The error is reserved for the lock failing (flash); a refusal is a
// result with Granted false.
func (l *Lock) Unlock(request []byte) ([]byte, error) {
	d, err := l.UnlockDecision(request)
	if err != nil {
		return nil, err
	}
	res := lockproto.UnlockResult{V: lockproto.Version, Granted: d.Granted, Reason: d.Reason, Seq: d.Seq}
	return res.Encode()
}

// UnlockDecision is Unlock with the decision as a value.
func (l *Lock) UnlockDecision(request []byte) (Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.decideUnlock(request)
	d.Credential = "app"
	return l.conclude(d, lockproto.EventUnlockGranted, lockproto.EventUnlockDenied)
}

// decideUnlock makes the checks of §4.3 in order; each refusal names the
// first check that failed.
func (l *Lock) decideUnlock(request []byte) Decision {
	req, err := lockproto.DecodeUnlockRequest(request)
	if err != nil {
		return Decision{Reason: ReasonMalformed}
	}
	// 1. The nonce must be one this lock issued, still fresh, and unused. It
	//    is consumed before anything else so a failed answer cannot be retried.
	exp, ok := l.challenges[string(req.Nonce)]
	delete(l.challenges, string(req.Nonce))
	if !ok || l.opts.Clock.Now().After(exp) {
		return Decision{Reason: ReasonUnknownChallenge}
	}
	// 2. The credential must carry the property's signature.
	cred, err := l.verifyCredential(req.Credential)
	if err != nil {
		return Decision{Reason: ReasonBadCredential}
	}
	d := Decision{PersonID: cred.PersonID, Ref: fmt.Sprint(cred.Serial)}
	// 3. It must name this lock.
	access, ok := cred.Access(l.prov.LockID)
	if !ok {
		d.Reason = ReasonOtherLock
		return d
	}
	// 4. The phone must hold the device key the credential names, and have
	//    signed this nonce for this lock.
	if !req.VerifyDevice(cred.DeviceKey, l.prov.LockID) {
		d.Reason = ReasonBadDeviceSig
		return d
	}
	// 5. Validity window, by the lock's trusted clock only.
	now := l.now()
	if now.Before(cred.NotBefore) {
		d.Reason = ReasonNotYetValid
		return d
	}
	if !now.Before(cred.NotAfter) {
		d.Reason = ReasonExpired
		return d
	}
	// 6. Revocations carried by bundles refuse credentials issued before them.
	if l.idx.revoked(cred) {
		d.Reason = ReasonRevoked
		return d
	}
	// 7. The weekly schedule at this door, in the property's time zone.
	if !access.Schedule.Allows(now, l.loc) {
		d.Reason = ReasonOutsideSchedule
		return d
	}
	d.Granted, d.Reason = true, ReasonOK
	return d
}

// verifyCredential checks the property signature, remembering credentials it
// verified before so a phone's repeated unlocks cost one signature check.
// The cache holds only signature-verified content; every time, revocation
// and lock check still runs on each use.
func (l *Lock) verifyCredential(b []byte) (*lockproto.Credential, error) {
	key := credDigest(b)
	if c, ok := l.credCache[key]; ok {
		return c, nil
	}
	c, err := lockproto.VerifyCredential(l.prov.PropertyPublicKey, b)
	if err != nil {
		return nil, err
	}
	if len(l.credCache) >= maxCredCache {
		clear(l.credCache)
	}
	l.credCache[key] = c
	return c, nil
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
