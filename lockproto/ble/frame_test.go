package ble

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

type pipe struct{ bytes.Buffer }

func frames(t testing.TB, cfg Config, msgs ...[]byte) []byte {
	t.Helper()
	var p pipe
	w := newLink(&p, cfg)
	for _, m := range msgs {
		if err := w.writeMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	return p.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	for _, mtu := range []int{MinMTU, DefaultMTU, 517} {
		cfg := Config{MTU: mtu, Rate: -1}
		msgs := [][]byte{{}, {1}, bytes.Repeat([]byte{7}, mtu-frameHeader), bytes.Repeat([]byte{8}, mtu-frameHeader+1), bytes.Repeat([]byte{9}, 10000)}
		wire := frames(t, cfg, msgs...)
		rd := newLink(&readOnly{bytes.NewReader(wire)}, cfg)
		for i, want := range msgs {
			got, err := rd.readMessage()
			if err != nil {
				t.Fatalf("mtu %d msg %d: %v", mtu, i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("mtu %d msg %d: got %d bytes, want %d", mtu, i, len(got), len(want))
			}
			n, wireBytes := Frames(len(want), mtu)
			if n < 1 || wireBytes != len(want)+lengthPrefix+n*frameHeader {
				t.Fatalf("Frames(%d) = %d, %d", len(want), n, wireBytes)
			}
		}
		if _, err := rd.readMessage(); !errors.Is(err, io.EOF) {
			t.Fatalf("after last message: %v", err)
		}
	}
}

type readOnly struct{ io.Reader }

func (readOnly) Write(p []byte) (int, error) { return len(p), nil }

func TestFrameAttacks(t *testing.T) {
	cfg := Config{MTU: 64, Rate: -1, MaxMessage: 1000}
	msg := bytes.Repeat([]byte{0xab}, 200)
	wire := frames(t, cfg, msg)
	read := func(b []byte) error {
		_, err := newLink(&readOnly{bytes.NewReader(b)}, cfg).readMessage()
		return err
	}
	if err := read(wire); err != nil {
		t.Fatal(err)
	}
	t.Run("Truncated", func(t *testing.T) {
		for _, n := range []int{1, 3, 4, 10, 64, 65, len(wire) - 1} {
			if err := read(wire[:n]); !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d: %v", n, err)
			}
		}
	})
	t.Run("HeaderBitFlips", func(t *testing.T) {
		// Every flip in a frame header is caught: length, flags, sequence.
		for f := 0; f < len(wire); f += 64 {
			for i := f; i < f+frameHeader; i++ {
				for bit := range 8 {
					b := append([]byte(nil), wire...)
					b[i] ^= 1 << bit
					if err := read(b); err == nil {
						t.Fatalf("flip of bit %d in byte %d accepted", bit, i)
					}
				}
			}
		}
	})
	t.Run("DroppedFrame", func(t *testing.T) {
		b := append(append([]byte(nil), wire[:64]...), wire[128:]...)
		if err := read(b); !errors.Is(err, ErrFrame) {
			t.Fatal(err)
		}
	})
	t.Run("Oversized", func(t *testing.T) {
		big := frames(t, Config{MTU: 64, Rate: -1}, make([]byte, 1001))
		if err := read(big); !errors.Is(err, ErrOversized) {
			t.Fatal(err)
		}
		var p pipe
		if err := newLink(&p, cfg).writeMessage(make([]byte, 1001)); !errors.Is(err, ErrOversized) {
			t.Fatal(err)
		}
	})
	t.Run("FrameLargerThanMTU", func(t *testing.T) {
		big := frames(t, Config{MTU: 128, Rate: -1}, msg)
		if err := read(big); !errors.Is(err, ErrFrame) {
			t.Fatal(err)
		}
	})
}

func TestPacing(t *testing.T) {
	cfg := Config{MTU: DefaultMTU, Rate: 20000}
	var p pipe
	l := newLink(&p, cfg)
	start := time.Now()
	if err := l.writeMessage(make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	_, wireBytes := Frames(4000, DefaultMTU)
	// The last frame leaves after all earlier ones have had their time.
	minTime := TransferTime(wireBytes-DefaultMTU, cfg.Rate)
	if el := time.Since(start); el < minTime*9/10 {
		t.Fatalf("sent %d bytes in %v at %d B/s; pacing would take at least %v", wireBytes, el, cfg.Rate, minTime)
	}
}

// TestPacingFromTheFirstFrame: small messages, one frame each, take their
// time at the link's rate too (the first frame of each message used to
// leave at once, so a chat of small messages ran faster than the link).
func TestPacingFromTheFirstFrame(t *testing.T) {
	cfg := Config{MTU: DefaultMTU, Rate: WorstCaseRate}
	var p pipe
	l := newLink(&p, cfg)
	start := time.Now()
	for range 3 {
		if err := l.writeMessage(make([]byte, 30)); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	_, wire := Frames(30, DefaultMTU)
	want := TransferTime(3*wire, cfg.Rate) // sleeping never ends early
	if el < want {
		t.Fatalf("3 one-frame messages (%d bytes on the link) in %v at %d B/s; the link needs %v", 3*wire, el, cfg.Rate, want)
	}
	t.Logf("%d bytes in %v: %.0f B/s at a rate of %d B/s", 3*wire, el.Round(time.Millisecond), float64(3*wire)/el.Seconds(), cfg.Rate)
}

func FuzzReadMessage(f *testing.F) {
	cfg := Config{MTU: 64, Rate: -1, MaxMessage: 4096}
	f.Add(frames(f, cfg, []byte("hello"), bytes.Repeat([]byte{1}, 300)))
	f.Add([]byte{0, 8, 3, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLink(&readOnly{bytes.NewReader(data)}, cfg)
		for {
			msg, err := l.readMessage()
			if err != nil {
				return
			}
			if len(msg) > cfg.MaxMessage {
				t.Fatalf("message of %d bytes over the limit", len(msg))
			}
			// Whatever reassembles must survive a re-framing unchanged.
			again := frames(t, cfg, msg)
			got, err := newLink(&readOnly{bytes.NewReader(again)}, cfg).readMessage()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("re-framed message differs: %v", err)
			}
			DecodeMessage(msg)
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(refusal([]byte{1, 1}, errors.New("x")))
	f.Add(refusal(nil, errors.New("x")))
	f.Add(encodeMessage(MsgSealed, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, body, err := DecodeMessage(data)
		if err != nil {
			return
		}
		if typ == MsgError {
			var re *RemoteError
			if err := remoteError(body); errors.As(err, &re) && re.Code == "" {
				t.Fatal("remote error without a code")
			}
		}
	})
}

// The in-flight budget is reserved from the announced length before a
// message is read and given back when it ends, complete or not.
func TestInFlightBudget(t *testing.T) {
	cfg := Config{MTU: 64, Rate: -1}
	b := &budget{max: 1000}
	big := frames(t, cfg, make([]byte, 600))
	// A first message holding 600 bytes of the budget (its first frame only).
	if !b.take(600) {
		t.Fatal("budget refused the first reservation")
	}
	if _, err := newLink(&readOnly{bytes.NewReader(big)}, cfg).readLimited(1<<20, b); !errors.Is(err, ErrBusy) {
		t.Fatalf("second 600-byte message with 400 left: %v", err)
	}
	b.give(600)
	if _, err := newLink(&readOnly{bytes.NewReader(big)}, cfg).readLimited(1<<20, b); err != nil {
		t.Fatalf("with the budget back: %v", err)
	}
	if _, err := newLink(&readOnly{bytes.NewReader(big[:100])}, cfg).readLimited(1<<20, b); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if b.used != 0 {
		t.Fatalf("budget holds %d bytes after the messages ended", b.used)
	}
	if _, err := newLink(&readOnly{bytes.NewReader(big)}, cfg).readLimited(100, b); !errors.Is(err, ErrOversized) {
		t.Fatalf("over the per-phase limit: %v", err)
	}
}
