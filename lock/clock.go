package lock

import (
	"strconv"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// clockFile holds the lock's clock state. It is apart from the door state
// so that a time token (every unlock may carry one) rewrites a few dozen
// bytes, not every doorcode.
const clockFile = "clock"

const (
	// maxDriftRate is how fast a real-time clock may gain (100 ppm: crystals
	// are ±20 ppm, the rest is temperature and age). Pull-back beyond the
	// drift tolerance is allowed only at this rate, so late bundles and old
	// tokens cannot add up to a lagging clock.
	maxDriftRate = 100e-6
	// rtcBackSlack absorbs an RTC read racing a concurrent read; anything
	// further back is a reset.
	rtcBackSlack = 2 * time.Second
	// persistStep: a trusted time that moves the clock less than this is
	// kept in memory only (flash wear: nearly every unlock carries a token).
	persistStep = time.Second
	// knownStep: the persisted last known time (the base after an RTC
	// reset) is refreshed by tokens at most this often.
	knownStep = time.Minute
)

// ReasonNoTrustedTime refuses anything that expires while the lock does
// not know the time (§4.11): after an RTC reset, until a signed time returns.
// ReasonOverCeiling refuses a credential issued for longer than the
// property's credential lifetime the lock was told.
const (
	ReasonNoTrustedTime = "no_trusted_time"
	ReasonOverCeiling   = "lifetime_over_ceiling"
)

// clockState is the lock's time, persisted (§4.7, §4.11). Lock time is
// RTC + Offset, never earlier than TrustedTime.
type clockState struct {
	// TrustedTime is the newest signed time accepted in this epoch.
	TrustedTime time.Time
	Offset      time.Duration
	Epoch       uint64
	// HighOffset is the most advanced offset a signed time set, at RTC
	// reading HighRTC: the clock never runs more than the drift tolerance
	// (plus maxDriftRate since then) behind it, however many late times
	// arrive. This bounds the TOTAL pull-back.
	HighOffset time.Duration
	HighRTC    time.Time
	// LastRTC is the RTC reading when this was written: a lower reading at
	// boot means the RTC was reset.
	LastRTC time.Time
	// Known is a lower bound of the true time when this was written.
	Known time.Time
	// Untrusted: the RTC was reset and no signed time arrived since. Lock
	// time then counts RTC seconds from the last known time — a lower
	// bound, good for keypad lockouts and logs, not for expiries.
	Untrusted bool
}

// lockTime is the clock's reading at RTC reading rtc.
func (c *clockState) lockTime(rtc time.Time) time.Time {
	t := rtc.Add(c.Offset)
	if t.Before(c.TrustedTime) {
		return c.TrustedTime
	}
	return t
}

// minOffset is the lowest offset a same-epoch signed time may set at rtc.
func (c *clockState) minOffset(rtc time.Time, tolerance time.Duration) time.Duration {
	drift := time.Duration(float64(rtc.Sub(c.HighRTC)) * maxDriftRate)
	if drift < 0 {
		drift = 0
	}
	return c.HighOffset - tolerance - drift
}

// reset puts the clock in untrusted mode at RTC reading rtc: it continues
// from the best lower bound of the time it has.
func (c *clockState) reset(rtc, lastKnown time.Time) {
	base := c.TrustedTime
	if c.Known.After(base) {
		base = c.Known
	}
	if lastKnown.After(base) {
		base = lastKnown
	}
	c.Untrusted = true
	c.Offset = base.Sub(rtc)
	c.HighOffset, c.HighRTC, c.Known = c.Offset, rtc, base
}

// accept judges a signed time t of epoch (from a bundle or a time token) at
// RTC reading rtc and returns the clock after it, whether it changed enough
// to persist, and the event to log (nil for routine corrections).
//
//   - A higher epoch is the cloud correcting a bad time it once signed: it
//     is taken as is, even far back.
//   - A lower epoch is ignored.
//   - Untrusted (RTC reset): any time not before the last known time.
//   - Otherwise forward freely; back only within the drift tolerance, and
//     never below minOffset — so the total pull-back stays bounded.
func (c clockState) accept(rtc, t time.Time, epoch uint64, tolerance time.Duration) (clockState, bool, *lockproto.Event) {
	cur := c.lockTime(rtc)
	delta := t.Sub(cur)
	ignored := func(why string) (clockState, bool, *lockproto.Event) {
		return c, false, &lockproto.Event{Kind: lockproto.EventTimeIgnored, Reason: why}
	}
	set := func(n clockState, why string) (clockState, bool, *lockproto.Event) {
		n.Offset = t.Sub(rtc)
		if n.Offset > n.HighOffset-time.Duration(float64(rtc.Sub(n.HighRTC))*maxDriftRate) || why != "" {
			n.HighOffset, n.HighRTC = n.Offset, rtc
		}
		if t.After(n.TrustedTime) || why != "" {
			n.TrustedTime = t
		}
		n.Untrusted = false
		n.Known = t
		if why == "" && (delta > 2*time.Second || delta < -2*time.Second) {
			why = delta.Round(time.Second).String()
		}
		moved := n.Offset - c.Offset
		persist := why != "" || moved >= persistStep || moved <= -persistStep || n.TrustedTime.Sub(c.Known) >= knownStep
		if why == "" {
			return n, persist, nil
		}
		return n, persist, &lockproto.Event{Kind: lockproto.EventTimeSet, Reason: why}
	}
	switch {
	case epoch > c.Epoch:
		n := c
		n.Epoch = epoch
		n.TrustedTime, n.Known = time.Time{}, time.Time{}
		return set(n, "epoch "+strconv.FormatUint(epoch, 10)+" "+delta.Round(time.Second).String())
	case epoch < c.Epoch:
		return ignored("old epoch " + strconv.FormatUint(epoch, 10))
	case c.Untrusted:
		if t.Before(cur) {
			return ignored("before last known time " + delta.Round(time.Second).String())
		}
		return set(c, "trusted again "+delta.Round(time.Second).String())
	case delta < -tolerance:
		return ignored(delta.Round(time.Second).String())
	case t.Sub(rtc) < c.minOffset(rtc, tolerance):
		return ignored("pull-back limit " + delta.Round(time.Second).String())
	}
	return set(c, "")
}

// now is the lock's clock. A reading of the RTC below one seen before is a
// reset while running: the clock goes untrusted, continuing from where it
// was.
func (l *Lock) now() time.Time {
	rtc := l.opts.Clock.Now()
	if !l.rtcSeen.IsZero() && rtc.Before(l.rtcSeen.Add(-rtcBackSlack)) {
		last := l.clk.lockTime(l.rtcSeen)
		l.clk.reset(rtc, last)
		l.log.Warn("RTC went backwards: no trusted time until a signed time arrives", "rtc", rtc, "last_known", last)
		l.rtcSeen = rtc
		// Persisted at the next write; a reboot before that finds the RTC
		// below the persisted reading and detects the reset again.
	}
	if rtc.After(l.rtcSeen) {
		l.rtcSeen = rtc
	}
	return l.clk.lockTime(rtc)
}

// bootClock loads the clock (or, on a lock provisioned before the clock
// file existed, takes it from the door state) and detects an RTC reset
// while the power was off.
func bootClock(fsys FS, rtc time.Time, st *doorState, rt *runtimeState, tolerance time.Duration) (clockState, error) {
	var c clockState
	if err := readChecked(fsys, clockFile, &c); err != nil {
		if !isNotExist(err) {
			return c, err
		}
		c = clockState{TrustedTime: st.TrustedTime, Offset: st.ClockOffset, HighOffset: st.ClockOffset, HighRTC: rtc, LastRTC: rtc}
		if err := writeAtomic(fsys, clockFile, &c); err != nil {
			return c, err
		}
	}
	if !c.Untrusted && (rtc.Before(c.LastRTC.Add(-rtcBackSlack)) || rtc.Add(c.Offset).Before(c.TrustedTime.Add(-tolerance-rtcBackSlack))) {
		c.reset(rtc, rt.Known)
		c.LastRTC = rtc
		if err := writeAtomic(fsys, clockFile, &c); err != nil {
			return c, err
		}
	} else if c.Untrusted && rtc.Before(c.LastRTC.Add(-rtcBackSlack)) {
		// Reset again while untrusted: continue from the last known time.
		c.reset(rtc, rt.Known)
		c.LastRTC = rtc
		if err := writeAtomic(fsys, clockFile, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// saveClock persists c and makes it current.
func (l *Lock) saveClock(c clockState) error {
	rtc := l.opts.Clock.Now()
	c.LastRTC = rtc
	if k := c.lockTime(rtc); k.After(c.Known) {
		c.Known = k
	}
	if err := writeAtomic(l.opts.FS, clockFile, &c); err != nil {
		return err
	}
	l.clk = c
	return nil
}

// OfferTime takes a cloud-signed time token (lockproto.TimeToken) that a
// phone carries in an unlock, so a lock whose RTC was reset trusts its
// clock again at the first unlock. An empty token is no offer. A token that
// does not verify is an error and changes nothing; an authentic token the
// rules refuse (older epoch, too far back) is ignored without error.
func (l *Lock) OfferTime(token []byte) error {
	if len(token) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tok, err := lockproto.VerifyTimeToken(l.keys.propertyPub, token)
	if err != nil {
		return err
	}
	cur := l.now()
	routine := !l.clk.Untrusted && tok.Epoch == l.clk.Epoch
	if tok.Epoch < l.clk.Epoch || (routine && !tok.Time.After(cur)) {
		// Phones carry tokens hours old, and anyone may send one before
		// proving anything: a token never pulls a trusted clock back and
		// an old one is not logged, so replayed tokens cannot fill the log.
		return nil
	}
	next, persist, ev := l.clk.accept(l.opts.Clock.Now(), tok.Time, tok.Epoch, l.opts.DriftTolerance)
	if ev != nil && ev.Kind == lockproto.EventTimeIgnored {
		return nil
	}
	if routine && tok.Time.Sub(cur) <= l.opts.DriftTolerance {
		// Drift corrected silently; only a jump past the tolerance is
		// logged, and each needs a token newer than the last.
		ev = nil
	}
	if persist {
		if err := l.saveClock(next); err != nil {
			l.log.Error("time token not applied: flash write failed", "err", err)
			return lockproto.ErrInternal
		}
	} else {
		l.clk = next
	}
	if ev != nil {
		l.log.Info("time token", "event", ev.Kind, "reason", ev.Reason)
		if _, err := l.record(*ev); err != nil {
			return err
		}
	}
	return nil
}

// credentialTimeReason judges a phone credential's time at lock time now:
// refused with no trusted time (every credential expires), over the
// lifetime ceiling, or outside its window. "" means it passes.
func (l *Lock) credentialTimeReason(c *lockproto.Credential, now time.Time) string {
	switch {
	case l.clk.Untrusted:
		return ReasonNoTrustedTime
	case !c.WithinCeiling(l.st.MaxCredLifetime):
		return ReasonOverCeiling
	case now.Before(c.NotBefore):
		return ReasonNotYetValid
	case !now.Before(c.NotAfter):
		return ReasonExpired
	}
	return ""
}

// entryReason judges a doorcode or keycard entry's window and schedule.
// With no trusted time only permanent entries (no end, no schedule) pass:
// nobody is locked out of their home, and nothing that expires opens.
// NotBefore is still judged: the untrusted clock is a lower bound.
func (l *Lock) entryReason(now, notBefore, notAfter time.Time, s lockproto.Schedule) string {
	if l.clk.Untrusted && (!notAfter.IsZero() || len(s) > 0) {
		return ReasonNoTrustedTime
	}
	return windowReason(now, notBefore, notAfter, s, l.loc)
}
