package mqtt

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// inlineClient is the cloud's client on the embedded broker's in-process
// ("inline") client: no TCP connection, no outbound channel and no
// goroutine. A lock's message is handed to the handler by the goroutine
// that read it from the lock's connection, after the broker acknowledged
// it to the lock: when Door Sync holds the handler back (backpressure),
// that lock's connection stops being read and the message waits in its
// socket, instead of in an outbound channel of the broker, which drops
// what does not fit.
type inlineClient struct {
	server *mochi.Server
	log    *slog.Logger
	since  time.Time

	// deliver makes handlers run one at a time, as on a connection's
	// receive path (Handler). A handler must not publish to a filter of
	// this client: the delivery would wait for itself.
	deliver sync.Mutex

	mu     sync.Mutex
	subs   map[string]*inlineSub // by filter
	nextID int
}

type inlineSub struct {
	id      int
	qos     byte
	handler atomic.Pointer[Handler]
}

// Client returns the cloud's client on the broker's inline client, with
// every right of the service user (the inline client is not checked by
// the ACL). It is connected until Close and never reconnects; Close does
// not stop the broker. Subscribing delivers the retained messages of the
// filter before Subscribe returns. Message.Retain is the flag the message
// was published with. Shared subscriptions are refused: the embedded
// broker serves one server.
func (e *Embedded) Client(logger *slog.Logger) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ic := &inlineClient{server: e.server, log: logger.With("broker", "inline"), since: time.Now(), subs: map[string]*inlineSub{}}
	c := &Client{inline: ic, log: ic.log, host: "inline", ready: make(chan struct{})}
	c.state = ConnState{Up: true, Since: ic.since}
	close(c.ready)
	return c
}

func (ic *inlineClient) publish(topic string, payload []byte, qos byte, retain bool) error {
	// mochi keeps (retain) and queues (to each subscriber) copies; the
	// caller's slice is not kept.
	if err := ic.server.Publish(topic, payload, retain, qos); err != nil {
		return fmt.Errorf("mqtt: publish %s: %w", topic, err)
	}
	return nil
}

func (ic *inlineClient) subscribe(filter string, qos byte, h Handler) error {
	if strings.HasPrefix(filter, "$share/") {
		return fmt.Errorf("%w: %q: the embedded broker has no shared subscriptions", ErrInvalidTopic, filter)
	}
	ic.mu.Lock()
	if s, ok := ic.subs[filter]; ok {
		s.handler.Store(&h) // replaces the handler, as Client.Subscribe says
		ic.mu.Unlock()
		return nil
	}
	ic.nextID++
	s := &inlineSub{id: ic.nextID, qos: qos}
	s.handler.Store(&h)
	ic.subs[filter] = s
	ic.mu.Unlock()
	err := ic.server.Subscribe(filter, s.id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		ic.handle(s, pk)
	})
	if err != nil {
		ic.mu.Lock()
		delete(ic.subs, filter)
		ic.mu.Unlock()
		return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
	}
	return nil
}

// handle runs on the goroutine of the connection the message came from.
func (ic *inlineClient) handle(s *inlineSub, pk packets.Packet) {
	h := s.handler.Load()
	if h == nil {
		return // unsubscribed by Close
	}
	qos := pk.FixedHeader.Qos
	if qos > s.qos {
		qos = s.qos
	}
	// The payload is mochi's slice: read fresh for each packet and never
	// reused, so a handler may keep it, but a retained message's slice is
	// also the broker's stored copy: handlers must not modify it (Door Sync
	// only reads).
	m := Message{Topic: pk.TopicName, Payload: pk.Payload, QoS: qos, Retain: pk.FixedHeader.Retain}
	ic.deliver.Lock()
	defer ic.deliver.Unlock()
	if h := s.handler.Load(); h != nil {
		(*h)(m)
	}
}

func (ic *inlineClient) close() {
	ic.mu.Lock()
	subs := ic.subs
	ic.subs = map[string]*inlineSub{}
	ic.mu.Unlock()
	for filter, s := range subs {
		s.handler.Store(nil)
		_ = ic.server.Unsubscribe(filter, s.id)
	}
}
