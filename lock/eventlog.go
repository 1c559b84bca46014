package lock

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// eventLog is the lock's hash-chained log: an append-only file of records
// after a header naming the chain position it starts from. A record torn by
// a power cut is dropped on the next boot; everything before it stands.
//
// File: baseSeq (8) ‖ baseHash (32) ‖ records; record: len (4) ‖ CBOR event ‖ CRC-32 (4).
type eventLog struct {
	fs        FS
	retention int
	window    time.Duration // how long a run of identical denials is folded into one aggregate
	runs      []*denialRun  // open runs, persisted in denialsFile

	baseSeq  uint64 // sequence number before events[0]
	baseHash []byte // chain hash before events[0]
	events   []lockproto.Event
	hashes   [][]byte
	inFile   int  // records in the file, to know when to compact
	dirty    bool // the file may end in a partial record: rewrite before appending
}

const logHeader = 8 + 32

func openEventLog(fsys FS, retention int, window time.Duration) (*eventLog, error) {
	g := &eventLog{fs: fsys, retention: retention, window: window, baseHash: lockproto.GenesisHash}
	if err := g.loadRuns(); err != nil {
		return nil, err
	}
	data, err := fsys.ReadFile(eventsFile)
	if isNotExist(err) {
		return g, g.rewrite()
	}
	if err != nil {
		return nil, err
	}
	if len(data) < logHeader {
		// Only a torn first write can leave a short header; the log had no
		// events yet.
		return g, g.rewrite()
	}
	g.baseSeq = binary.BigEndian.Uint64(data)
	g.baseHash = append([]byte(nil), data[8:logHeader]...)
	rest := data[logHeader:]
	prev := g.baseHash
	for len(rest) > 0 {
		if len(rest) < 8 {
			break
		}
		n := int(binary.BigEndian.Uint32(rest))
		if n > len(rest)-8 {
			break
		}
		body := rest[4 : 4+n]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(rest[4+n:]) {
			break
		}
		var e lockproto.Event
		if err := stDec.Unmarshal(body, &e); err != nil || e.Seq != g.next() {
			break
		}
		h, err := lockproto.ChainHash(prev, &e)
		if err != nil {
			return nil, err
		}
		g.events = append(g.events, e)
		g.hashes = append(g.hashes, h)
		prev = h
		rest = rest[8+n:]
	}
	g.inFile = len(g.events)
	if len(rest) > 0 {
		return g, g.rewrite()
	}
	return g, nil
}

func (g *eventLog) next() uint64 { return g.baseSeq + uint64(len(g.events)) + 1 }

func (g *eventLog) head() []byte {
	if len(g.events) == 0 {
		return g.baseHash
	}
	return g.hashes[len(g.hashes)-1]
}

func encodeRecord(e *lockproto.Event) ([]byte, error) {
	body, err := stEnc.Marshal(e)
	if err != nil {
		return nil, err
	}
	rec := binary.BigEndian.AppendUint32(make([]byte, 0, len(body)+8), uint32(len(body)))
	rec = append(rec, body...)
	return binary.BigEndian.AppendUint32(rec, crc32.ChecksumIEEE(body)), nil
}

// rewrite replaces the file with the retained events, atomically.
func (g *eventLog) rewrite() error {
	data := binary.BigEndian.AppendUint64(nil, g.baseSeq)
	data = append(data, g.baseHash...)
	for i := range g.events {
		rec, err := encodeRecord(&g.events[i])
		if err != nil {
			return err
		}
		data = append(data, rec...)
	}
	if err := g.fs.WriteFile(eventsFile+".tmp", data); err != nil {
		return err
	}
	if err := g.fs.Rename(eventsFile+".tmp", eventsFile); err != nil {
		return err
	}
	g.inFile, g.dirty = len(g.events), false
	return nil
}

// append assigns e the next sequence number and makes it durable.
func (g *eventLog) append(e lockproto.Event) (lockproto.Event, error) {
	e.Seq = g.next()
	h, err := lockproto.ChainHash(g.head(), &e)
	if err != nil {
		return e, err
	}
	if g.dirty {
		if err := g.rewrite(); err != nil {
			return e, err
		}
	}
	rec, err := encodeRecord(&e)
	if err != nil {
		return e, err
	}
	if err := g.fs.AppendFile(eventsFile, rec); err != nil {
		g.dirty = true
		return e, fmt.Errorf("lock: event log: %w", err)
	}
	g.events = append(g.events, e)
	g.hashes = append(g.hashes, h)
	g.inFile++
	if len(g.events) >= 2*g.retention {
		// Oldest events go once the cloud had ample chance to collect them;
		// if it had not, the gap shows in the next batch it fetches. Trimming
		// in halves keeps the cost of an append constant.
		drop := len(g.events) - g.retention
		g.baseSeq += uint64(drop)
		g.baseHash = g.hashes[drop-1]
		g.events = append([]lockproto.Event(nil), g.events[drop:]...)
		g.hashes = append([][]byte(nil), g.hashes[drop:]...)
	}
	if g.inFile > 3*g.retention {
		if err := g.rewrite(); err != nil {
			g.dirty = true
		}
	}
	return e, nil
}

// oldest is the sequence number of the oldest event the lock still holds.
func (g *eventLog) oldest() uint64 { return g.baseSeq + 1 }

// since returns up to limit events, and no more than budget encoded bytes
// after the first, from seq from (or the oldest retained, if from is older)
// and the chain hash before the first of them.
func (g *eventLog) since(from uint64, limit, budget int) (first uint64, prev []byte, events []lockproto.Event) {
	if from <= g.baseSeq {
		from = g.baseSeq + 1
	}
	if from >= g.next() {
		return g.next(), g.head(), nil
	}
	i := int(from - g.baseSeq - 1)
	prev = g.baseHash
	if i > 0 {
		prev = g.hashes[i-1]
	}
	j, size := i, 0
	for j < len(g.events) && j-i < limit {
		size += lockproto.EncodedEventSize(&g.events[j])
		if j > i && size > budget {
			break
		}
		j++
	}
	return from, prev, append([]lockproto.Event(nil), g.events[i:j]...)
}

// Aggregation of repeated denials. The first denial of a kind is logged
// as it happens; identical ones within the window after it only raise the
// count of an open run, and the run is logged as one aggregate event
// (Count, At = first repeat, Last = last repeat) when its window closes.
// So however fast junk arrives, each run costs at most two log entries
// per window, and a flood cannot push real events out of retention.

const (
	denialsFile = "denials"
	// maxRuns bounds the open runs. Past it, a new kind of denial joins a
	// coarse run per event kind (details dropped), so cycling through many
	// different junk inputs does not defeat the aggregation.
	maxRuns = 16
	// ReasonVarious is the reason of a coarse aggregate.
	reasonVarious = "various"
)

// aggregated lists the kinds that outsiders can produce at will.
var aggregated = map[string]bool{
	lockproto.EventUnlockDenied: true, lockproto.EventCodeDenied: true, lockproto.EventCardDenied: true,
	lockproto.EventBundleRefused: true, lockproto.EventKeypadLocked: true,
}

// denialRun is an open run of identical denials.
type denialRun struct {
	Key      string
	Opened   time.Time // when its first denial was logged
	FirstSeq uint64    // the event that logged it
	Agg      lockproto.Event
}

// runKey says which denials are "identical": same kind, credential type,
// reason and person; the reference (card serial, credential serial) only
// when a person is known, since junk references are what an attacker varies.
func runKey(e *lockproto.Event) string {
	ref := ""
	if e.PersonID != "" {
		ref = e.Ref
	}
	return e.Kind + "\x00" + e.Credential + "\x00" + e.Reason + "\x00" + e.PersonID + "\x00" + ref
}

func coarseKey(e *lockproto.Event) string { return "*" + e.Kind }

func (g *eventLog) loadRuns() error {
	var runs []*denialRun
	err := readChecked(g.fs, denialsFile, &runs)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		// A torn write of this small file loses only repeat counts; the
		// first of every run is in the log.
		return nil
	}
	g.runs = runs
	return nil
}

func (g *eventLog) saveRuns() error { return writeAtomic(g.fs, denialsFile, g.runs) }

// record bounds e's fields, stamps it and logs it, folding repeated
// denials into their open run. The returned event is the one that stands
// for e in the log (for a folded repeat: the first of its run).
func (g *eventLog) record(e lockproto.Event, now time.Time) (lockproto.Event, error) {
	e.Bound()
	e.At = now
	if err := g.closeRuns(now, false); err != nil {
		return e, err
	}
	if !aggregated[e.Kind] {
		return g.append(e)
	}
	key := runKey(&e)
	r := g.run(key)
	if r == nil && len(g.runs) >= maxRuns {
		key = coarseKey(&e)
		r = g.run(key)
	}
	if r != nil {
		if r.Agg.Count == 0 {
			r.Agg.At = now
		}
		r.Agg.Count++
		r.Agg.Last = now
		if err := g.saveRuns(); err != nil {
			return e, fmt.Errorf("lock: event log: %w", err)
		}
		e.Seq = r.FirstSeq
		return e, nil
	}
	logged, err := g.append(e)
	if err != nil {
		return logged, err
	}
	agg := lockproto.Event{Kind: e.Kind, Credential: e.Credential, Reason: e.Reason, PersonID: e.PersonID, Ref: e.Ref}
	if key[0] == '*' {
		agg = lockproto.Event{Kind: e.Kind, Reason: reasonVarious}
	}
	g.runs = append(g.runs, &denialRun{Key: key, Opened: now, FirstSeq: logged.Seq, Agg: agg})
	if err := g.saveRuns(); err != nil {
		return logged, fmt.Errorf("lock: event log: %w", err)
	}
	return logged, nil
}

func (g *eventLog) run(key string) *denialRun {
	for _, r := range g.runs {
		if r.Key == key {
			return r
		}
	}
	return nil
}

// closeRuns logs the aggregate of every run whose window has passed (all
// of them when force is set).
func (g *eventLog) closeRuns(now time.Time, force bool) error {
	if len(g.runs) == 0 {
		return nil
	}
	var keep []*denialRun
	changed := false
	// Oldest run first, so aggregates are logged in the order runs began.
	slices.SortStableFunc(g.runs, func(a, b *denialRun) int { return a.Opened.Compare(b.Opened) })
	for _, r := range g.runs {
		if !force && now.Sub(r.Opened) < g.window {
			keep = append(keep, r)
			continue
		}
		changed = true
		if r.Agg.Count > 0 && !g.logged(&r.Agg) {
			if _, err := g.append(r.Agg); err != nil {
				return err
			}
		}
	}
	if !changed {
		return nil
	}
	g.runs = keep
	return g.saveRuns()
}

// logged reports whether agg is already among the newest events: a power
// cut after an aggregate was appended but before its run was closed on
// flash must not log it twice.
func (g *eventLog) logged(agg *lockproto.Event) bool {
	for i := len(g.events) - 1; i >= 0 && i >= len(g.events)-2*maxRuns-8; i-- {
		e := &g.events[i]
		if e.Count == agg.Count && e.Kind == agg.Kind && e.At.Equal(agg.At) && e.Last.Equal(agg.Last) && e.Reason == agg.Reason &&
			e.PersonID == agg.PersonID && e.Credential == agg.Credential && e.Ref == agg.Ref {
			return true
		}
	}
	return false
}
