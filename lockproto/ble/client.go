package ble

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Session is a phone's connection to one lock. Its methods are the phone
// app's whole vocabulary: they run one request at a time. Nothing but the
// hello is sent before Handshake has proven the lock is the one chosen.
type Session struct {
	conn net.Conn
	link *link
	mu   sync.Mutex
	ch   *lockproto.Channel
}

// Dial connects to the lock's simulated BLE link at addr (host:port). The
// session is usable once Handshake succeeds; DialLock does both.
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

// DialLock connects to lockID at addr and opens the channel with the lock
// key the phone learnt from the lock's certificate.
func DialLock(ctx context.Context, addr string, cfg Config, lockID string, lockPub ed25519.PublicKey) (*Session, error) {
	s, err := Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Handshake(ctx, lockID, lockPub); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close drops the link.
func (s *Session) Close() error { return s.conn.Close() }

func (s *Session) exchange(ctx context.Context, msg []byte) (MsgType, []byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetDeadline(dl)
	} else {
		s.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// Silence is bounded per frame, not per message: a bundle on a slow
	// link takes as long as it takes while frames keep coming.
	s.link.beforeFrame = func() {
		dl := time.Now().Add(s.link.cfg.IdleTimeout)
		if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
			dl = cd
		}
		s.conn.SetReadDeadline(dl)
		if ctx.Err() != nil {
			s.conn.SetDeadline(time.Unix(1, 0))
		}
	}
	if err := s.link.writeMessage(msg); err != nil {
		return 0, nil, s.ctxErr(ctx, err)
	}
	reply, err := s.link.readMessage()
	if err != nil {
		return 0, nil, s.ctxErr(ctx, err)
	}
	return DecodeMessage(reply)
}

func (s *Session) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Handshake opens the channel: it goes on only if the lock signs this
// handshake as lockID with lockPub (lockproto.PhoneHandshake.Finish). A
// fake lock or a relay to another door fails here, before the phone has
// sent anything personal.
func (s *Session) Handshake(ctx context.Context, lockID string, lockPub ed25519.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		return fmt.Errorf("ble: channel already open")
	}
	hs, hello, err := lockproto.NewPhoneHandshake(lockID, lockPub)
	if err != nil {
		return err
	}
	t, body, err := s.exchange(ctx, encodeMessage(MsgHello, hello))
	if err != nil {
		return err
	}
	switch t {
	case MsgError:
		return remoteError(body)
	case MsgAccept:
	default:
		return fmt.Errorf("%w: handshake reply type %d", lockproto.ErrMalformed, t)
	}
	ch, err := hs.Finish(body)
	if err != nil {
		return err
	}
	s.ch = ch
	return nil
}

// Request sends one request inside the channel and returns the body of its
// reply of type want; a refusal is a *RemoteError.
func (s *Session) Request(ctx context.Context, t lockproto.ChannelMsg, body []byte, want lockproto.ChannelMsg) ([]byte, error) {
	ct, cbody, err := s.request(ctx, t, body)
	if err != nil {
		return nil, err
	}
	if ct != want {
		return nil, fmt.Errorf("%w: reply type %d, want %d", lockproto.ErrMalformed, ct, want)
	}
	return cbody, nil
}

// request is Request with the reply's type left to the caller.
func (s *Session) request(ctx context.Context, t lockproto.ChannelMsg, body []byte) (lockproto.ChannelMsg, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		return 0, nil, fmt.Errorf("ble: no channel: handshake first")
	}
	rt, rbody, err := s.exchange(ctx, encodeMessage(MsgSealed, s.ch.Seal(lockproto.EncodeChannelMsg(t, body))))
	if err != nil {
		return 0, nil, err
	}
	if rt != MsgSealed {
		if rt == MsgError {
			return 0, nil, remoteError(rbody)
		}
		return 0, nil, fmt.Errorf("%w: reply type %d", lockproto.ErrMalformed, rt)
	}
	plain, err := s.ch.Open(rbody)
	if err != nil {
		return 0, nil, err
	}
	ct, cbody, err := lockproto.DecodeChannelMsg(plain)
	if err != nil {
		return 0, nil, err
	}
	if ct == lockproto.ChanError {
		return 0, nil, remoteError(cbody)
	}
	return ct, cbody, nil
}

func (s *Session) prove(ctx context.Context, t lockproto.ChannelMsg, credential []byte, device crypto.Signer, timeToken []byte, byRef bool) (*lockproto.UnlockResult, error) {
	s.mu.Lock()
	ch := s.ch
	s.mu.Unlock()
	if ch == nil {
		return nil, fmt.Errorf("ble: no channel: handshake first")
	}
	req, err := lockproto.NewUnlockRequest(ch, credential, device, timeToken)
	if err != nil {
		return nil, err
	}
	send := func(r *lockproto.UnlockRequest) (*lockproto.UnlockResult, error) {
		b, err := r.Encode()
		if err != nil {
			return nil, err
		}
		body, err := s.Request(ctx, t, b, lockproto.ChanResult)
		if err != nil {
			return nil, err
		}
		return lockproto.DecodeUnlockResult(body)
	}
	if byRef {
		res, err := send(req.ByRef())
		if err != nil || res.Reason != NeedCredential {
			return res, err
		}
	}
	return send(req)
}

// NeedCredential is the lock's answer to a proof by reference to a
// credential it does not hold; UnlockCached then sends it whole.
const NeedCredential = "need_credential"

// Unlock proves the credential with the device key, bound to this channel,
// and asks the lock to open. The result says whether the door opened; a
// refusal is not an error. It also authenticates the session for
// DeliverBundle and FetchLog. timeToken may be nil.
func (s *Session) Unlock(ctx context.Context, credential []byte, device crypto.Signer, timeToken []byte) (*lockproto.UnlockResult, error) {
	return s.prove(ctx, lockproto.ChanUnlock, credential, device, timeToken, false)
}

// UnlockCached is Unlock for a credential this lock accepted before: it
// names the credential by reference (16 bytes instead of the whole), and
// sends it whole only if the lock answers that it no longer holds it.
func (s *Session) UnlockCached(ctx context.Context, credential []byte, device crypto.Signer, timeToken []byte) (*lockproto.UnlockResult, error) {
	return s.prove(ctx, lockproto.ChanUnlock, credential, device, timeToken, true)
}

// Authenticate proves the credential without opening the door, for a
// manual Door Sync. Result.Authenticated says whether the lock accepted it.
func (s *Session) Authenticate(ctx context.Context, credential []byte, device crypto.Signer, timeToken []byte) (*lockproto.UnlockResult, error) {
	return s.prove(ctx, lockproto.ChanAuthenticate, credential, device, timeToken, true)
}

// DeliverBundle relays a sealed bundle and returns the lock's signed ack for
// the cloud. When the lock refuses an authentic bundle (already applied,
// wrong base) the error is a *RemoteError that still carries the ack.
func (s *Session) DeliverBundle(ctx context.Context, sealed []byte) ([]byte, error) {
	return s.Request(ctx, lockproto.ChanBundle, sealed, lockproto.ChanAck)
}

// FetchLog returns one lock-signed event batch starting at from. Batches are
// bounded; call again from the batch's end until it reaches Next.
func (s *Session) FetchLog(ctx context.Context, from uint64) ([]byte, error) {
	return s.Request(ctx, lockproto.ChanLogRequest, lockproto.EncodeLogRequest(from), lockproto.ChanEvents)
}
