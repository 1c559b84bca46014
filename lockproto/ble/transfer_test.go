package ble_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

// oldLock is a lock whose firmware predates chunked transfer: it proves
// phones and answers every other request as an unknown message type, as
// a lock of the previous release does (lock.Session's dispatch).
type oldLock struct {
	id   string
	priv ed25519.PrivateKey
}

type oldChannel struct {
	mu sync.Mutex
	ch *lockproto.Channel
}

func (o oldLock) OpenChannel(hello []byte) (ble.Channel, []byte, error) {
	ch, accept, err := lockproto.AcceptChannel(o.id, o.priv, hello)
	if err != nil {
		return nil, nil, err
	}
	return &oldChannel{ch: ch}, accept, nil
}

func (c *oldChannel) Authenticated() bool { return true }

func (c *oldChannel) Handle(frame []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	plain, err := c.ch.Open(frame)
	if err != nil {
		return nil, err
	}
	t, _, _ := lockproto.DecodeChannelMsg(plain)
	if t == lockproto.ChanAuthenticate {
		res, _ := (&lockproto.UnlockResult{V: lockproto.Version, Authenticated: true, Reason: "granted"}).Encode()
		return c.ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanResult, res)), nil
	}
	// The previous release's DecodeChannelMsg stopped at ChanError.
	return c.ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanError,
		lockproto.EncodeChannelError(lockproto.ErrMalformed, nil))), nil
}

// TestChunkedToOldLockFailsClosed: a phone with a chunked bundle and a
// lock that does not know chunks: a clear error, nothing sent but the
// manifest.
func TestChunkedToOldLockFailsClosed(t *testing.T) {
	pub, priv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("lock-old")
	b := lockproto.Bundle{LockID: keys.LockID, Version: 1, Snapshot: true, TrustedTime: time.Now()}
	for i := range 1000 {
		b.Doorcodes = append(b.Doorcodes, lockproto.DoorcodeEntry{Code: "1" + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100%10)) + "5", PersonID: "person"})
	}
	sealed, err := lockproto.SealBundle(priv, keys.Symmetric, b)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := lockproto.SignBundleManifest(priv, sealed, lockproto.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ble.Serve(ctx, ln, oldLock{keys.LockID, keys.Private}, ble.Config{Rate: -1}, nil)
	s, err := ble.DialLock(ctx, ln.Addr().String(), ble.Config{Rate: -1}, keys.LockID, keys.Public)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Authenticate(ctx, []byte("cred"), ed25519.NewKeyFromSeed(make([]byte, 32)), nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.DeliverChunked(ctx, manifest, sealed, nil)
	if !errors.Is(err, ble.ErrNoChunking) {
		t.Fatalf("chunked bundle to an old lock: %v, want ErrNoChunking", err)
	}
}
