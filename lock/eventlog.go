package lock

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

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

	baseSeq  uint64 // sequence number before events[0]
	baseHash []byte // chain hash before events[0]
	events   []lockproto.Event
	hashes   [][]byte
	inFile   int  // records in the file, to know when to compact
	dirty    bool // the file may end in a partial record: rewrite before appending
}

const logHeader = 8 + 32

func openEventLog(fsys FS, retention int) (*eventLog, error) {
	g := &eventLog{fs: fsys, retention: retention, baseHash: lockproto.GenesisHash}
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

// since returns up to limit events from seq from (or the oldest retained, if
// from is older) and the chain hash before the first of them.
func (g *eventLog) since(from uint64, limit int) (first uint64, prev []byte, events []lockproto.Event) {
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
	j := min(len(g.events), i+limit)
	return from, prev, append([]lockproto.Event(nil), g.events[i:j]...)
}
