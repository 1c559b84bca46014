package lock

import (
	"fmt"
	"sync"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// Session is one phone's channel to the lock (§4.10), opened by OpenSession
// and fed the channel's encrypted messages by Handle. It holds the
// challenge: the channel's transcript, answerable once, within
// Options.ChallengeTTL. Because every connection has its own, no number of
// other connections can evict it.
type Session struct {
	l       *Lock
	mu      sync.Mutex
	ch      *lockproto.Channel
	expires time.Time // on the raw RTC: a short interval that must not jump with clock corrections
	proved  bool
	authed  bool
}

// OpenSession answers a phone's hello: the lock's ephemeral key and its
// signature over the transcript. The error is for a hello that is not one.
func (l *Lock) OpenSession(hello []byte) (*Session, []byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, reply, err := lockproto.AcceptChannel(l.prov.LockID, l.keys.priv, hello)
	if err != nil {
		return nil, nil, err
	}
	return &Session{l: l, ch: ch, expires: l.opts.Clock.Now().Add(l.opts.ChallengeTTL)}, reply, nil
}

// Authenticated says whether a phone proved a valid credential for this
// lock in this session; only then may it deliver bundles and read the log.
func (s *Session) Authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

// Handle opens one channel message, acts on it and returns the sealed
// reply. An error means the frame did not open (tampered, replayed,
// reordered or from another channel): the connection must be closed.
func (s *Session) Handle(frame []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, err := s.ch.Open(frame)
	if err != nil {
		return nil, err
	}
	return s.ch.Seal(s.dispatch(plain)), nil
}

func (s *Session) dispatch(plain []byte) []byte {
	t, body, err := lockproto.DecodeChannelMsg(plain)
	if err != nil {
		return lockproto.EncodeChannelMsg(lockproto.ChanError, lockproto.EncodeChannelError(err, nil))
	}
	var out []byte
	switch t {
	case lockproto.ChanUnlock, lockproto.ChanAuthenticate:
		var res lockproto.UnlockResult
		if _, res, err = s.prove(body, t == lockproto.ChanUnlock); err == nil {
			if out, err = res.Encode(); err == nil {
				return lockproto.EncodeChannelMsg(lockproto.ChanResult, out)
			}
		}
	case lockproto.ChanBundle:
		if err = s.needAuth(); err == nil {
			if out, err = s.l.ApplyBundle(body); err == nil {
				return lockproto.EncodeChannelMsg(lockproto.ChanAck, out)
			}
		}
	case lockproto.ChanManifest:
		if err = s.needAuth(); err == nil {
			var status []byte
			if status, out, err = s.l.OfferManifest(body); err == nil {
				return lockproto.EncodeChannelMsg(lockproto.ChanTransfer, status)
			}
		}
	case lockproto.ChanChunk:
		if err = s.needAuth(); err == nil {
			var status []byte
			var done bool
			status, out, done, err = s.l.OfferChunk(body)
			switch {
			case err == nil && done:
				return lockproto.EncodeChannelMsg(lockproto.ChanAck, out)
			case err == nil:
				return lockproto.EncodeChannelMsg(lockproto.ChanTransfer, status)
			}
		}
	case lockproto.ChanLogRequest:
		var from uint64
		if err = s.needAuth(); err == nil {
			if from, err = lockproto.DecodeLogRequest(body); err == nil {
				if out, err = s.l.EventsSince(from); err == nil {
					return lockproto.EncodeChannelMsg(lockproto.ChanEvents, out)
				}
			}
		}
	default:
		err = fmt.Errorf("%w: message type %d is not a request", lockproto.ErrMalformed, t)
	}
	return lockproto.EncodeChannelMsg(lockproto.ChanError, lockproto.EncodeChannelError(err, out))
}

func (s *Session) needAuth() error {
	if !s.authed {
		return lockproto.ErrNotAuthenticated
	}
	return nil
}

// prove decides a phone's proof. With open it is an unlock: decided, logged,
// and the door opens when granted. Without, it only establishes whether the
// phone may sync (a manual Door Sync does not open the door).
func (s *Session) prove(request []byte, open bool) (Decision, lockproto.UnlockResult, error) {
	l := s.l
	req, err := lockproto.DecodeUnlockRequest(request)
	// The time token the request carries is offered before l.mu is taken
	// and the window checks run, so an unlock after a clock reset judges by
	// recovered time. A token that does not verify changes nothing.
	if err == nil && len(req.TimeToken) > 0 {
		if terr := l.OfferTime(req.TimeToken); terr != nil {
			l.log.Warn("time token in an unlock refused", "err", terr)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var d Decision
	switch {
	case err != nil:
		d = Decision{Reason: ReasonMalformed}
	case s.proved || l.opts.Clock.Now().After(s.expires):
		// One proof per channel, while the handshake is fresh: a relay
		// cannot hold a lock's session open for a later answer.
		d = Decision{Reason: ReasonUnknownChallenge}
	case !l.holds(req):
		return Decision{Reason: ReasonNeedCredential}, lockproto.UnlockResult{V: lockproto.Version, Reason: ReasonNeedCredential,
			Version: l.st.Version, LogNext: l.events.next()}, nil
	default:
		d = l.decideUnlock(req, s.ch.Binding())
	}
	s.proved = true
	s.authed = authenticates(d.Reason)
	if open {
		d.Credential = "app"
		if d, err = l.conclude(d, lockproto.EventUnlockGranted, lockproto.EventUnlockDenied); err != nil {
			s.authed = false
			return d, lockproto.UnlockResult{}, err
		}
	} else {
		d.Granted = false
	}
	return d, lockproto.UnlockResult{V: lockproto.Version, Granted: d.Granted, Reason: d.Reason, Seq: d.Seq,
		Authenticated: s.authed, Version: l.st.Version, LogNext: l.events.next()}, nil
}
