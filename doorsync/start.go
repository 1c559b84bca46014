package doorsync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// Config chooses the broker Door Sync runs on and tunes its pusher.
type Config struct {
	// Addr is the listen address of the embedded broker (used when URL is
	// empty); HOST:0 picks a port.
	Addr string
	// URL is an external broker (mqtt://host:port, mqtts://…); User and
	// Password log the cloud in there (anonymous when Password is empty).
	URL, User, Password string
	// ServicePassword is the cloud's password on the embedded broker;
	// random per process when empty (it is never stored).
	ServicePassword string
	// ClientID of the cloud's MQTT client; a fresh one when empty.
	ClientID string
	// Poll and Backoff tune the pusher (its defaults when zero).
	Poll, Backoff time.Duration
	// SharedGroup is the MQTT 5 shared subscription group in which the
	// servers on an external broker (URL) split the locks' acks, event logs
	// and status (Pusher.SharedGroup); empty: every server receives every
	// message. Not used with the embedded broker, which only one server
	// runs. A name that is not 1-64 letters, digits, '.', '_', '-' fails
	// Start.
	SharedGroup string
	// InboundQueue is Pusher.Queue (its default when zero).
	InboundQueue int
	// NoRevocationNotices turns revocation notices off (notice.go): a
	// revocation then reaches online locks with its bundles only.
	NoRevocationNotices bool
	Log                 *slog.Logger
}

// Start starts the broker (embedded unless cfg.URL is set), the cloud's
// MQTT client and the pusher; stop ends them and waits. An external broker
// need not be reachable: Start returns at once and the client connects in
// the background (BrokerState).
func Start(ctx context.Context, st *store.Store, keys Keys, cfg Config) (svc *Service, stop func(), err error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SharedGroup != "" {
		if err := mqtt.CheckShareGroup(cfg.SharedGroup); err != nil {
			return nil, nil, err
		}
	}
	sharedGroup := cfg.SharedGroup
	if cfg.URL == "" {
		sharedGroup = "" // the embedded broker: one server by definition
	}
	svc = New(st, keys, log.With("worker", "doorsync"))
	cc := mqtt.ClientConfig{ClientID: cfg.ClientID, Logger: log.With("mqtt", "cloud")}
	if cc.ClientID == "" {
		cc.ClientID = "dooros-" + domain.NewID("srv")
	}
	var broker *mqtt.Embedded
	if cfg.URL == "" {
		password, hash := cfg.ServicePassword, mqtt.HashSecret(cfg.ServicePassword)
		if password == "" {
			password, hash = mqtt.NewSecret()
		}
		hashes, err := st.LockMQTTHashes(ctx)
		if err != nil {
			return nil, nil, err
		}
		locks := map[string]mqtt.SecretHash{}
		for id, h := range hashes {
			if locks[id], err = mqtt.ParseSecretHash(h); err != nil {
				return nil, nil, fmt.Errorf("lock %s: %w", id, err)
			}
		}
		broker, err = mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: cfg.Addr, ServiceSecret: hash, Locks: locks, Logger: log.With("mqtt", "broker")})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded MQTT broker: %w", err)
		}
		svc.Broker, svc.LockMQTTURL = broker, broker.URL()
		cc.URL, cc.Username, cc.Password = broker.URL(), mqtt.DefaultServiceUser, password
	} else {
		svc.LockMQTTURL = cfg.URL
		cc.URL, cc.Username, cc.Password = cfg.URL, cfg.User, cfg.Password
		if cfg.Password == "" {
			cc.Username = "" // an anonymous broker (development, CI)
		}
	}
	var client *mqtt.Client
	if broker != nil {
		// The embedded broker is in this process: the cloud uses its inline
		// client (no connection, no outbound queue in the broker; see
		// Embedded.Client). The service password stays for tools that log
		// in over TCP.
		client = broker.Client(cc.Logger)
	} else {
		// An external broker may be down or not yet there: the server
		// serves meanwhile, the client retries in the background, pushes
		// wait in the outbox, and BrokerState tells /healthz and /metrics.
		client, err = mqtt.Dial(cc)
	}
	if err != nil {
		if broker != nil {
			broker.Close()
		}
		return nil, nil, fmt.Errorf("MQTT %s: %w", cc.URL, err)
	}
	svc.client = client
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pruned := make(chan struct{})
		go func() { defer close(pruned); svc.pruneLoop(pctx) }()
		defer func() { <-pruned }()
		if !cfg.NoRevocationNotices {
			defer st.OnRevocation(svc.queueNotices)()
			noticed := make(chan struct{})
			go func() { defer close(noticed); svc.noticeLoop(pctx, client) }()
			defer func() { <-noticed }()
		}
		if err := (&Pusher{Svc: svc, Client: client, Poll: cfg.Poll, Backoff: cfg.Backoff, Queue: cfg.InboundQueue, SharedGroup: sharedGroup}).Run(pctx); err != nil && pctx.Err() == nil {
			log.Error("door sync pusher stopped", "err", err)
		}
	}()
	return svc, func() {
		cancel()
		<-done
		client.Close()
		if broker != nil {
			broker.Close()
		}
	}, nil
}

// BrokerState is the state of Door Sync's connection to its MQTT broker;
// ok is false when no broker is in use (a Service built without Start).
func (s *Service) BrokerState() (st mqtt.ConnState, ok bool) {
	if s == nil || s.client == nil {
		return mqtt.ConnState{}, false
	}
	return s.client.State(), true
}
