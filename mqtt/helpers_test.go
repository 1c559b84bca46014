package mqtt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// wait bounds every expectation. It exceeds the client's 30 s reconnect
// backoff cap, so a reconnect after a broker restart always fits even on a
// loaded CI machine; passing tests never wait this long.
const wait = 35 * time.Second

// MustStartBroker starts an embedded broker on a free loopback port and
// returns it with the service password.
func MustStartBroker(t testing.TB) (*mqtt.Embedded, string) {
	t.Helper()
	password, hash := mqtt.NewSecret()
	b, err := mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: "127.0.0.1:0", ServiceSecret: hash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, password
}

// MustConnect connects and closes the client at the end of the test.
func MustConnect(t testing.TB, cfg mqtt.ClientConfig) *mqtt.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := mqtt.Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s as %q: %v", cfg.URL, cfg.Username, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ServiceConfig is the cloud's client configuration for broker b.
func ServiceConfig(b *mqtt.Embedded, password string) mqtt.ClientConfig {
	return mqtt.ClientConfig{URL: b.URL(), ClientID: "cloud-" + uniqueID(), Username: mqtt.DefaultServiceUser, Password: password}
}

// MustProvisionLock registers a new lock with broker b and returns its
// client configuration.
func MustProvisionLock(t testing.TB, b *mqtt.Embedded) mqtt.ClientConfig {
	t.Helper()
	lockID := "lock-" + uniqueID()
	password, hash := mqtt.NewSecret()
	if err := b.PutLock(lockID, hash); err != nil {
		t.Fatal(err)
	}
	cfg, err := mqtt.LockConfig(b.URL(), lockID, password)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func uniqueID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Inbox collects the messages of one or more subscriptions.
type Inbox chan mqtt.Message

func NewInbox() Inbox { return make(Inbox, 1024) }

func (in Inbox) Handle(m mqtt.Message) { in <- m }

// MustSubscribe subscribes c to filter, collecting into a new inbox.
func MustSubscribe(t testing.TB, c *mqtt.Client, filter string) Inbox {
	t.Helper()
	in := NewInbox()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Subscribe(ctx, filter, 1, in.Handle); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return in
}

// Expect returns the next message on topic, skipping others.
func (in Inbox) Expect(t testing.TB, topic string) mqtt.Message {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-in:
			if m.Topic == topic {
				return m
			}
		case <-deadline:
			t.Fatalf("no message on %s within %s", topic, wait)
		}
	}
}

// ExpectPayloads waits for every topic's payload, in any order: two clients
// connecting at once may announce themselves in either order.
func (in Inbox) ExpectPayloads(t testing.TB, want map[string]string) {
	t.Helper()
	left := maps.Clone(want)
	deadline := time.After(wait)
	for len(left) > 0 {
		select {
		case m := <-in:
			if p, ok := left[m.Topic]; ok && p == string(m.Payload) {
				delete(left, m.Topic)
			}
		case <-deadline:
			t.Fatalf("still waiting within %s for %v", wait, left)
		}
	}
}

// ExpectPayload waits for payload on topic, skipping other messages.
func (in Inbox) ExpectPayload(t testing.TB, topic, payload string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-in:
			if m.Topic == topic && string(m.Payload) == payload {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on %s within %s", payload, topic, wait)
		}
	}
}

// ExpectNone fails if anything arrives within d.
func (in Inbox) ExpectNone(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-in:
		t.Fatalf("unexpected message on %s: %q", m.Topic, m.Payload)
	case <-time.After(d):
	}
}

func MustPublish(t testing.TB, c *mqtt.Client, topic, payload string, retain bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Publish(ctx, topic, []byte(payload), 1, retain); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// Proxy is a TCP relay between clients and a broker that can break the
// network the way the field does: cut every connection at once, or go
// silent while keeping the connections open.
type Proxy struct {
	ln       net.Listener
	upstream string
	silent   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, upstream: upstream}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	return p
}

func (p *Proxy) URL() string { return "mqtt://" + p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		go p.pipe(up, down)
		go p.pipe(down, up)
	}
}

// pipe copies src to dst, swallowing everything while the proxy is silent.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

// Cut closes every relayed connection, as a lost link does.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Silence drops all traffic from now on without closing anything.
func (p *Proxy) Silence() { p.silent.Store(true) }
