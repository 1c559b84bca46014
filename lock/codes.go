package lock

import (
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
		for slot := range k.Slots {
			for _, kind := range []lockproto.GuestCodeKind{lockproto.DayCode, lockproto.QuarterHourCode} {
				g.codes[lockproto.GuestCode(k.Secret, kind, day, slot, int(k.Digits))] = guestRef{keyID: id, kind: kind, slot: slot}
			}
		}
	}
	l.today = g
	return g
}

// EnterCode decides a code typed at the keypad (§4.6): resident codes from
// bundles, then 15-minute codes already started on this lock, then today's
// day codes and 15-minute codes computed from the keys' secrets. Unknown
// codes count toward the keypad lockout.
func (l *Lock) EnterCode(code string) (Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	d := Decision{Credential: "doorcode"}
	if now.Before(l.rt.LockedUntil) {
		d.Reason = ReasonKeypadLocked
		return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	}
	if len(code) < 4 || len(code) > 9 || !allDigits(code) {
		return l.wrongCode(d, now, ReasonMalformed)
	}
	if e, ok := l.idx.codes[code]; ok {
		d.PersonID = e.PersonID
		d.Reason = windowReason(now, e.NotBefore, e.NotAfter, e.Schedule, l.loc)
		d.Granted = d.Reason == ReasonOK
		return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	}
	day := lockproto.DayNumber(now, l.loc)
	if d, ok, err := l.startedQuarterCode(code, now, day); ok {
		return d, err
	}
	ref, ok := l.guestCodesFor(day).codes[code]
	if !ok {
		return l.wrongCode(d, now, ReasonUnknownCode)
	}
	key := l.idx.dayKeys[ref.keyID]
	d.Ref = ref.keyID
	if ref.kind == lockproto.DayCode {
		d.Credential = "daycode"
		if !key.Schedule.Allows(now, l.loc) {
			d.Reason = ReasonOutsideSchedule
		} else {
			d.Granted, d.Reason = true, ReasonOK
		}
		return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	}
	d.Credential = "quartercode"
	if !key.Schedule.Allows(now, l.loc) {
		d.Reason = ReasonOutsideSchedule
		return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	}
	// First use: its 15 minutes start now, on this lock, and must survive a
	// power cycle or pulling the battery would restart them.
	next := l.rt.clone()
	next.Quarter[code] = quarterUse{KeyID: ref.keyID, Day: day, Slot: ref.slot, First: now}
	for c, q := range next.Quarter {
		if now.Sub(q.First) > 48*time.Hour {
			delete(next.Quarter, c)
		}
	}
	if err := l.saveRuntime(next); err != nil {
		return Decision{Reason: "flash_failed", Credential: d.Credential}, err
	}
	d.Granted, d.Reason = true, ReasonOK
	return l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
}

// startedQuarterCode handles a 15-minute code already used on this lock.
func (l *Lock) startedQuarterCode(code string, now time.Time, day int64) (Decision, bool, error) {
	q, ok := l.rt.Quarter[code]
	if !ok {
		return Decision{}, false, nil
	}
	key, ok := l.idx.dayKeys[q.KeyID]
	// The entry belongs to the code only while the key still computes it for
	// that day; otherwise it is some other code that happens to match.
	if !ok || lockproto.GuestCode(key.Secret, lockproto.QuarterHourCode, q.Day, q.Slot, int(key.Digits)) != code {
		return Decision{}, false, nil
	}
	d := Decision{Credential: "quartercode", Ref: q.KeyID}
	switch {
	case !now.Before(q.First.Add(lockproto.QuarterHourValidity)):
		d.Reason = ReasonExpired
	case !key.Schedule.Allows(now, l.loc):
		d.Reason = ReasonOutsideSchedule
	default:
		d.Granted, d.Reason = true, ReasonOK
	}
	d, err := l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	return d, true, err
}

// wrongCode counts a wrong code; the fifth within a minute locks the keypad
// for a minute (§4.6), so guessing a 7-digit code takes years.
func (l *Lock) wrongCode(d Decision, now time.Time, reason string) (Decision, error) {
	d.Reason = reason
	next := l.rt.clone()
	kept := next.Attempts[:0]
	for _, t := range next.Attempts {
		if now.Sub(t) < wrongCodeWindow {
			kept = append(kept, t)
		}
	}
	next.Attempts = append(kept, now)
	locked := len(next.Attempts) >= wrongCodeLimit
	if locked {
		next.LockedUntil = now.Add(keypadLockout)
		next.Attempts = nil
	}
	if err := l.saveRuntime(next); err != nil {
		return Decision{Reason: "flash_failed", Credential: d.Credential}, err
	}
	d, err := l.conclude(d, lockproto.EventCodeGranted, lockproto.EventCodeDenied)
	if err != nil || !locked {
		return d, err
	}
	l.log.Warn("keypad locked", "until", next.LockedUntil)
	if _, err := l.record(lockproto.Event{Kind: lockproto.EventKeypadLocked, Reason: keypadLockout.String()}); err != nil {
		return d, err
	}
	return d, nil
}

func (r *runtimeState) clone() *runtimeState {
	c := &runtimeState{
		Attempts:    append([]time.Time(nil), r.Attempts...),
		LockedUntil: r.LockedUntil,
		Quarter:     make(map[string]quarterUse, len(r.Quarter)),
	}
	for k, v := range r.Quarter {
		c.Quarter[k] = v
	}
	return c
}

func (l *Lock) saveRuntime(next *runtimeState) error {
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
