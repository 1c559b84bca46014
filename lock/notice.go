package lock

import (
	"fmt"
	"slices"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// suspendFile holds the people revocation notices suspended (notice.go in
// lockproto): a notice refuses them before the door's bundle arrives.
const suspendFile = "suspended"

// suspension is one person suspended by one notice: refused until the lock
// holds door version Until or its trusted clock reaches Expires.
type suspension struct {
	PersonID string
	Until    uint64
	Expires  time.Time
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
		out[s.PersonID] = append(out[s.PersonID], s)
	}
	return out, nil
}

// suspended reports whether a notice still refuses person: the lock has
// not applied the version it named and it has not run out.
func (l *Lock) suspended(person string, now time.Time) bool {
	if person == "" {
		return false
	}
	for _, s := range l.susp[person] {
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
// remote unlocks until the lock applies that version. The suspension is
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
	var st suspendState
	for _, ss := range l.susp {
		for _, s := range ss {
			if l.active(s, now) {
				next[s.PersonID] = append(next[s.PersonID], s)
				st.Suspended = append(st.Suspended, s)
			}
		}
	}
	added := 0
	for _, p := range n.Persons {
		s := suspension{PersonID: p, Until: until, Expires: expires}
		// A suspension in force that holds at least as long makes this one
		// moot: a replay of the same notice (broker, relay) before its
		// bundle arrives adds nothing, writes nothing and logs nothing,
		// so it can neither grow the file nor flood the log.
		if slices.ContainsFunc(next[p], func(o suspension) bool { return o.Until >= until && !o.Expires.Before(expires) }) {
			continue
		}
		next[p] = append(next[p], s)
		st.Suspended = append(st.Suspended, s)
		added++
	}
	if added == 0 {
		return nil
	}
	if err := writeAtomic(l.opts.FS, suspendFile, &st); err != nil {
		l.log.Error("revocation notice not applied: flash write failed", "err", err)
		return fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	l.susp = next
	e := lockproto.Event{Kind: lockproto.EventNoticeApplied, Version: until, Ref: fmt.Sprint(len(n.Persons))}
	if len(n.Persons) == 1 {
		e.PersonID = n.Persons[0]
	}
	if _, err := l.record(e); err != nil {
		// The suspension is on flash and in force: refusing is the safe side.
		l.log.Error("event log write failed", "err", err)
	}
	l.log.Info("revocation notice applied", "people", len(n.Persons), "until", until)
	return nil
}
