// Package lock is the door lock firmware: it decides every unlock itself from
// signed data (DESIGN.md §4) and keeps what it knows on flash so that a power
// cut at any write leaves it at the old door-state version or the new one.
//
// Lock speaks only wire bytes at its edges (OpenSession and Session.Handle
// for phones, ApplyBundleWithEvents — the ack carrying the new events — and
// EventsSince for an online lock's MQTT link),
// so any transport can feed it: the simulated BLE link, MQTT for online
// locks, or a test calling it directly.
package lock

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Clock is the lock's real-time clock. It is not trusted: the lock corrects
// it only from cloud-signed times and never lets it run backwards past the
// last trusted time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Defaults of Options.
const (
	DefaultDriftTolerance = 2 * time.Minute
	DefaultLogRetention   = 10000
	DefaultChallengeTTL   = 10 * time.Second
	DefaultDenialWindow   = 15 * time.Minute
	maxCredCache          = 256
)

// Options configure Open. Only FS is required.
type Options struct {
	FS     FS
	Clock  Clock        // default: the host clock
	Logger *slog.Logger // every decision is logged here
	// DriftTolerance is how far a trusted time may move the clock back: RTC
	// drift between syncs, not a phone's opinion.
	DriftTolerance time.Duration
	LogRetention   int           // events kept for collection
	ChallengeTTL   time.Duration // how long after the handshake the phone's proof may arrive
	// DenialWindow is how long identical denials are folded into one
	// aggregate event (see eventlog.go).
	DenialWindow time.Duration
}

// Lock is one lock's firmware. It is safe for concurrent use.
type Lock struct {
	mu     sync.Mutex
	opts   Options
	log    *slog.Logger
	prov   *lockproto.Provisioning
	keys   keys // in force: provisioned, or as the last rotation left them
	loc    *time.Location
	st     *doorState
	idx    *entries
	rt     *runtimeState
	events *eventLog

	credCache map[[lockproto.CredentialRefSize]byte]cachedCred
	today     *guestCodes
	// xfer is the chunked bundle being assembled (transfer.go), loaded
	// from flash at its first use.
	xfer       *transfer
	xferLoaded bool

	// hashCode is the keyed hash doorcodes are kept and looked up by.
	hashCode func(string) string
	clk      clockState
	rtcSeen  time.Time // highest RTC reading since boot

	// susp is what revocation notices suspended (notice.go), by name:
	// suspension.key(), a kind prefix and the person, key or serial;
	// entries the lock's version or clock made moot stay until the next
	// notice rewrites the file.
	susp map[string][]suspension

	// ackFrom, while ApplyBundleWithEvents runs, is the first event its
	// ack may carry (0: none); ackNext is where the carried run ends.
	ackFrom, ackNext uint64
}

// Provision writes a lock's identity and empty door state (version 0) to
// fsys. A provisioned lock is never re-provisioned in place: that would let
// anyone with the flash swap the property key.
func Provision(fsys FS, p *lockproto.Provisioning) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := fsys.ReadFile(identityFile); err == nil {
		return errors.New("lock: already provisioned")
	} else if !isNotExist(err) {
		return err
	}
	st := &doorState{TimeZone: p.TimeZone, TrustedTime: p.TrustedTime, MaxCredLifetime: lockproto.DefaultCredentialLifetime, CodesHashed: true}
	// State first: a power cut before the identity is written leaves an
	// unprovisioned lock that can simply be provisioned again.
	if err := writeAtomic(fsys, stateFile, st); err != nil {
		return err
	}
	return writeAtomic(fsys, identityFile, p)
}

// Open boots the lock from its flash.
func Open(opts Options) (*Lock, error) {
	if opts.FS == nil {
		return nil, errors.New("lock: Options.FS is required")
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DriftTolerance == 0 {
		opts.DriftTolerance = DefaultDriftTolerance
	}
	if opts.LogRetention <= 0 {
		opts.LogRetention = DefaultLogRetention
	}
	if opts.ChallengeTTL <= 0 {
		opts.ChallengeTTL = DefaultChallengeTTL
	}
	if opts.DenialWindow <= 0 {
		opts.DenialWindow = DefaultDenialWindow
	}
	var prov lockproto.Provisioning
	if err := readChecked(opts.FS, identityFile, &prov); err != nil {
		if isNotExist(err) {
			return nil, lockproto.ErrNotProvisioned
		}
		return nil, err
	}
	if err := prov.Validate(); err != nil {
		return nil, err
	}
	var st doorState
	if err := readChecked(opts.FS, stateFile, &st); err != nil {
		return nil, err
	}
	rt := &runtimeState{}
	if err := readChecked(opts.FS, runtimeFile, rt); err != nil && !isNotExist(err) {
		return nil, err
	}
	if rt.Quarter == nil {
		rt.Quarter = map[string]quarterUse{}
	}
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q", ErrCorrupt, st.TimeZone)
	}
	hashCode := codeHasher(opts.FS, prov.LockSymmetricKey)
	if !st.CodesHashed {
		// A state from before codes were hashed: hashed now, on flash at the
		// next bundle.
		for i := range st.Doorcodes {
			st.Doorcodes[i].Code = hashCode(st.Doorcodes[i].Code)
		}
		st.CodesHashed = true
	}
	clk, err := bootClock(opts.FS, opts.Clock.Now(), &st, rt, opts.DriftTolerance)
	if err != nil {
		return nil, err
	}
	events, err := openEventLog(opts.FS, opts.LogRetention, opts.DenialWindow)
	if err != nil {
		return nil, err
	}
	susp, err := loadSuspensions(opts.FS)
	if errors.Is(err, ErrCorrupt) {
		// Suspensions are best effort ahead of their bundles, and deleting
		// the file drops them anyway: flash damage to it must not keep the
		// door from booting.
		opts.Logger.Error("revocation notices lost: suspension file corrupt", "err", err)
		susp, err = map[string][]suspension{}, nil
	}
	if err != nil {
		return nil, err
	}
	l := &Lock{
		opts:      opts,
		log:       opts.Logger.With("lock", prov.LockID),
		prov:      &prov,
		keys:      keysOf(&prov, &st),
		loc:       loc,
		st:        &st,
		idx:       indexState(&st),
		rt:        rt,
		events:    events,
		clk:       clk,
		hashCode:  hashCode,
		credCache: map[[lockproto.CredentialRefSize]byte]cachedCred{},
		susp:      susp,
	}
	// A bundle whose state reached flash before its events did: log them now.
	if err := l.flushJournal(); err != nil {
		return nil, err
	}
	if _, err := l.record(lockproto.Event{Kind: lockproto.EventBoot, Version: st.Version}); err != nil {
		return nil, err
	}
	if l.clk.Untrusted {
		l.log.Warn("no trusted time (RTC reset): anything that expires is refused until a signed time arrives")
	}
	l.log.Info("lock booted", "version", st.Version, "time", l.now(), "log_next", events.next())
	return l, nil
}

// LockID returns the lock's provisioned id.
func (l *Lock) LockID() string { return l.prov.LockID }

// PublicKey returns the lock's Ed25519 public key (acks, event batches):
// the provisioned one, or the one the last key rotation gave it.
func (l *Lock) PublicKey() ed25519.PublicKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.priv.Public().(ed25519.PublicKey)
}

// record logs an event stamped with the trusted clock, after the state's
// journal (eventLog.record bounds its fields and folds repeated denials).
func (l *Lock) record(e lockproto.Event) (lockproto.Event, error) {
	if err := l.flushJournal(); err != nil {
		return e, err
	}
	return l.events.record(e, l.now().Truncate(time.Second))
}

// Status is a snapshot for displays and the control socket.
type Status struct {
	LockID    string    `json:"lock_id"`
	Version   uint64    `json:"version"`
	Now       time.Time `json:"now"`
	TimeZone  string    `json:"time_zone"`
	LogNext   uint64    `json:"log_next"`
	Doorcodes int       `json:"doorcodes"`
	Keycards  int       `json:"keycards"`
	Revoked   int       `json:"revocations"`
	DayKeys   int       `json:"day_keys"`
	// NoTrustedTime: the RTC was reset and no signed time arrived since.
	NoTrustedTime bool `json:"no_trusted_time,omitempty"`
	// Suspended is how many people revocation notices refuse until their
	// door version arrives; SuspendedDoorcodes how many of the held
	// Doorcodes are refused (theirs, and those of people whose doorcodes
	// alone a notice named).
	Suspended          int `json:"suspended,omitempty"`
	SuspendedDoorcodes int `json:"suspended_doorcodes,omitempty"`
	// SuspendedDayKeys is how many day keys' guest codes notices refuse,
	// SuspendedCards how many keycard serials.
	SuspendedDayKeys int `json:"suspended_day_keys,omitempty"`
	SuspendedCards   int `json:"suspended_cards,omitempty"`
}

// Status reports the lock's state.
func (l *Lock) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := Status{
		LockID: l.prov.LockID, Version: l.st.Version, Now: now, TimeZone: l.st.TimeZone,
		LogNext: l.events.next(), Doorcodes: len(l.idx.codes), Keycards: len(l.idx.cards),
		Revoked: len(l.idx.revs), DayKeys: len(l.idx.dayKeys), NoTrustedTime: l.clk.Untrusted,
	}
	// People whose held doorcodes a notice refuses (suspendedDoorcode):
	// named as people or for their doorcodes. The codes are counted in one
	// pass over them with one lookup each (a lock holds thousands).
	var codesOf map[string]bool
	for k := range l.susp {
		if !l.suspendedName(k, now) {
			continue
		}
		switch k[:len(suspPerson)] {
		case suspPerson:
			s.Suspended++
		case suspDayKey:
			s.SuspendedDayKeys++
		case suspCard:
			s.SuspendedCards++
		}
		if kind := k[:len(suspPerson)]; kind == suspPerson || kind == suspCode {
			if codesOf == nil {
				codesOf = map[string]bool{}
			}
			codesOf[k[len(suspPerson):]] = true
		}
	}
	if len(codesOf) > 0 {
		for _, e := range l.idx.codes {
			if e.PersonID != "" && codesOf[e.PersonID] {
				s.SuspendedDoorcodes++
			}
		}
	}
	return s
}

// ApplyBundle opens, checks and applies a sealed door-state bundle and
// returns the lock's signed ack. An authentic bundle the lock refuses (stale
// version, wrong base) is still acknowledged alongside the error, so the
// cloud learns where the lock stands; anything unauthentic gets no ack.
func (l *Lock) ApplyBundle(sealed []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applyBundle(sealed)
}

// ApplyBundleWithEvents is ApplyBundle for an online lock: its ack also
// carries the lock's events from seq from on (as many as fit,
// lockproto.SignAckWithEvents), so the cloud gets the bundle's outcome and
// the log in one signed message. next is the first event the ack did not
// carry (from when it carries none): the caller uploads the rest as event
// batches. The lock deletes nothing: what the cloud does not record it can
// fetch again (EventsSince).
func (l *Lock) ApplyBundleWithEvents(sealed []byte, from uint64) (ack []byte, next uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ackFrom, l.ackNext = max(from, 1), max(from, 1)
	defer func() { l.ackFrom = 0 }()
	ack, err = l.applyBundle(sealed)
	return ack, l.ackNext, err
}

// checkVersion says whether a bundle (or the manifest of a chunked one)
// of this version, base and kind may follow the lock's state: a replay or
// rollback is stale, a delta from another base needs a snapshot. A refusal
// is logged and its ack status returned with the error.
func (l *Lock) checkVersion(version, base uint64, snapshot bool) (lockproto.AckStatus, error) {
	var err error
	var status lockproto.AckStatus
	switch {
	case version <= l.st.Version:
		// A replay of the current version or a rollback to an older one.
		err = fmt.Errorf("%w: bundle version %d, lock at %d", lockproto.ErrStale, version, l.st.Version)
		status = lockproto.AckStale
	case !snapshot && base != l.st.Version:
		err = fmt.Errorf("%w: delta %d→%d, lock at %d", lockproto.ErrWrongBase, base, version, l.st.Version)
		status = lockproto.AckNeedSnapshot
	default:
		return 0, nil
	}
	l.refuseBundle(lockproto.ErrorCode(err), version, err)
	return status, err
}

// applyBundle is ApplyBundle with l.mu held: the one path a whole bundle
// and a reassembled chunked one (transfer.go) both take.
func (l *Lock) applyBundle(sealed []byte) ([]byte, error) {
	// The journal of the current state must be in the log before a new
	// state's journal takes its place and its sequence numbers.
	if err := l.flushJournal(); err != nil {
		l.log.Error("event log write failed", "err", err)
		return nil, lockproto.ErrInternal
	}
	b, err := lockproto.OpenBundle(l.keys.propertyPub, l.prov.LockID, l.keys.sym, sealed)
	if err != nil {
		l.refuseBundle(lockproto.ErrorCode(err), 0, err)
		return nil, err
	}
	ack := lockproto.Ack{LockID: l.prov.LockID, Bundle: lockproto.BundleDigest(sealed)}
	if ack.Status, err = l.checkVersion(b.Version, b.Base, b.Snapshot); err != nil {
		return l.signAck(ack), err
	}

	rtc := l.opts.Clock.Now()
	l.now()
	clk, _, timeEvent := l.clk.accept(rtc, b.TrustedTime, b.Epoch, l.opts.DriftTolerance)
	if timeEvent != nil {
		l.log.Info("bundle time", "event", timeEvent.Kind, "reason", timeEvent.Reason)
	}
	next := applyBundle(l.st, b, l.hashCode)
	next.Keys = l.keys.rotate(next.Keys, b.Rotation)
	// Prune with the corrected clock: revocations nobody can be refused by.
	// An untrusted clock is a lower bound, so it prunes less, never more.
	next.Revocations = pruneRevocations(next.Revocations, clk.lockTime(rtc), next.retention())
	loc, err := time.LoadLocation(next.TimeZone)
	if err != nil {
		return nil, err // validated by OpenBundle; only a broken tzdata gets here
	}
	// The clock first: it moves only by the cloud's signed word, so a power
	// cut before the state is written leaves a correct clock and the old
	// version.
	// Always written: bundles are rare, and the persisted trusted time and
	// last RTC reading are what an RTC reset is judged against.
	if err := l.saveClock(clk); err != nil {
		l.log.Error("bundle not applied: flash write failed", "version", b.Version, "err", err)
		return nil, fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	old := l.st.Version
	// The state carries its own events (journal): written in the same
	// atomic rename, appended to the log right after, and again at boot if
	// the power went in between. A version is never applied unlogged.
	at := l.now().Truncate(time.Second)
	next.JournalSeq = l.events.next()
	if timeEvent != nil {
		timeEvent.At = at
		next.Journal = append(next.Journal, *timeEvent)
	}
	next.Journal = append(next.Journal, lockproto.Event{Kind: lockproto.EventBundleApplied, At: at, Version: next.Version, Ref: fmt.Sprintf("%d", old)})
	if err := writeAtomic(l.opts.FS, stateFile, next); err != nil {
		l.log.Error("bundle not applied: flash write failed", "version", b.Version, "err", err)
		return nil, fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	l.st, l.idx, l.loc, l.today = next, indexState(next), loc, nil
	if b.Rotation != nil {
		// The ack below is already signed with the new lock key: the
		// cloud verifies it with either, and learns the lock switched.
		l.keys = keysOf(l.prov, next)
		clear(l.credCache)
		l.log.Info("keys rotated", "property", b.Rotation.RotatesProperty(), "lock", b.Rotation.RotatesLock())
	}
	if err := l.flushJournal(); err != nil {
		l.log.Error("event log write failed; retried before the next event", "err", err)
	}
	l.log.Info("bundle applied", "from", old, "to", next.Version, "snapshot", b.Snapshot,
		"doorcodes", len(next.Doorcodes), "keycards", len(next.Keycards), "revocations", len(next.Revocations), "day_keys", len(next.DayKeys))
	ack.Status = lockproto.AckApplied
	return l.signAck(ack), nil
}

func pruneRevocations(revs []lockproto.Revocation, now time.Time, maxLifetime time.Duration) []lockproto.Revocation {
	out := revs[:0:0]
	for _, r := range revs {
		if !r.Expired(now, maxLifetime) {
			out = append(out, r)
		}
	}
	return out
}

func (l *Lock) refuseBundle(reason string, version uint64, err error) {
	l.log.Warn("bundle refused", "reason", reason, "version", version, "err", err)
	if _, lerr := l.record(lockproto.Event{Kind: lockproto.EventBundleRefused, Reason: reason, Version: version}); lerr != nil {
		l.log.Error("event log write failed", "err", lerr)
	}
}

func (l *Lock) signAck(a lockproto.Ack) []byte {
	a.Version = l.st.Version
	a.LockTime = l.now()
	a.LogNext = l.events.next()
	if l.ackFrom > 0 {
		if b, ok := l.signAckWithEvents(a); ok {
			return b
		}
	}
	b, err := lockproto.SignAck(l.keys.priv, a)
	if err != nil {
		panic(err) // the key was validated at boot; signing cannot fail
	}
	return b
}

// signAckWithEvents signs a with the events from l.ackFrom that fit an
// ack, and reports false when there are none to carry (or a logged event
// from before field bounds cannot travel in an ack: it goes in a batch).
func (l *Lock) signAckWithEvents(a lockproto.Ack) ([]byte, bool) {
	first, prev, events := l.events.since(l.ackFrom, lockproto.MaxAckEvents, lockproto.AckEventBudget)
	for i := range events {
		if !events[i].Bounded() {
			events = events[:i]
			break
		}
	}
	if len(events) == 0 {
		return nil, false
	}
	b, err := lockproto.SignAckWithEvents(l.keys.priv, l.keys.sym, a, lockproto.EventBatch{
		Prev: prev, From: first, Events: events, Next: a.LogNext, Oldest: l.events.oldest(),
	})
	if err != nil {
		l.log.Error("ack with events", "err", err)
		return nil, false
	}
	l.ackNext = first + uint64(len(events))
	return b, true
}

// EventsSince returns a batch of events starting at from, signed by the
// lock and sealed to the cloud (the phone that carries it cannot read it).
// Denial runs whose window has passed are logged first.
func (l *Lock) EventsSince(from uint64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Closed denial runs are logged only after the state's journal, which
	// holds the sequence numbers right after the log's end.
	err := l.flushJournal()
	if err == nil {
		err = l.events.closeRuns(l.now().Truncate(time.Second), false)
	}
	if err != nil {
		l.log.Error("event log write failed", "err", err)
	}
	first, prev, events := l.events.since(from, lockproto.MaxBatchEvents, lockproto.EventBatchBudget)
	return lockproto.SealEventBatch(l.keys.priv, l.keys.sym, lockproto.EventBatch{
		LockID: l.prov.LockID, Prev: prev, From: first, Events: events, Next: l.events.next(), At: l.now(), Oldest: l.events.oldest(),
	})
}
