package ble

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Handler is the lock behind the link. lock.Lock implements it; every method
// takes and returns wire bytes so the link never interprets them. Handlers
// are called from many connections at once.
type Handler interface {
	Challenge() ([]byte, error)
	Unlock(request []byte) ([]byte, error)
	// ApplyBundle may return an ack together with an error: an authentic
	// bundle the lock refused is still acknowledged.
	ApplyBundle(sealed []byte) (ack []byte, err error)
	EventsSince(from uint64) ([]byte, error)
}

// IdleTimeout closes a connection nobody talks on, as a BLE peripheral
// drops a silent central.
const IdleTimeout = 30 * time.Second

// Serve accepts phone connections on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h Handler, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.Map
	defer conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
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
		conns.Store(c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conns.Delete(c)
			defer c.Close()
			serveConn(c, h, cfg, log.With("peer", c.RemoteAddr().String()))
		}()
	}
}

func serveConn(c net.Conn, h Handler, cfg Config, log *slog.Logger) {
	l := newLink(c, cfg)
	for {
		c.SetReadDeadline(time.Now().Add(IdleTimeout))
		msg, err := l.readMessage()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				log.Info("ble link closed", "err", err)
			}
			return
		}
		t, body, err := DecodeMessage(msg)
		var reply []byte
		if err != nil {
			reply = encodeMessage(MsgError, encodeError(err, nil))
		} else {
			reply = dispatch(h, t, body)
		}
		c.SetWriteDeadline(time.Now().Add(IdleTimeout + TransferTime(len(reply)*2, max(cfg.withDefaults().Rate, 1))))
		if err := l.writeMessage(reply); err != nil {
			log.Info("ble write failed", "err", err)
			return
		}
	}
}

func dispatch(h Handler, t MsgType, body []byte) []byte {
	var (
		out []byte
		err error
	)
	switch t {
	case MsgHello:
		if out, err = h.Challenge(); err == nil {
			return encodeMessage(MsgChallenge, out)
		}
	case MsgUnlock:
		if out, err = h.Unlock(body); err == nil {
			return encodeMessage(MsgUnlockResult, out)
		}
	case MsgBundle:
		if out, err = h.ApplyBundle(body); err == nil {
			return encodeMessage(MsgAck, out)
		}
	case MsgLogRequest:
		var from uint64
		if from, err = decodeLogRequest(body); err == nil {
			if out, err = h.EventsSince(from); err == nil {
				return encodeMessage(MsgEvents, out)
			}
		}
	default:
		err = errors.New("not a request")
		out = nil
	}
	return encodeMessage(MsgError, encodeError(err, out))
}
