package ble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Handler is the lock behind the link; locksim adapts lock.Lock to it. It
// is called from many connections at once.
type Handler interface {
	// OpenChannel answers a phone's hello (lockproto.AcceptChannel): the
	// connection's channel and the accept to send back.
	OpenChannel(hello []byte) (Channel, []byte, error)
}

// Channel is one connection's channel on the lock side (lock.Session).
type Channel interface {
	// Handle opens one sealed frame and returns the sealed reply; an error
	// (a frame that does not open) closes the connection.
	Handle(frame []byte) ([]byte, error)
	// Authenticated says a phone proved a valid credential in this
	// channel; until then messages are held to the size of a proof.
	Authenticated() bool
}

// Time limits of a connection, as a BLE peripheral drops a central that
// does not talk: the hello must come at once, a proof soon after, and an
// authenticated phone may then stay while it keeps talking — IdleTimeout
// is the longest silence between two frames, so a large message on a slow
// link (a snapshot at 333 B/s) is never cut for its length.
const (
	HandshakeTimeout = 5 * time.Second
	ProofTimeout     = 15 * time.Second
	IdleTimeout      = 30 * time.Second
)

// Serve accepts phone connections on ln until ctx ends. At most
// cfg.MaxConns are served at once; more are closed on arrival, so they can
// never displace a phone already connected.
func Serve(ctx context.Context, ln net.Listener, h Handler, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.Map
	defer conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	slots := make(chan struct{}, cfg.MaxConns)
	b := &budget{max: cfg.MaxInFlight}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		select {
		case slots <- struct{}{}:
		default:
			log.Warn("ble connection refused: all slots taken", "peer", c.RemoteAddr().String(), "max", cfg.MaxConns)
			c.Close()
			continue
		}
		conns.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer conns.Delete(c)
			defer c.Close()
			serveConn(c, h, cfg, b, log.With("peer", c.RemoteAddr().String()))
		}()
	}
}

func serveConn(c net.Conn, h Handler, cfg Config, b *budget, log *slog.Logger) {
	l := newLink(c, cfg)
	write := func(reply []byte) bool {
		c.SetWriteDeadline(time.Now().Add(cfg.IdleTimeout + TransferTime(len(reply)*2, max(cfg.Rate, 1))))
		if err := l.writeMessage(reply); err != nil {
			log.Info("ble write failed", "err", err)
			return false
		}
		return true
	}
	closed := func(err error) {
		if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			log.Info("ble link closed", "err", err)
		}
	}
	start := time.Now()
	c.SetReadDeadline(start.Add(HandshakeTimeout))
	msg, err := l.readLimited(limitHello, b)
	if err != nil {
		closed(err)
		return
	}
	t, body, err := DecodeMessage(msg)
	if err == nil && t != MsgHello {
		err = fmt.Errorf("%w: a connection starts with a hello", lockproto.ErrMalformed)
	}
	var ch Channel
	var accept []byte
	if err == nil {
		ch, accept, err = h.OpenChannel(body)
	}
	if err != nil {
		log.Info("ble handshake refused", "err", err)
		write(refusal(msg, err))
		return
	}
	if !write(encodeMessage(MsgAccept, accept)) {
		return
	}
	for {
		limit := limitUnproven
		c.SetReadDeadline(start.Add(ProofTimeout))
		l.beforeFrame = nil
		if ch.Authenticated() {
			limit = cfg.MaxMessage
			l.beforeFrame = func() { c.SetReadDeadline(time.Now().Add(cfg.IdleTimeout)) }
		}
		msg, err := l.readLimited(limit, b)
		if err != nil {
			closed(err)
			return
		}
		t, body, err := DecodeMessage(msg)
		if err == nil && t != MsgSealed {
			err = fmt.Errorf("%w: only sealed messages after the handshake", lockproto.ErrMalformed)
		}
		if err != nil {
			log.Info("ble link closed", "err", err)
			write(refusal(msg, err))
			return
		}
		out, err := ch.Handle(body)
		if err != nil {
			log.Info("ble channel broken", "err", err)
			return
		}
		if !write(encodeMessage(MsgSealed, out)) {
			return
		}
	}
}
