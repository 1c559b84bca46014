package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Errors returned by Client.
var (
	ErrInvalidURL    = errors.New("mqtt: invalid broker URL")
	ErrRefused       = errors.New("mqtt: broker refused the connection")
	ErrNotAuthorized = errors.New("mqtt: not authorized")
	ErrClosed        = errors.New("mqtt: client closed")
)

// DefaultKeepAlive is the keep-alive of a client that sets none. The broker
// drops a connection silent for 1.5 times this and publishes its will, so it
// bounds how long a dead lock still shows as online.
const DefaultKeepAlive = 30 * time.Second

// Message is one MQTT application message.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Handler receives the messages of a subscription. Handlers run one at a
// time on the connection's receive path, and a QoS 1 message is
// acknowledged to the broker only when its handler returns: keep them short
// (hand slow work to a queue).
type Handler func(Message)

// ClientConfig configures Connect.
type ClientConfig struct {
	// URL is the broker, "mqtt://host:port" or, with TLS, "mqtts://host:port"
	// (default ports 1883 and 8883).
	URL string
	// ClientID identifies the session; a lock uses its lock id, which the
	// embedded broker enforces. Required.
	ClientID string
	Username string
	Password string
	// Will is published by the broker when the connection is lost without a
	// clean disconnect, and also on Close (which asks the broker for it).
	Will *Message
	// Birth is published on every connection, before Connect returns and
	// again after each reconnect: the counterpart of Will.
	Birth *Message
	// KeepAlive is the MQTT keep-alive; 0 means DefaultKeepAlive.
	KeepAlive time.Duration
	// TLS configures mqtts:// connections; nil uses the system roots.
	TLS *tls.Config
	// Logger receives connection losses and reconnections; nil discards them.
	Logger *slog.Logger
	// ReceiveMaximum is the MQTT 5 Receive Maximum the client asks of the
	// broker: how many QoS 1 messages it may have sent the client and not
	// had acknowledged; more wait at the broker. 0 leaves the protocol's
	// 65,535. The client also keeps a queue of this many received
	// messages for its handlers.
	ReceiveMaximum uint16
}

// LockReceiveMaximum is the Receive Maximum of a lock's connection
// (LockConfig). A lock takes one bundle at a time and acknowledges it
// after applying it, so it never needs many QoS 1 messages in flight,
// and a lock has little memory: the client library sizes its receive
// queue by this number (at 65,535, 512 KB of pointers per connection,
// which at 10,000 simulated locks in one process was 5 GB the garbage
// collector scanned on every cycle).
const LockReceiveMaximum = 16

// LockConfig returns the client configuration of lock lockID: client id and
// username are the lock id, the retained status topic says StatusOnline on
// every connection and StatusOffline (the will) when the lock goes away.
func LockConfig(brokerURL, lockID, password string) (ClientConfig, error) {
	status, err := Topic(KindStatus, lockID)
	if err != nil {
		return ClientConfig{}, err
	}
	return ClientConfig{
		URL:      brokerURL,
		ClientID: lockID,
		Username: lockID,
		Password: password,
		Will:     &Message{Topic: status, Payload: []byte(StatusOffline), QoS: 1, Retain: true},
		Birth:    &Message{Topic: status, Payload: []byte(StatusOnline), QoS: 1, Retain: true},

		ReceiveMaximum: LockReceiveMaximum,
	}, nil
}

// Client is an MQTT v5 client that reconnects by itself and renews its
// subscriptions after every reconnect. Sessions are clean: messages
// published while a client is away are not queued for it, so whoever needs
// delivery (the Door Sync outbox) republishes until the lock acknowledges.
type Client struct {
	cm     *autopaho.ConnectionManager
	inline *inlineClient // the embedded broker's in-process client (Embedded.Client); cm is nil
	cancel context.CancelFunc
	log    *slog.Logger
	birth  *Message
	host   string

	ready     chan struct{} // closed once the first connection is established
	readyOnce sync.Once
	closed    atomic.Bool
	closeOnce sync.Once

	mu   sync.Mutex
	subs map[string]subscription // by filter

	refused chan error   // a CONNACK refusal (bad credentials)
	lastErr atomic.Value // error of the latest failed attempt

	stateMu sync.Mutex
	state   ConnState
}

// ConnState is what a client knows about its connection, for health
// reports: whether it is up, since when, and why the latest attempt (or
// the connection) failed.
type ConnState struct {
	Up bool
	// Since is when the connection last came up or went down (the client's
	// start while it has never connected).
	Since time.Time
	// Error is the latest connection error (empty once connected).
	Error string
	// Refused is set when the broker turned the credentials away; the
	// client keeps trying (an operator may fix the broker's side).
	Refused bool
}

// State is the connection's current state.
func (c *Client) State() ConnState {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state
}

func (c *Client) setState(up bool, err error) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if up != c.state.Up {
		c.state.Since = time.Now()
	}
	c.state.Up = up
	c.state.Error, c.state.Refused = "", false
	if err != nil {
		c.state.Error = err.Error()
		var connack *autopaho.ConnackError
		c.state.Refused = errors.As(err, &connack)
	}
}

type subscription struct {
	qos     byte
	handler Handler
}

// Connect connects to the broker and returns once the first connection is
// up (and Birth published). It fails at once with ErrRefused when the broker
// rejects the credentials, and with ctx's error, carrying the last
// connection error, when the broker cannot be reached before ctx ends. After
// Connect returns, ctx no longer matters: the client lives until Close.
func Connect(ctx context.Context, cfg ClientConfig) (*Client, error) {
	c, err := Dial(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.ready:
		return c, nil
	case err := <-c.refused:
		_ = c.Close()
		return nil, fmt.Errorf("%w: %s as %q: %w", ErrRefused, c.host, cfg.Username, err)
	case <-ctx.Done():
		_ = c.Close()
		if err, ok := c.lastErr.Load().(error); ok {
			return nil, fmt.Errorf("mqtt: connect to %s: %w (last attempt: %w)", c.host, ctx.Err(), err)
		}
		return nil, fmt.Errorf("mqtt: connect to %s: %w", c.host, ctx.Err())
	}
}

// Dial checks cfg and returns a client at once; it connects in the
// background and keeps retrying (with backoff) whatever the broker says,
// until Close. Publish and Subscribe wait for the connection; State says
// how it stands. A server uses it so that an unreachable broker delays
// only what needs the broker.
func Dial(cfg ClientConfig) (*Client, error) {
	u, err := ParseBrokerURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("mqtt: client id required")
	}
	for _, m := range []*Message{cfg.Will, cfg.Birth} {
		if m == nil {
			continue
		}
		if err := checkPublish(m.Topic, m.QoS); err != nil {
			return nil, err
		}
	}
	keepAlive := cfg.KeepAlive
	if keepAlive == 0 {
		keepAlive = DefaultKeepAlive
	}
	if keepAlive < time.Second || keepAlive > 0xFFFF*time.Second {
		return nil, fmt.Errorf("mqtt: keep-alive %s out of range", keepAlive)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("broker", u.Host, "client_id", cfg.ClientID)

	c := &Client{log: logger, birth: cfg.Birth, host: u.Host, ready: make(chan struct{}), subs: map[string]subscription{}, refused: make(chan error, 1)}
	c.state.Since = time.Now()

	acfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        cfg.TLS,
		KeepAlive:                     uint16(keepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		// Jittered, so a thousand locks do not reconnect in one burst after a
		// broker restart, and quick at first, so a restart costs seconds.
		ReconnectBackoff: autopaho.NewExponentialBackoff(50*time.Millisecond, 30*time.Second, time.Second, 2),
		ConnectTimeout:   10 * time.Second,
		ConnectUsername:  cfg.Username,
		ConnectPassword:  []byte(cfg.Password),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go c.established(cm) // c.cm may not be set yet on the first connection
		},
		OnConnectError: func(err error) {
			c.lastErr.Store(err)
			c.setState(false, err)
			var connack *autopaho.ConnackError
			if errors.As(err, &connack) {
				select {
				case c.refused <- err:
				default:
				}
			}
			logger.Warn("mqtt: connection attempt failed", "error", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){c.route},
			OnClientError: func(err error) {
				c.setState(false, err)
				logger.Warn("mqtt: connection lost", "error", err)
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				c.setState(false, fmt.Errorf("broker closed the connection (reason code 0x%02x)", d.ReasonCode))
				logger.Warn("mqtt: broker closed the connection", "reason_code", d.ReasonCode)
			},
		},
	}
	if rm := cfg.ReceiveMaximum; rm > 0 {
		acfg.ConnectPacketBuilder = func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.ReceiveMaximum = &rm
			return cp, nil
		}
	}
	if w := cfg.Will; w != nil {
		acfg.WillMessage = &paho.WillMessage{Topic: w.Topic, Payload: w.Payload, QoS: w.QoS, Retain: w.Retain}
		acfg.WillProperties = &paho.WillProperties{}
		// Reason code 0x04, "disconnect with will message": a lock that shuts
		// down cleanly is just as offline as one that lost power.
		acfg.DisconnectPacketBuilder = func() *paho.Disconnect { return &paho.Disconnect{ReasonCode: 0x04} }
	}

	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.cm, err = autopaho.NewConnection(runCtx, acfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return c, nil
}

// established renews the subscriptions and publishes Birth on a new
// connection. Reconnecting gives a clean session, so the broker has
// forgotten both.
func (c *Client) established(cm *autopaho.ConnectionManager) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	var opts []paho.SubscribeOptions
	for filter, s := range c.subs {
		opts = append(opts, paho.SubscribeOptions{Topic: filter, QoS: s.qos})
	}
	c.mu.Unlock()
	if len(opts) > 0 {
		if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts}); err != nil {
			c.log.Warn("mqtt: renewing subscriptions failed", "error", err)
		}
	}
	if b := c.birth; b != nil {
		if _, err := cm.Publish(ctx, &paho.Publish{Topic: b.Topic, Payload: b.Payload, QoS: b.QoS, Retain: b.Retain}); err != nil {
			c.log.Warn("mqtt: publishing birth message failed", "topic", b.Topic, "error", err)
		}
	}
	c.setState(true, nil)
	c.log.Info("mqtt: connected")
	c.readyOnce.Do(func() { close(c.ready) })
}

// route hands a received message to every handler whose filter matches.
func (c *Client) route(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	c.mu.Lock()
	var handlers []Handler
	for filter, s := range c.subs {
		if matchFilter(filter, p.Topic) {
			handlers = append(handlers, s.handler)
		}
	}
	c.mu.Unlock()
	m := Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain}
	for _, h := range handlers {
		h(m)
	}
	return len(handlers) > 0, nil
}

// Publish publishes payload on topic and, at QoS 1, waits for the broker's
// PUBACK. While the connection is down it waits for the reconnection, up to
// ctx. A broker that refuses the topic yields ErrNotAuthorized.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := checkPublish(topic, qos); err != nil {
		return err
	}
	if c.inline != nil {
		return c.inline.publish(topic, payload, qos, retain)
	}
	for {
		if err := c.await(ctx); err != nil {
			return fmt.Errorf("mqtt: publish %s: %w", topic, err)
		}
		resp, err := c.cm.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
		if errors.Is(err, autopaho.ConnectionDownError) {
			continue // dropped between await and send; wait for the next connection
		}
		if resp != nil && resp.ReasonCode == 0x87 {
			return fmt.Errorf("%w: publish %s", ErrNotAuthorized, topic)
		}
		if err != nil {
			if c.closed.Load() {
				return ErrClosed
			}
			return fmt.Errorf("mqtt: publish %s: %w", topic, err)
		}
		return nil
	}
}

// Subscribe subscribes to filter and delivers its messages to h until
// Close, renewing the subscription after every reconnect. It waits for the
// broker's SUBACK; a broker that refuses the filter yields ErrNotAuthorized.
// Subscribing again to the same filter replaces the handler.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, h Handler) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if !validFilter(filter) || qos > 1 || h == nil {
		return fmt.Errorf("%w: cannot subscribe to %q at QoS %d", ErrInvalidTopic, filter, qos)
	}
	if c.inline != nil {
		return c.inline.subscribe(filter, qos, h)
	}
	c.mu.Lock()
	c.subs[filter] = subscription{qos: qos, handler: h}
	c.mu.Unlock()
	err := c.subscribe(ctx, filter, qos)
	if err != nil {
		c.mu.Lock()
		delete(c.subs, filter)
		c.mu.Unlock()
	}
	return err
}

func (c *Client) subscribe(ctx context.Context, filter string, qos byte) error {
	for {
		if err := c.await(ctx); err != nil {
			return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
		}
		ack, err := c.cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
		if errors.Is(err, autopaho.ConnectionDownError) {
			continue
		}
		if ack != nil && len(ack.Reasons) == 1 && ack.Reasons[0] >= 0x80 {
			return fmt.Errorf("%w: subscribe %s (reason code 0x%02x)", ErrNotAuthorized, filter, ack.Reasons[0])
		}
		if err != nil {
			if c.closed.Load() {
				return ErrClosed
			}
			return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
		}
		return nil
	}
}

// await waits for a live connection.
func (c *Client) await(ctx context.Context) error {
	if err := c.cm.AwaitConnection(ctx); err != nil {
		if c.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("not connected: %w", err)
	}
	return nil
}

// Close disconnects (asking the broker to publish the Will, if any) and
// stops reconnecting. Calls on a closed client return ErrClosed.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.inline != nil {
			c.inline.close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.cm.Disconnect(ctx)
		c.cancel()
	})
	return nil
}

// ParseBrokerURL checks a broker URL, "mqtt://host:port" or
// "mqtts://host:port", and fills in the default port.
func ParseBrokerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, raw, err)
	}
	var port string
	switch u.Scheme {
	case "mqtt":
		port = "1883"
	case "mqtts":
		port = "8883"
	default:
		return nil, fmt.Errorf("%w: %q: unknown scheme %q, want mqtt://host:port or mqtts://host:port", ErrInvalidURL, raw, u.Scheme)
	}
	switch {
	case u.Hostname() == "":
		return nil, fmt.Errorf("%w: %q: no host", ErrInvalidURL, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%w: %q: credentials belong in the client configuration, not the URL", ErrInvalidURL, raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("%w: %q: unexpected path or query", ErrInvalidURL, raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: %q: bad port %q", ErrInvalidURL, raw, p)
		}
		port = p
	}
	return &url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), port)}, nil
}

func checkPublish(topic string, qos byte) error {
	if topic == "" || len(topic) > 0xFFFF || strings.ContainsAny(topic, "+#\x00") || !utf8.ValidString(topic) {
		return fmt.Errorf("%w: cannot publish to %q", ErrInvalidTopic, topic)
	}
	if qos > 1 {
		return fmt.Errorf("mqtt: QoS %d not supported, use 0 or 1", qos)
	}
	return nil
}

// validFilter checks the MQTT rules for a subscription filter: '#' only as
// the whole last level, '+' only as a whole level.
func validFilter(filter string) bool {
	if filter == "" || len(filter) > 0xFFFF || strings.ContainsRune(filter, 0) || !utf8.ValidString(filter) {
		return false
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// matchFilter reports whether topic matches filter, shared-subscription
// prefix ("$share/{group}/") included.
func matchFilter(filter, topic string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, filter, ok = strings.Cut(rest, "/"); !ok {
			return false
		}
	}
	// Wildcards at the first level do not match topics starting with '$' [MQTT-4.7.2-1].
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(t) || (l != "+" && l != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}
