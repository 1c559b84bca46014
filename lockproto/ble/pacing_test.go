package ble

import (
	"net"
	"testing"
	"time"
)

// TestPacingOnLoopback measures the rate a receiver sees on a real
// loopback TCP link: small messages, one frame each, arrive no faster
// than the configured rate from the very first frame.
func TestPacingOnLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const rate = 2000
	cfg := Config{Rate: rate}
	type arrival struct {
		at  time.Time
		err error
	}
	got := make(chan arrival, 1)
	const msgs, size = 8, 40
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- arrival{err: err}
			return
		}
		defer c.Close()
		// The lock's side reads whole frames; count the bytes of all of them.
		_, wire := Frames(size, DefaultMTU)
		buf := make([]byte, msgs*wire)
		n := 0
		for n < len(buf) {
			k, err := c.Read(buf[n:])
			if err != nil {
				got <- arrival{err: err}
				return
			}
			n += k
		}
		got <- arrival{at: time.Now()}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := newLink(c, cfg)
	start := time.Now()
	for range msgs {
		if err := w.writeMessage(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	_, wire := Frames(size, DefaultMTU)
	el := a.at.Sub(start)
	want := TransferTime(msgs*wire, rate)
	t.Logf("%d one-frame messages, %d bytes on the link, received in %v: %.0f B/s at a rate of %d B/s (floor %v)",
		msgs, msgs*wire, el.Round(time.Millisecond), float64(msgs*wire)/el.Seconds(), rate, want.Round(time.Millisecond))
	if el < want {
		t.Fatalf("received %d bytes in %v: faster than %d B/s allows (%v)", msgs*wire, el, rate, want)
	}
}
