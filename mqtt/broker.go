package mqtt

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"sync"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultEmbeddedAddr is where the server's embedded broker listens unless
// told otherwise: loopback only, and not 1883, which a system Mosquitto
// may already hold.
const DefaultEmbeddedAddr = "127.0.0.1:18830"

// DefaultServiceUser is the username of the cloud's service account.
const DefaultServiceUser = "dooros-cloud"

// Broker is an MQTT broker the server runs itself and whose lock credentials
// it manages. An external broker (Mosquitto, EMQX) is not a Broker: the
// server only connects to it as a client, and its credentials and ACLs are
// the operator's configuration (docs/mqtt.md).
type Broker interface {
	// URL is where clients connect, e.g. "mqtt://127.0.0.1:18830".
	URL() string
	// SetLocks replaces the whole set of lock credentials, e.g. with the
	// hashes loaded from the database at start. Locks whose credentials
	// changed or disappeared are disconnected.
	SetLocks(locks map[string]SecretHash) error
	// PutLock adds a lock or rotates its credentials (re-provisioning). The
	// old password stops working at once and sessions that used it are
	// disconnected.
	PutLock(lockID string, hash SecretHash) error
	// RemoveLock forgets a lock and disconnects it.
	RemoveLock(lockID string)
	// Close stops the broker and disconnects every client.
	Close() error
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	// Addr is the TCP address to listen on; empty means DefaultEmbeddedAddr.
	// Port 0 picks a free port; Embedded.Addr reports it.
	Addr string
	// ServiceUser is the cloud's username; empty means DefaultServiceUser.
	ServiceUser string
	// ServiceSecret is the hash of the cloud's password (see NewSecret).
	// Required: the broker has no anonymous access.
	ServiceSecret SecretHash
	// Locks is the initial lock credential set, as for SetLocks.
	Locks map[string]SecretHash
	// MaxPacketSize bounds every MQTT packet in bytes; 0 means 4 MiB, room
	// for a full snapshot bundle of a busy entrance door.
	MaxPacketSize uint32
	// Logger receives broker logs and refused connections; nil discards them.
	Logger *slog.Logger
}

// Embedded is the broker the server runs in its own process by default,
// built on mochi-mqtt.
type Embedded struct {
	server *mochi.Server
	auth   *authHook
	addr   string

	closeOnce sync.Once
}

var _ Broker = (*Embedded)(nil)

// brokerWritesPending is the embedded broker's outbound channel per
// network client (see StartEmbedded).
const brokerWritesPending = 64

// brokerReadBuffer is the read buffer of each network client (mochi's
// default 2 KB). A lock sends short messages (acks, status, event batches of
// a few hundred bytes); a packet larger than the buffer is read straight
// into its own slice, so the size only sets how many reads a packet takes.
const brokerReadBuffer = 1024

// Dropped is how many messages to its clients the broker dropped since it
// started: in-flight quota reached, packet ids exhausted, or a client's
// outbound channel full (each also logged as a warning).
func (e *Embedded) Dropped() int64 {
	return atomic.LoadInt64(&e.server.Info.InflightDropped) + atomic.LoadInt64(&e.server.Info.MessagesDropped)
}

// StartEmbedded starts an embedded broker and returns once it accepts
// connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultEmbeddedAddr
	}
	if cfg.ServiceUser == "" {
		cfg.ServiceUser = DefaultServiceUser
	}
	if err := CheckLockID(cfg.ServiceUser); err != nil {
		return nil, fmt.Errorf("mqtt: service user %q: use letters, digits, '.', '_' or '-'", cfg.ServiceUser)
	}
	if cfg.ServiceSecret == (SecretHash{}) {
		return nil, errors.New("mqtt: embedded broker needs a service secret")
	}
	if cfg.MaxPacketSize == 0 {
		cfg.MaxPacketSize = 4 << 20
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = cfg.MaxPacketSize
	// Sessions of locks that never come back must not pile up in memory.
	caps.MaximumSessionExpiryInterval = 24 * 60 * 60
	// QoS 1 messages the broker may have in flight to one network client
	// before it drops further ones ("client store quota reached"). Locks
	// get a few. When the cloud's client was a TCP client, mochi's default
	// (8,192) dropped 39,063 of its acks with 10,000 locks
	// (scripts/bench-fleet.sh); the inline client has no in-flight window,
	// but a service client over TCP still may. 65,535 is the MQTT packet id
	// space; the map holding them grows only as far as it is used.
	caps.MaximumInflight = math.MaxUint16
	// Every network client gets an outbound channel of
	// MaximumClientWritesPending packets, allocated when it connects
	// (mochi's default 8,192 pointers: 64 KB per connected lock; 2,048 until
	// the memory work of issue 14, docs/bench-fleet.md "Memory per lock").
	// A lock is sent a bundle now and then, so a small channel holds what a
	// lock is ever sent at once; a message that finds it full is dropped
	// and logged (OnPublishDropped; Dropped counts it). The cloud's own
	// client, which receives every lock's acks and logs, is the broker's
	// inline client (Embedded.Client): it has no channel, each message is
	// handed over by the goroutine that read it from its lock. A client
	// that logs in over TCP as the service user (a tool, the fleet
	// benchmark's floor) gets the same small channel and must not expect
	// a backlog of thousands of messages to reach it.
	//
	// Announcing a Receive Maximum would keep an excess in mochi's
	// in-flight map instead, but mochi v2.7.9 deletes a message from that
	// map when it releases it, so its PUBACK never returns the quota: after
	// 2 × Receive Maximum messages the client gets nothing more.
	caps.MaximumClientWritesPending = brokerWritesPending
	// The inline client publishes the will of a lock the broker threw out
	// when mochi itself skipped it (see authHook.OnDisconnect).
	server := mochi.New(&mochi.Options{Capabilities: caps, Logger: logger, InlineClient: true, ClientNetReadBufferSize: brokerReadBuffer})

	auth := &authHook{server: server, serviceUser: cfg.ServiceUser, serviceSecret: cfg.ServiceSecret, log: logger, locks: map[string]SecretHash{}}
	if err := auth.setLocks(cfg.Locks); err != nil {
		return nil, err
	}
	if err := server.AddHook(auth, nil); err != nil {
		return nil, fmt.Errorf("mqtt: add auth hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "dooros", Address: cfg.Addr})
	if err := server.AddListener(tcp); err != nil { // binds the address
		return nil, fmt.Errorf("mqtt: embedded broker cannot listen on %s: %w", cfg.Addr, err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("mqtt: start embedded broker: %w", err)
	}
	return &Embedded{server: server, auth: auth, addr: tcp.Address()}, nil
}

// Addr is the address the broker actually listens on.
func (e *Embedded) Addr() string { return e.addr }

// URL is where clients connect. A wildcard listen address is reported as
// loopback, which is where an in-process client finds it.
func (e *Embedded) URL() string {
	host, port, err := net.SplitHostPort(e.addr)
	if err != nil {
		return "mqtt://" + e.addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return "mqtt://" + net.JoinHostPort(host, port)
}

// SetLocks implements Broker.
func (e *Embedded) SetLocks(locks map[string]SecretHash) error { return e.auth.setLocks(locks) }

// PutLock implements Broker.
func (e *Embedded) PutLock(lockID string, hash SecretHash) error {
	return e.auth.update(func(locks map[string]SecretHash) error {
		if err := e.auth.checkLockID(lockID); err != nil {
			return err
		}
		locks[lockID] = hash
		return nil
	})
}

// RemoveLock implements Broker.
func (e *Embedded) RemoveLock(lockID string) {
	_ = e.auth.update(func(locks map[string]SecretHash) error {
		delete(locks, lockID)
		return nil
	})
}

// Close implements Broker.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() { _ = e.server.Close() })
	return nil
}

// authHook authenticates every connection and answers every ACL question
// of the embedded broker. Anything it does not recognise is refused.
type authHook struct {
	mochi.HookBase

	server        *mochi.Server
	serviceUser   string
	serviceSecret SecretHash
	log           *slog.Logger

	// mu guards locks; the map is replaced on change, never mutated.
	mu    sync.RWMutex
	locks map[string]SecretHash

	// wills holds the will of every connected client that has one, as its
	// CONNECT gave it; dropped marks the clients this hook disconnected.
	// Together they let OnDisconnect publish a will mochi skipped.
	wills   sync.Map // *mochi.Client → will
	dropped sync.Map // *mochi.Client → struct{}
}

func (h *authHook) ID() string { return "dooros-auth" }

func (h *authHook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSessionEstablished, mochi.OnDisconnect, mochi.OnPublishDropped:
		return true
	}
	return false
}

func (h *authHook) checkLockID(id string) error {
	if err := CheckLockID(id); err != nil {
		return err
	}
	if id == h.serviceUser {
		return fmt.Errorf("%w: %q is the service user", ErrInvalidLockID, id)
	}
	return nil
}

func (h *authHook) setLocks(locks map[string]SecretHash) error {
	return h.update(func(next map[string]SecretHash) error {
		clear(next)
		for id, hash := range locks {
			if err := h.checkLockID(id); err != nil {
				return err
			}
			next[id] = hash
		}
		return nil
	})
}

// update applies change to a copy of the credential set, installs the copy,
// then disconnects every session of a lock whose credentials changed.
// Installing first matters: a connection authenticated with the old password
// just before the switch is either already in the client list (and
// disconnected here) or is checked again in OnSessionEstablished against the
// new set.
func (h *authHook) update(change func(next map[string]SecretHash) error) error {
	h.mu.Lock()
	prev := h.locks
	next := maps.Clone(prev)
	if next == nil {
		next = map[string]SecretHash{}
	}
	if err := change(next); err != nil {
		h.mu.Unlock()
		return err
	}
	h.locks = next
	h.mu.Unlock()

	changed := map[string]bool{}
	for id, old := range prev {
		if hash, ok := next[id]; !ok || hash != old {
			changed[id] = true
		}
	}
	if len(changed) == 0 {
		return nil
	}
	for _, cl := range h.server.Clients.GetAll() {
		if !cl.Net.Inline && !cl.Closed() && changed[string(cl.Properties.Username)] {
			h.log.Info("mqtt: disconnecting lock after credential change", "lock_id", string(cl.Properties.Username), "client_id", cl.ID)
			h.drop(cl)
		}
	}
	return nil
}

// authenticate returns who username/password is, refusing a lock whose
// client id is not its lock id: mochi hands a client id's session, and its
// subscriptions, to whoever connects with that id next.
func (h *authHook) authenticate(username, password, clientID string) (principal, error) {
	if username == h.serviceUser {
		if !h.serviceSecret.Matches(password) {
			return principal{}, errors.New("wrong service password")
		}
		return principal{service: true}, nil
	}
	h.mu.RLock()
	hash, ok := h.locks[username]
	h.mu.RUnlock()
	if !ok || !hash.Matches(password) {
		return principal{}, errors.New("unknown user or wrong password")
	}
	if clientID != username {
		return principal{}, fmt.Errorf("lock client id %q is not its lock id", clientID)
	}
	return principal{lockID: username}, nil
}

func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	p, err := h.authenticate(user, string(pk.Connect.Password), cl.ID)
	if err == nil && pk.Connect.WillFlag && !p.mayPublish(pk.Connect.WillTopic) {
		// The broker publishes the will on the client's behalf, without an
		// ACL check of its own.
		err = fmt.Errorf("will topic %q not allowed", pk.Connect.WillTopic)
	}
	if err != nil {
		h.log.Info("mqtt: connection refused", "username", user, "client_id", cl.ID, "remote", cl.Net.Remote, "reason", err)
		return false
	}
	return true
}

// OnSessionEstablished runs after the client joined the client list; see setLocks.
func (h *authHook) OnSessionEstablished(cl *mochi.Client, pk packets.Packet) {
	// Kept from here on, not from OnConnectAuthenticate: OnDisconnect, which
	// forgets it, runs for every client that got this far.
	if pk.Connect.WillFlag {
		h.wills.Store(cl, will{
			topic:   pk.Connect.WillTopic,
			payload: append([]byte(nil), pk.Connect.WillPayload...),
			qos:     pk.Connect.WillQos,
			retain:  pk.Connect.WillRetain,
		})
	}
	if _, err := h.authenticate(string(pk.Connect.Username), string(pk.Connect.Password), cl.ID); err != nil {
		h.log.Info("mqtt: credentials changed while connecting", "username", string(pk.Connect.Username), "client_id", cl.ID)
		h.drop(cl)
	}
}

// will is a connected client's will as its CONNECT gave it: kept per
// connected lock, so not a packets.Packet (800 bytes before the payload).
type will struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// drop disconnects a client whose credentials no longer hold.
func (h *authHook) drop(cl *mochi.Client) {
	h.dropped.Store(cl, struct{}{})
	_ = h.server.DisconnectClient(cl, packets.ErrNotAuthorized)
}

// OnDisconnect publishes the will of a client this hook threw out when
// mochi did not. mochi publishes a will only when the client's read loop
// ends with an error (a read on the closed connection); when the loop is
// between two packets as the connection is closed, it sees the client
// closed, ends without error, and discards the will as after a clean
// DISCONNECT. A lock whose credentials were removed or rotated would then
// stay "online" (retained) for good — it flaked
// TestEmbedded_SetLocksReloadsInBulk about one run in twenty.
// OnPublishDropped logs a message mochi dropped because the client's
// outbound channel was full (mochi logs its other drops itself).
func (h *authHook) OnPublishDropped(cl *mochi.Client, pk packets.Packet) {
	h.log.Warn("mqtt: message dropped, client write queue full", "client", cl.ID, "topic", pk.TopicName)
}

func (h *authHook) OnDisconnect(cl *mochi.Client, err error, _ bool) {
	stored, hasWill := h.wills.LoadAndDelete(cl)
	if _, ok := h.dropped.LoadAndDelete(cl); !ok || err != nil || !hasWill {
		return // a will mochi published (err != nil) or a clean disconnect
	}
	w := stored.(will)
	if perr := h.server.Publish(w.topic, w.payload, w.retain, w.qos); perr != nil {
		h.log.Warn("mqtt: will of a dropped client not published", "client_id", cl.ID, "err", perr)
	}
}

func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	p := principal{lockID: user}
	if user == h.serviceUser {
		p = principal{service: true}
	}
	if write {
		return p.mayPublish(topic)
	}
	return p.mayRead(topic)
}
