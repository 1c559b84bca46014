package lock

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// suspendFile holds what revocation notices suspended (notice.go in
// lockproto): a notice refuses people, guest codes of day keys, keycard
// serials and people's doorcodes before the door's bundle arrives.
const suspendFile = "suspended"

// suspension is one name suspended by one notice — a person, a day key's
// guest codes, a keycard serial, or a person's doorcodes (exactly one of
// the four is set) — refused until the lock holds door version Until or
// its trusted clock reaches Expires. Files written before the last three
// existed hold PersonID only.
type suspension struct {
	PersonID string
	DayKey   string `cbor:",omitempty"`
	Card     string `cbor:",omitempty"`
	// Doorcode is a person id whose resident doorcodes are refused.
	Doorcode string `cbor:",omitempty"`
	Until    uint64
	Expires  time.Time
}

// The kinds of name a suspension holds, prefixed to its key in Lock.susp
// (person ids, key ids and serials may look alike).
const (
	suspPerson = "p:"
	suspDayKey = "k:"
	suspCard   = "c:"
	suspCode   = "d:"
)

func (s suspension) key() string {
	switch {
	case s.DayKey != "":
		return suspDayKey + s.DayKey
	case s.Card != "":
		return suspCard + s.Card
	case s.Doorcode != "":
		return suspCode + s.Doorcode
	}
	return suspPerson + s.PersonID
}

type suspendState struct {
	Suspended []suspension
}

// loadSuspensions reads the suspensions kept on flash (none when the file
// does not exist: a lock that never received a notice).
func loadSuspensions(fsys FS) (map[string][]suspension, error) {
	var st suspendState
	if err := readChecked(fsys, suspendFile, &st); err != nil {
		if isNotExist(err) {
			return map[string][]suspension{}, nil
		}
		return nil, err
	}
	out := make(map[string][]suspension, len(st.Suspended))
	for _, s := range st.Suspended {
		out[s.key()] = append(out[s.key()], s)
	}
	return out, nil
}

// suspended reports whether a notice still refuses person: the lock has
// not applied the version it named and it has not run out.
func (l *Lock) suspended(person string, now time.Time) bool {
	return person != "" && l.suspendedName(suspPerson+person, now)
}

// suspendedDayKey reports whether a notice still refuses the guest codes
// of day key keyID.
func (l *Lock) suspendedDayKey(keyID string, now time.Time) bool {
	return keyID != "" && l.suspendedName(suspDayKey+keyID, now)
}

// suspendedCard reports whether a notice still refuses keycard serial.
func (l *Lock) suspendedCard(serial string, now time.Time) bool {
	return serial != "" && l.suspendedName(suspCard+serial, now)
}

// suspendedDoorcode reports whether a notice still refuses person's
// resident doorcodes (by a doorcode reset, or the person's revocation).
func (l *Lock) suspendedDoorcode(person string, now time.Time) bool {
	return person != "" && (l.suspendedName(suspCode+person, now) || l.suspendedName(suspPerson+person, now))
}

func (l *Lock) suspendedName(key string, now time.Time) bool {
	for _, s := range l.susp[key] {
		if l.active(s, now) {
			return true
		}
	}
	return false
}

func (l *Lock) active(s suspension, now time.Time) bool {
	return s.Until > l.st.Version && now.Before(s.Expires)
}

// ApplyNotice takes a sealed revocation notice from the lock's bundle
// topic: opened under the lock's symmetric key (addressed to this lock,
// envelope intact), signed by the property key; then, unless the lock
// already holds the door version it names or the notice ran out
// (lockproto.NoticeLife by the trusted clock) — both ErrStale, nothing
// logged, so replays cannot fill the log — every person it names is
// refused (reason "revoked") for app unlocks, doorcodes, keycards and
// remote unlocks, every guest code of the day keys it names, every
// keycard serial it names and the doorcodes of the people it names for
// that, until the lock applies that version. The suspension is
// written to flash before ApplyNotice returns (a power cut keeps it or
// never took it) and logged as notice.applied. A notice that adds no
// suspension beyond those in force (the same notice replayed before its
// bundle) returns nil and writes and logs nothing. A notice sends no answer:
// the bundle that follows is acknowledged as usual.
func (l *Lock) ApplyNotice(sealed []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, until, err := lockproto.OpenRevocationNotice(l.keys.propertyPub, l.prov.LockID, l.keys.sym, sealed)
	if err != nil {
		l.log.Warn("revocation notice refused", "reason", lockproto.ErrorCode(err), "err", err)
		if _, lerr := l.record(lockproto.Event{Kind: lockproto.EventBundleRefused, Reason: "notice_" + lockproto.ErrorCode(err)}); lerr != nil {
			l.log.Error("event log write failed", "err", lerr)
		}
		return err
	}
	now := l.now()
	expires := n.IssuedAt.Add(lockproto.NoticeLife)
	switch {
	case until <= l.st.Version:
		return fmt.Errorf("%w: revocation notice until version %d, lock at %d", lockproto.ErrStale, until, l.st.Version)
	case !now.Before(expires):
		return fmt.Errorf("%w: revocation notice issued %s, older than %s", lockproto.ErrStale, n.IssuedAt.UTC().Format(time.RFC3339), lockproto.NoticeLife)
	}
	// What stays: every suspension still in force, then this notice's.
	next := map[string][]suspension{}
	for _, ss := range l.susp {
		for _, s := range ss {
			if l.active(s, now) {
				next[s.key()] = append(next[s.key()], s)
			}
		}
	}
	named := make([]suspension, 0, n.Names())
	for _, p := range n.Persons {
		named = append(named, suspension{PersonID: p})
	}
	for _, k := range n.DayKeys {
		named = append(named, suspension{DayKey: k})
	}
	for _, c := range n.Cards {
		named = append(named, suspension{Card: c})
	}
	for _, p := range n.Doorcodes {
		named = append(named, suspension{Doorcode: p})
	}
	added := 0
	for _, s := range named {
		s.Until, s.Expires = until, expires
		k := s.key()
		// A suspension in force that holds at least as long makes this one
		// moot: a replay of the same notice (broker, relay) before its
		// bundle arrives adds nothing, writes nothing and logs nothing,
		// so it can neither grow the file nor flood the log.
		if slices.ContainsFunc(next[k], func(o suspension) bool { return o.Until >= until && !o.Expires.Before(expires) }) {
			continue
		}
		// And this one makes moot those it outlasts: a name suspended again
		// and again (a resident resetting their doorcode while the door's
		// bundles are held back) keeps one entry, not one per notice.
		next[k] = append(slices.DeleteFunc(next[k], func(o suspension) bool { return o.Until <= until && !o.Expires.After(expires) }), s)
		added++
	}
	if added == 0 {
		return nil
	}
	var st suspendState
	for _, k := range slices.Sorted(maps.Keys(next)) {
		st.Suspended = append(st.Suspended, next[k]...)
	}
	if err := writeAtomic(l.opts.FS, suspendFile, &st); err != nil {
		l.log.Error("revocation notice not applied: flash write failed", "err", err)
		return fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	l.susp = next
	e := lockproto.Event{Kind: lockproto.EventNoticeApplied, Version: until, Ref: fmt.Sprint(n.Names())}
	if len(n.Persons) == 1 && n.Names() == 1 {
		e.PersonID = n.Persons[0]
	}
	if _, err := l.record(e); err != nil {
		// The suspension is on flash and in force: refusing is the safe side.
		l.log.Error("event log write failed", "err", err)
	}
	l.log.Info("revocation notice applied", "people", len(n.Persons), "day_keys", len(n.DayKeys), "cards", len(n.Cards), "doorcodes", len(n.Doorcodes), "until", until)
	return nil
}
