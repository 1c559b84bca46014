package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// mqttFlags choose the broker online locks use: the embedded one (default)
// or an external one.
type mqttFlags struct {
	addr, url, user, password string
}

func (f *mqttFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.addr, "mqtt-addr", envOr(getenv, "DOOROS_MQTT_ADDR", mqtt.DefaultEmbeddedAddr), "listen address of the embedded MQTT broker for online locks [DOOROS_MQTT_ADDR]")
	fs.StringVar(&f.url, "mqtt-url", getenv("DOOROS_MQTT_URL"), "use this external broker (mqtt://host:port, mqtts://…) instead of the embedded one; lock credentials and ACLs are then the operator's (docs/mqtt.md) [DOOROS_MQTT_URL]")
	fs.StringVar(&f.user, "mqtt-user", envOr(getenv, "DOOROS_MQTT_USER", mqtt.DefaultServiceUser), "service username on the external broker [DOOROS_MQTT_USER]")
	f.password = getenv("DOOROS_MQTT_PASSWORD") // service password on the external broker
}

// startDoorSync starts the broker (embedded default), the cloud's MQTT
// client and the pusher; stop waits for them.
func startDoorSync(ctx context.Context, f mqttFlags, st *store.Store, keys doorsync.Keys, log *slog.Logger) (svc *doorsync.Service, stop func(), err error) {
	svc = doorsync.New(st, keys, log.With("worker", "doorsync"))
	cc := mqtt.ClientConfig{ClientID: "dooros-" + domain.NewID("srv"), Logger: log.With("mqtt", "cloud")}
	var broker *mqtt.Embedded
	if f.url == "" {
		password, hash := mqtt.NewSecret() // per process, never stored
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
		broker, err = mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: f.addr, ServiceSecret: hash, Locks: locks, Logger: log.With("mqtt", "broker")})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded MQTT broker: %w", err)
		}
		svc.Broker, svc.LockMQTTURL = broker, broker.URL()
		cc.URL, cc.Username, cc.Password = broker.URL(), mqtt.DefaultServiceUser, password
	} else {
		svc.LockMQTTURL = f.url
		cc.URL, cc.Username, cc.Password = f.url, f.user, f.password
		if f.password == "" {
			cc.Username = "" // an anonymous broker (development, CI)
		}
	}
	client, err := mqtt.Connect(ctx, cc)
	if err != nil {
		if broker != nil {
			broker.Close()
		}
		return nil, nil, fmt.Errorf("MQTT %s: %w", cc.URL, err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := (&doorsync.Pusher{Svc: svc, Client: client, Poll: 100 * time.Millisecond}).Run(pctx); err != nil {
			log.Error("door sync pusher stopped", "err", err)
		}
	}()
	if broker != nil {
		// The bound address: with --mqtt-addr HOST:0 the port is chosen here.
		log.Info("door sync: embedded MQTT broker listening", "broker_addr", broker.Addr(), "mqtt", svc.LockMQTTURL)
	} else {
		log.Info("door sync: external MQTT broker", "mqtt", svc.LockMQTTURL)
	}
	return svc, func() {
		cancel()
		<-done
		client.Close()
		if broker != nil {
			broker.Close()
		}
	}, nil
}
