package ble

import (
	"context"
	"crypto"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Session is a phone's connection to one lock. Its methods are the phone
// app's whole vocabulary: they run one request at a time.
type Session struct {
	conn net.Conn
	link *link
	mu   sync.Mutex
}

// Dial connects to the lock's simulated BLE link at addr (host:port).
func Dial(ctx context.Context, addr string, cfg Config) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ble: dial %s: %w", addr, err)
	}
	return &Session{conn: c, link: newLink(c, cfg)}, nil
}

// Close drops the link.
func (s *Session) Close() error { return s.conn.Close() }

func (s *Session) roundTrip(ctx context.Context, t MsgType, body []byte, want MsgType) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetDeadline(dl)
	} else {
		s.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := s.link.writeMessage(encodeMessage(t, body)); err != nil {
		return nil, s.ctxErr(ctx, err)
	}
	msg, err := s.link.readMessage()
	if err != nil {
		return nil, s.ctxErr(ctx, err)
	}
	rt, rbody, err := DecodeMessage(msg)
	if err != nil {
		return nil, err
	}
	if rt == MsgError {
		re, err := decodeError(rbody)
		if err != nil {
			return nil, err
		}
		return nil, re
	}
	if rt != want {
		return nil, fmt.Errorf("%w: reply type %d, want %d", lockproto.ErrMalformed, rt, want)
	}
	return rbody, nil
}

func (s *Session) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Hello asks the lock for a fresh challenge. It also tells the phone the
// lock's door-state version and next log sequence, so it knows what to relay.
func (s *Session) Hello(ctx context.Context) (*lockproto.Challenge, error) {
	body, err := s.roundTrip(ctx, MsgHello, nil, MsgChallenge)
	if err != nil {
		return nil, err
	}
	return lockproto.DecodeChallenge(body)
}

// Answer sends an unlock request built for a challenge already received.
func (s *Session) Answer(ctx context.Context, req *lockproto.UnlockRequest) (*lockproto.UnlockResult, error) {
	b, err := req.Encode()
	if err != nil {
		return nil, err
	}
	body, err := s.roundTrip(ctx, MsgUnlock, b, MsgUnlockResult)
	if err != nil {
		return nil, err
	}
	return lockproto.DecodeUnlockResult(body)
}

// Unlock runs challenge–response: a fresh challenge, answered with the
// credential and a device-key signature. The result says whether the door
// opened; a refusal is not an error.
func (s *Session) Unlock(ctx context.Context, credential []byte, device crypto.Signer) (*lockproto.UnlockResult, error) {
	ch, err := s.Hello(ctx)
	if err != nil {
		return nil, err
	}
	req, err := lockproto.NewUnlockRequest(ch, credential, device)
	if err != nil {
		return nil, err
	}
	return s.Answer(ctx, req)
}

// DeliverBundle relays a sealed bundle and returns the lock's signed ack for
// the cloud. When the lock refuses an authentic bundle (already applied,
// wrong base) the error is a *RemoteError that still carries the ack.
func (s *Session) DeliverBundle(ctx context.Context, sealed []byte) ([]byte, error) {
	return s.roundTrip(ctx, MsgBundle, sealed, MsgAck)
}

// FetchLog returns one lock-signed event batch starting at from. Batches are
// bounded; call again from the batch's end until it reaches Next.
func (s *Session) FetchLog(ctx context.Context, from uint64) ([]byte, error) {
	return s.roundTrip(ctx, MsgLogRequest, encodeLogRequest(from), MsgEvents)
}
