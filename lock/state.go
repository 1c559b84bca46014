package lock

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/fxamacker/cbor/v2"
)

// File names on the lock's flash.
const (
	identityFile = "identity"
	stateFile    = "state"
	runtimeFile  = "runtime"
	eventsFile   = "events"
)

var fileMagic = []byte("DOORLCK1")

var (
	stEnc cbor.EncMode
	stDec cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339Nano
	var err error
	if stEnc, err = eo.EncMode(); err != nil {
		panic(err)
	}
	if stDec, err = (cbor.DecOptions{MaxArrayElements: 1 << 20, MaxMapPairs: 1 << 20}).DecMode(); err != nil {
		panic(err)
	}
}

// ErrCorrupt means a state file fails its checksum: flash damage, not a
// power cut (those are handled by the write discipline).
var ErrCorrupt = errors.New("lock: stored state is corrupt")

// writeAtomic replaces name so that a power cut at any point leaves either
// the old file or the new one: the new content goes to a temporary name
// first and only a complete, durable copy is renamed over the old.
func writeAtomic(fsys FS, name string, v any) error {
	body, err := stEnc.Marshal(v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	data := make([]byte, 0, len(fileMagic)+len(sum)+len(body))
	data = append(append(append(data, fileMagic...), sum[:]...), body...)
	if err := fsys.WriteFile(name+".tmp", data); err != nil {
		return err
	}
	return fsys.Rename(name+".tmp", name)
}

func readChecked(fsys FS, name string, v any) error {
	data, err := fsys.ReadFile(name)
	if err != nil {
		return err
	}
	if len(data) < len(fileMagic)+sha256.Size || !bytes.Equal(data[:len(fileMagic)], fileMagic) {
		return fmt.Errorf("%w: %s", ErrCorrupt, name)
	}
	body := data[len(fileMagic)+sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(fileMagic):len(fileMagic)+sha256.Size]) {
		return fmt.Errorf("%w: %s checksum", ErrCorrupt, name)
	}
	if err := stDec.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return nil
}

// doorState is what bundles change, persisted as one file so that applying a
// bundle is a single atomic rename.
type doorState struct {
	Version         uint64
	TimeZone        string
	MaxCredLifetime time.Duration
	// RevocationRetention is the longest credential lifetime the lock was
	// ever told (as retention or as lifetime): revocations are kept that
	// long after they take effect.
	RevocationRetention time.Duration
	// TrustedTime and ClockOffset are where locks provisioned before the
	// clock file kept their clock; read once at boot (bootClock).
	TrustedTime time.Time
	ClockOffset time.Duration
	// Journal holds the events of the bundle that produced this state, to
	// be logged from sequence JournalSeq: they reach flash with the state
	// in one rename, and are appended to the log after it (flushJournal).
	Journal    []lockproto.Event
	JournalSeq uint64
	// CodesHashed: Doorcodes[i].Code holds the code's keyed hash
	// (codeHasher), never the code; false only in a state written before.
	CodesHashed bool
	Doorcodes   []lockproto.DoorcodeEntry
	Keycards    []lockproto.KeycardEntry
	Revocations []lockproto.Revocation
	DayKeys     []lockproto.DayKey
	// Keys, once a bundle rotated them, replace the provisioned ones.
	Keys *rotatedKeys
}

// runtimeState is what the lock learns between bundles and must not forget
// on a power cycle, or pulling the battery would reset a keypad lockout or
// restart a 15-minute code.
type runtimeState struct {
	// Attempts are the keypad attempts still counted (sliding window),
	// each written before its code is judged.
	Attempts    []time.Time
	LockedUntil time.Time
	Quarter     map[string]quarterUse
	// Strikes counts lockouts in a row; each one doubles the next.
	Strikes     int
	LastLockout time.Time
	// Known is the lock time when this was written: a lower bound of the
	// true time if the RTC is later reset.
	Known time.Time
	// RemoteCounter is the highest remote-unlock counter the lock took and
	// RemoteSeen which of the 64 counters up to it were taken (bit i:
	// RemoteCounter−i), so commands overtaken in transit still open once
	// (remote.go).
	RemoteCounter uint64
	RemoteSeen    uint64
}

type quarterUse struct {
	KeyID string
	Day   int64
	Slot  uint16
	First time.Time
}

// entries is doorState indexed for constant-time decisions.
type entries struct {
	codes   map[string]*lockproto.DoorcodeEntry
	cards   map[string]*lockproto.KeycardEntry
	dayKeys map[string]*lockproto.DayKey
	revs    []lockproto.Revocation
	// Newest effective time per identifier: a credential issued before it is
	// refused.
	revPerson map[string]time.Time
	revSerial map[uint64]time.Time
	revDevice map[string]time.Time
}

func newEntries() *entries {
	return &entries{
		codes:     map[string]*lockproto.DoorcodeEntry{},
		cards:     map[string]*lockproto.KeycardEntry{},
		dayKeys:   map[string]*lockproto.DayKey{},
		revPerson: map[string]time.Time{},
		revSerial: map[uint64]time.Time{},
		revDevice: map[string]time.Time{},
	}
}

func indexState(st *doorState) *entries {
	e := newEntries()
	for i := range st.Doorcodes {
		e.codes[st.Doorcodes[i].Code] = &st.Doorcodes[i]
	}
	for i := range st.Keycards {
		e.cards[st.Keycards[i].Serial] = &st.Keycards[i]
	}
	for i := range st.DayKeys {
		e.dayKeys[st.DayKeys[i].KeyID] = &st.DayKeys[i]
	}
	for _, r := range st.Revocations {
		e.addRevocation(r)
	}
	return e
}

func laterOf(m map[string]time.Time, k string, t time.Time) {
	if cur, ok := m[k]; !ok || t.After(cur) {
		m[k] = t
	}
}

func (e *entries) addRevocation(r lockproto.Revocation) {
	e.revs = append(e.revs, r)
	if r.PersonID != "" {
		laterOf(e.revPerson, r.PersonID, r.EffectiveAt)
	}
	if r.Serial != 0 {
		if cur, ok := e.revSerial[r.Serial]; !ok || r.EffectiveAt.After(cur) {
			e.revSerial[r.Serial] = r.EffectiveAt
		}
	}
	if len(r.DeviceKey) != 0 {
		laterOf(e.revDevice, string(r.DeviceKey), r.EffectiveAt)
	}
}

// revoked reports whether a credential is refused by a revocation.
func (e *entries) revoked(c *lockproto.Credential) bool {
	if t, ok := e.revPerson[c.PersonID]; ok && c.IssuedAt.Before(t) {
		return true
	}
	if t, ok := e.revSerial[c.Serial]; ok && c.IssuedAt.Before(t) {
		return true
	}
	if t, ok := e.revDevice[string(c.DeviceKey)]; ok && c.IssuedAt.Before(t) {
		return true
	}
	return false
}

// revokedPerson says whether a revocation of person took effect after
// issued (remote unlock commands carry no serial or device key).
func (e *entries) revokedPerson(person string, issued time.Time) bool {
	t, ok := e.revPerson[person]
	return ok && issued.Before(t)
}

// applyBundle returns the door state after b, leaving cur untouched so that
// nothing changes in memory unless the new state reaches flash. Doorcodes
// are kept by their keyed hash (hash), never as typed.
func applyBundle(cur *doorState, b *lockproto.Bundle, hash func(string) string) *doorState {
	next := &doorState{
		Version:             b.Version,
		TimeZone:            cur.TimeZone,
		MaxCredLifetime:     cur.MaxCredLifetime,
		RevocationRetention: max(cur.retention(), b.RevocationRetention, b.MaxCredentialLifetime),
		TrustedTime:         cur.TrustedTime,
		ClockOffset:         cur.ClockOffset,
		CodesHashed:         true,
		Keys:                cur.Keys,
	}
	if b.TimeZone != "" {
		next.TimeZone = b.TimeZone
	}
	if b.MaxCredentialLifetime > 0 {
		next.MaxCredLifetime = b.MaxCredentialLifetime
	}
	codes := map[string]lockproto.DoorcodeEntry{}
	cards := map[string]lockproto.KeycardEntry{}
	days := map[string]lockproto.DayKey{}
	var revs []lockproto.Revocation
	if !b.Snapshot {
		for _, d := range cur.Doorcodes {
			codes[d.Code] = d
		}
		for _, k := range cur.Keycards {
			cards[k.Serial] = k
		}
		for _, k := range cur.DayKeys {
			days[k.KeyID] = k
		}
		revs = append(revs, cur.Revocations...)
	}
	for _, c := range b.RemoveDoorcodes {
		delete(codes, hash(c))
	}
	for _, s := range b.RemoveKeycards {
		delete(cards, s)
	}
	for _, k := range b.RemoveDayKeys {
		delete(days, k)
	}
	for _, d := range b.Doorcodes {
		d.Code = hash(d.Code)
		codes[d.Code] = d
	}
	for _, k := range b.Keycards {
		cards[k.Serial] = k
	}
	for _, k := range b.DayKeys {
		days[k.KeyID] = k
	}
	next.Revocations = append(revs, b.Revocations...)
	next.Doorcodes = sortedValues(codes)
	next.Keycards = sortedValues(cards)
	next.DayKeys = sortedValues(days)
	return next
}

// retention is how long a revocation is kept: the longest credential
// lifetime ever told, never the current one alone — lowering the property's
// lifetime does not shorten credentials already issued.
func (st *doorState) retention() time.Duration {
	return max(st.RevocationRetention, st.MaxCredLifetime)
}

// flushJournal appends the current state's journal events the log does not
// have yet. The log's next sequence says how far it got: the journal was
// written when it stood at JournalSeq, and nothing else is logged before the
// journal is flushed.
func (l *Lock) flushJournal() error {
	j, base := l.st.Journal, l.st.JournalSeq
	for next := l.events.next(); len(j) > 0 && next >= base && next < base+uint64(len(j)); next = l.events.next() {
		if _, err := l.events.append(j[next-base]); err != nil {
			return err
		}
	}
	return nil
}

func sortedValues[V any](m map[string]V) []V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]V, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
