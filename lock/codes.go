package lock

import (
	"fmt"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// guestCodes is today's computed guest codes, so a keypad entry is a map
// lookup rather than an HMAC per key and slot.
type guestCodes struct {
	day   int64
	codes map[string]guestRef
}

type guestRef struct {
	keyID string
	kind  lockproto.GuestCodeKind
	slot  uint16
}

func (l *Lock) guestCodesFor(day int64) *guestCodes {
	if l.today != nil && l.today.day == day {
		return l.today
	}
	g := &guestCodes{day: day, codes: map[string]guestRef{}}
	for id, k := range l.idx.dayKeys {
		// Only the active slots: an unallocated slot's code opens nothing.
		for _, slot := range k.ActiveSlots {
			for _, kind := range []lockproto.GuestCodeKind{lockproto.DayCode, lockproto.QuarterHourCode} {
				g.codes[lockproto.GuestCode(k.Secret, kind, day, slot, int(k.Digits))] = guestRef{keyID: id, kind: kind, slot: slot}
			}
		}
	}
	l.today = g
	return g
}

// Keypad limits (§4.6). A typist gets a few tries; a guesser gets few per
// day: the short window trips on a burst, the long one on a slow drip (4 a
// minute never tripped the old one-minute window), and each lockout in a
// row doubles the next, up to maxLockout. docs/bench-lock.md computes the
// guesses per day and the expected time to guess a code.
const (
	shortWindow = 10 * time.Minute
	shortLimit  = 5
	longWindow  = 24 * time.Hour
	longLimit   = 20
	// baseLockout doubles per strike up to maxLockout; strikes are forgotten
	// after strikeMemory without a lockout.
	baseLockout  = time.Minute
	maxLockout   = 4 * time.Hour
	strikeMemory = 24 * time.Hour
	// alertStrikes: from this lockout in a row on, and whenever the long
	// window trips, the lock logs keypad.alert for the manager.
	alertStrikes = 2
)

// EnterCode decides a code typed at the keypad (§4.6). The attempt is
// counted on flash BEFORE the code is judged, in one write that also holds
// the lockout this attempt triggers if it is wrong: cutting the power once
// the lock starts judging cannot give an uncounted guess or skip a
// lockout. A code the lock knows is then uncounted (a second write; a cut
// there merely leaves the attempt counted). Then: resident codes from
// bundles, 15-minute codes already started on this lock, today's guest
// codes of the active slots.
func (l *Lock) EnterCode(code string) (Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	d := Decision{Credential: "doorcode"}
	if now.Before(l.rt.LockedUntil) {
		d.Reason = ReasonKeypadLocked
		return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	}
	before := l.rt
	counted := before.clone()
	counted.Attempts = append(keepSince(counted.Attempts, now.Add(-longWindow)), now)
	lockout, alert := counted.trip(now)
	if err := l.saveRuntime(counted); err != nil {
		return Decision{Reason: "flash_failed", Credential: d.Credential}, err
	}
	d, known, start := l.judgeCode(code, now)
	if !known {
		return l.wrongCode(d, lockout, alert)
	}
	next := before.clone()
	next.Attempts = keepSince(next.Attempts, now.Add(-longWindow))
	if start != nil {
		// First use of a 15-minute code: its 15 minutes start now, on this
		// lock, and must survive a power cycle or pulling the battery would
		// restart them — so the door opens only once this is on flash.
		next.Quarter[l.hashCode(code)] = *start
		for c, q := range next.Quarter {
			if now.Sub(q.First) > 48*time.Hour {
				delete(next.Quarter, c)
			}
		}
	}
	if err := l.saveRuntime(next); err != nil {
		if start != nil {
			return Decision{Reason: "flash_failed", Credential: d.Credential}, err
		}
		l.log.Error("keypad attempt not uncounted: flash write failed", "err", err)
	}
	return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
}

// judgeCode decides code without writing anything. known reports a code
// the lock recognises (granted or refused for its window); start is the
// first use of a 15-minute code, to be persisted before the door opens.
func (l *Lock) judgeCode(code string, now time.Time) (d Decision, known bool, start *quarterUse) {
	d = Decision{Credential: "doorcode"}
	if len(code) < 4 || len(code) > 9 || !allDigits(code) {
		d.Reason = ReasonMalformed
		return d, false, nil
	}
	if e, ok := l.idx.codes[l.hashCode(code)]; ok {
		d.PersonID = e.PersonID
		d.Reason = l.entryReason(now, e.NotBefore, e.NotAfter, e.Schedule)
		if l.suspendedDoorcode(e.PersonID, now) {
			d.Reason = ReasonRevoked // a revocation notice, ahead of its bundle
		}
		d.Granted = d.Reason == ReasonOK
		return d, true, nil
	}
	if l.clk.Untrusted {
		// Guest codes are all day- or minute-bound: with no trusted time the
		// lock cannot tell today's from last month's.
		d.Reason = ReasonNoTrustedTime
		return d, false, nil
	}
	day := lockproto.DayNumber(now, l.loc)
	if qd, ok := l.startedQuarterCode(code, now); ok {
		return qd, true, nil
	}
	ref, ok := l.guestCodesFor(day).codes[code]
	if !ok {
		d.Reason = ReasonUnknownCode
		return d, false, nil
	}
	key := l.idx.dayKeys[ref.keyID]
	d.Ref = ref.keyID
	d.Credential = "daycode"
	if ref.kind == lockproto.QuarterHourCode {
		d.Credential = "quartercode"
	}
	if l.suspendedDayKey(ref.keyID, now) {
		// A revocation notice ended a guest code of this key: the day
		// secret it is computed from is being replaced. Known (not a
		// guess), refused, and no 15-minute window starts.
		d.Reason = ReasonRevoked
		return d, true, nil
	}
	if !key.Schedule.Allows(now, l.loc) {
		d.Reason = ReasonOutsideSchedule
		return d, true, nil
	}
	d.Granted, d.Reason = true, ReasonOK
	if ref.kind == lockproto.QuarterHourCode {
		start = &quarterUse{KeyID: ref.keyID, Day: day, Slot: ref.slot, First: now}
	}
	return d, true, start
}

// startedQuarterCode judges a 15-minute code already used on this lock.
func (l *Lock) startedQuarterCode(code string, now time.Time) (Decision, bool) {
	q, ok := l.rt.Quarter[l.hashCode(code)]
	if !ok {
		return Decision{}, false
	}
	key, ok := l.idx.dayKeys[q.KeyID]
	// The entry belongs to the code only while the key still computes it for
	// that day on an active slot; otherwise it is some other code that
	// happens to match.
	if !ok || !key.SlotActive(q.Slot) || lockproto.GuestCode(key.Secret, lockproto.QuarterHourCode, q.Day, q.Slot, int(key.Digits)) != code {
		return Decision{}, false
	}
	d := Decision{Credential: "quartercode", Ref: q.KeyID}
	switch {
	case l.suspendedDayKey(q.KeyID, now):
		d.Reason = ReasonRevoked // a revocation notice, ahead of its bundle
	case !now.Before(q.First.Add(lockproto.QuarterHourValidity)):
		d.Reason = ReasonExpired
	case !key.Schedule.Allows(now, l.loc):
		d.Reason = ReasonOutsideSchedule
	default:
		d.Granted, d.Reason = true, ReasonOK
	}
	return d, true
}

// trip applies the limits to the attempts counted (the newest included)
// as if the newest is wrong: a burst (shortLimit in shortWindow) or a slow
// stream (longLimit in longWindow) locks the keypad, each lockout in a row
// twice as long as the one before, up to maxLockout. The attempts stay
// counted, so once a window is full every further wrong code within it
// locks again. It returns the lockout set (0: none) and an alert reason.
func (r *runtimeState) trip(now time.Time) (time.Duration, string) {
	short := len(keepSince(r.Attempts, now.Add(-shortWindow)))
	long := len(r.Attempts)
	if short < shortLimit && long < longLimit {
		return 0, ""
	}
	if now.Sub(r.LastLockout) >= strikeMemory {
		r.Strikes = 0
	}
	r.Strikes++
	lockout := maxLockout
	if r.Strikes <= 20 {
		lockout = min(maxLockout, baseLockout<<(r.Strikes-1))
	}
	r.LockedUntil, r.LastLockout = now.Add(lockout), now
	if r.Strikes >= alertStrikes || long >= longLimit {
		return lockout, fmt.Sprintf("lockout %d in a row; %d wrong codes in 24h", r.Strikes, long)
	}
	return lockout, ""
}

// wrongCode logs a wrong code and the lockout (and alert) it triggered;
// both are already on flash.
func (l *Lock) wrongCode(d Decision, lockout time.Duration, alert string) (Decision, error) {
	d, err := l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	if err != nil || lockout == 0 {
		return d, err
	}
	l.log.Warn("keypad locked", "for", lockout, "strikes", l.rt.Strikes)
	if _, err := l.record(lockproto.Event{Kind: lockproto.EventKeypadLocked, Reason: lockout.String()}); err != nil {
		return d, err
	}
	if alert != "" {
		l.log.Warn("keypad alert: codes are being guessed", "reason", alert)
		if _, err := l.record(lockproto.Event{Kind: lockproto.EventKeypadAlert, Reason: alert}); err != nil {
			return d, err
		}
	}
	return d, nil
}

// keepSince returns the times of ts not before since (ts is in order).
func keepSince(ts []time.Time, since time.Time) []time.Time {
	for i, t := range ts {
		if !t.Before(since) {
			return ts[i:]
		}
	}
	return nil
}

func (r *runtimeState) clone() *runtimeState {
	c := &runtimeState{
		Attempts:    append([]time.Time(nil), r.Attempts...),
		LockedUntil: r.LockedUntil,
		Strikes:     r.Strikes,
		LastLockout: r.LastLockout,
		Quarter:     make(map[string]quarterUse, len(r.Quarter)),

		RemoteCounter: r.RemoteCounter,
		RemoteSeen:    r.RemoteSeen,
	}
	for k, v := range r.Quarter {
		c.Quarter[k] = v
	}
	return c
}

func (l *Lock) saveRuntime(next *runtimeState) error {
	next.Known = l.now()
	if err := writeAtomic(l.opts.FS, runtimeFile, next); err != nil {
		return err
	}
	l.rt = next
	return nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
