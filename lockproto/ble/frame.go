// Package ble simulates the Bluetooth Low Energy link between a phone and a
// lock over a byte stream (a loopback TCP connection): messages are cut into
// frames no larger than the MTU and sent no faster than the link rate, so
// sync times come out as a real device would see them. It holds the lock's
// server loop (Serve) and the phone's client (Dial).
package ble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

const (
	// DefaultMTU is the frame size of a typical BLE 4.2+ connection.
	DefaultMTU = 185
	// DefaultRate is the default link throughput in bytes per second.
	DefaultRate = 2048
	// WorstCaseRate is the slow link the benchmarks report.
	WorstCaseRate = 333
	// DefaultMaxMessage bounds a reassembled message.
	DefaultMaxMessage = 4<<20 + 4096
	// MinMTU is the smallest BLE ATT MTU.
	MinMTU = 23
	// DefaultMaxConns is about what a BLE peripheral keeps at once.
	DefaultMaxConns = 8
	// DefaultMaxInFlight lets two full bundles arrive at once.
	DefaultMaxInFlight = 2 * DefaultMaxMessage

	frameHeader  = 4 // length (2), flags (1), sequence (1)
	lengthPrefix = 4 // the first frame of a message starts with its total length

	flagFirst = 0x01
	flagLast  = 0x02
)

// Config is the link's shape; both ends must agree on it.
type Config struct {
	MTU int // bytes per frame, header included; 0 means DefaultMTU
	// Rate is bytes per second; 0 means DefaultRate, negative is unlimited.
	Rate       int
	MaxMessage int // 0 means DefaultMaxMessage
	// MaxConns bounds the lock's concurrent connections; 0 means
	// DefaultMaxConns. A connection over it is closed at once: it never
	// displaces one already there.
	MaxConns int
	// MaxInFlight is the lock's budget for messages being received on all
	// connections together, reserved from each message's announced length
	// before it is read; 0 means DefaultMaxInFlight.
	MaxInFlight int
	// IdleTimeout is the lock's longest wait for the next frame from an
	// authenticated phone; 0 means the IdleTimeout constant.
	IdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = IdleTimeout
	}
	return c
}

// Validate rejects a configuration no BLE link could have.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.MTU < MinMTU || c.MTU > 65535 {
		return fmt.Errorf("ble: MTU %d outside %d..65535", c.MTU, MinMTU)
	}
	if c.MaxConns < 0 || c.MaxInFlight < 0 || c.MaxMessage < 0 || c.IdleTimeout < 0 {
		return fmt.Errorf("ble: negative limit")
	}
	return nil
}

// Errors of the framing layer.
var (
	ErrFrame     = errors.New("ble: bad frame")
	ErrTruncated = errors.New("ble: link closed inside a message")
	ErrOversized = errors.New("ble: message larger than the limit")
	ErrBusy      = errors.New("ble: lock busy: in-flight message budget spent")
)

// budget is the bytes of messages being received on all of a lock's
// connections, so many unfinished large messages cannot exhaust its memory.
type budget struct {
	mu        sync.Mutex
	used, max int
}

func (b *budget) take(n int) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// Frames returns how many frames a message of msgLen bytes needs and the
// bytes they occupy on the link, so sync times can be computed without
// sending anything.
func Frames(msgLen, mtu int) (frames, wireBytes int) {
	payload := mtu - frameHeader
	total := msgLen + lengthPrefix
	frames = max(1, (total+payload-1)/payload)
	return frames, total + frames*frameHeader
}

// TransferTime is how long wireBytes take at rate bytes per second.
func TransferTime(wireBytes, rate int) time.Duration {
	return time.Duration(float64(wireBytes) / float64(rate) * float64(time.Second))
}

// link reads and writes framed messages on one stream. Reads and writes may
// run concurrently with each other but not with themselves.
type link struct {
	cfg  Config
	rw   io.ReadWriter
	wmu  sync.Mutex
	wseq uint8
	rseq uint8
	next time.Time // when the link is free again, for pacing
	hdr  [frameHeader]byte
	// beforeFrame, when set, runs before each frame is read: the lock
	// gives an authenticated phone an idle timeout per frame, so a large
	// message on a slow link is bounded by silence, not by its length.
	beforeFrame func()
}

func newLink(rw io.ReadWriter, cfg Config) *link {
	return &link{cfg: cfg.withDefaults(), rw: rw}
}

// writeMessage cuts msg into frames and paces them to the link rate. The
// first frame announces the message length, so a receiver can refuse an
// oversized message before reading it and notice one that ends early.
func (l *link) writeMessage(msg []byte) error {
	if len(msg) > l.cfg.MaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrOversized, len(msg))
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	data := binary.BigEndian.AppendUint32(make([]byte, 0, lengthPrefix+len(msg)), uint32(len(msg)))
	data = append(data, msg...)
	payload := l.cfg.MTU - frameHeader
	buf := make([]byte, 0, l.cfg.MTU)
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), payload)
		var flags byte
		if first {
			flags |= flagFirst
		}
		if n == len(data) {
			flags |= flagLast
		}
		buf = buf[:frameHeader]
		binary.BigEndian.PutUint16(buf, uint16(frameHeader+n))
		buf[2] = flags
		buf[3] = l.wseq
		l.wseq++
		buf = append(buf, data[:n]...)
		data = data[n:]
		l.pace(len(buf))
		if _, err := l.rw.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// pace holds a frame of n bytes until the link, at its rate, would have
// carried it: every frame — the first of a message too — takes its own
// time, so a small message is as slow as on a real link.
func (l *link) pace(n int) {
	if l.cfg.Rate < 0 {
		return
	}
	if now := time.Now(); l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(TransferTime(n, l.cfg.Rate))
	time.Sleep(time.Until(l.next))
}

// readMessage reassembles one message of at most the link's limit.
func (l *link) readMessage() ([]byte, error) { return l.readLimited(l.cfg.MaxMessage, nil) }

// readLimited reassembles one message of at most limit bytes, reserving its
// announced length from b (if any) until it is complete. Any frame that does
// not fit the sequence — wrong length, lost or repeated frame, a
// continuation without a start, a message shorter or longer than announced —
// ends the connection rather than being guessed around.
func (l *link) readLimited(limit int, b *budget) (_ []byte, err error) {
	var (
		msg  []byte
		want int
	)
	reserved := 0
	defer func() { b.give(reserved) }()
	for started := false; ; started = true {
		if l.beforeFrame != nil {
			l.beforeFrame()
		}
		if _, err := io.ReadFull(l.rw, l.hdr[:]); err != nil {
			if started || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, ErrTruncated
			}
			return nil, err
		}
		size := int(binary.BigEndian.Uint16(l.hdr[:2]))
		flags, seq := l.hdr[2], l.hdr[3]
		switch {
		case size < frameHeader || size > l.cfg.MTU:
			return nil, fmt.Errorf("%w: length %d with MTU %d", ErrFrame, size, l.cfg.MTU)
		case flags&^(flagFirst|flagLast) != 0:
			return nil, fmt.Errorf("%w: flags %#x", ErrFrame, flags)
		case (flags&flagFirst != 0) == started:
			return nil, fmt.Errorf("%w: message boundary", ErrFrame)
		case seq != l.rseq:
			return nil, fmt.Errorf("%w: sequence %d, want %d", ErrFrame, seq, l.rseq)
		case flags&flagLast == 0 && size != l.cfg.MTU:
			// Only the last frame of a message may be short.
			return nil, fmt.Errorf("%w: short frame inside a message", ErrFrame)
		}
		l.rseq++
		body := make([]byte, size-frameHeader)
		if _, err := io.ReadFull(l.rw, body); err != nil {
			return nil, ErrTruncated
		}
		if !started {
			if len(body) < lengthPrefix {
				return nil, fmt.Errorf("%w: first frame without length", ErrFrame)
			}
			want = int(binary.BigEndian.Uint32(body))
			if want > min(limit, l.cfg.MaxMessage) {
				return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrOversized, want, min(limit, l.cfg.MaxMessage))
			}
			if !b.take(want) {
				return nil, fmt.Errorf("%w: %d bytes announced", ErrBusy, want)
			}
			reserved = want
			msg = make([]byte, 0, min(want, 1<<16))
			body = body[lengthPrefix:]
		}
		if len(msg)+len(body) > want {
			return nil, fmt.Errorf("%w: message longer than announced", ErrFrame)
		}
		msg = append(msg, body...)
		if flags&flagLast != 0 {
			if len(msg) != want {
				return nil, fmt.Errorf("%w: message of %d bytes, %d announced", ErrFrame, len(msg), want)
			}
			return msg, nil
		}
	}
}
