package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// mqttFlags choose the broker online locks use: the embedded one (default)
// or an external one.
type mqttFlags struct {
	addr, url, user, password string
	// sharedGroup is the MQTT 5 shared subscription group of the servers
	// on an external broker; "none" turns sharing off.
	sharedGroup string
	// notices: revocation notices to online locks (--revocation-notices);
	// noticesErr is a DOOROS_REVOCATION_NOTICES that is not a boolean.
	notices    bool
	noticesErr error
}

// noSharedGroup turns shared subscriptions off (--mqtt-shared-group).
const noSharedGroup = "none"

// check refuses a shared group name no broker would take, before anything
// starts.
func (f *mqttFlags) check() error {
	if f.noticesErr != nil {
		return f.noticesErr
	}
	if f.sharedGroup == noSharedGroup {
		return nil
	}
	if err := mqtt.CheckShareGroup(f.sharedGroup); err != nil {
		return fmt.Errorf("--mqtt-shared-group (DOOROS_MQTT_SHARED_GROUP): %w; use %q to turn sharing off", err, noSharedGroup)
	}
	return nil
}

// group is Config.SharedGroup: empty with the embedded broker or "none".
func (f *mqttFlags) group() string {
	if f.url == "" || f.sharedGroup == noSharedGroup {
		return ""
	}
	return f.sharedGroup
}

func (f *mqttFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.addr, "mqtt-addr", envOr(getenv, "DOOROS_MQTT_ADDR", mqtt.DefaultEmbeddedAddr), "listen address of the embedded MQTT broker for online locks [DOOROS_MQTT_ADDR]")
	fs.StringVar(&f.url, "mqtt-url", getenv("DOOROS_MQTT_URL"), "use this external broker (mqtt://host:port, mqtts://…) instead of the embedded one; lock credentials and ACLs are then the operator's (docs/mqtt.md) [DOOROS_MQTT_URL]")
	fs.StringVar(&f.user, "mqtt-user", envOr(getenv, "DOOROS_MQTT_USER", mqtt.DefaultServiceUser), "service username on the external broker [DOOROS_MQTT_USER]")
	fs.StringVar(&f.sharedGroup, "mqtt-shared-group", envOr(getenv, "DOOROS_MQTT_SHARED_GROUP", doorsync.DefaultSharedGroup), "with --mqtt-url: MQTT 5 shared subscription group in which the servers on the broker split the locks' acks, event logs and status ($share/GROUP/…; 1-64 letters, digits, '.', '_', '-'); \"none\": every server receives every message. Unused with the embedded broker [DOOROS_MQTT_SHARED_GROUP]")
	notices := true
	if v := getenv("DOOROS_REVOCATION_NOTICES"); v != "" {
		var err error
		if notices, err = strconv.ParseBool(v); err != nil {
			f.noticesErr = fmt.Errorf("DOOROS_REVOCATION_NOTICES=%q: want true or false", v)
		}
	}
	fs.BoolVar(&f.notices, "revocation-notices", notices, "send online locks a revocation notice the moment a revocation commits, ahead of their bundles (docs/door-sync.md); false: bundles alone revoke [DOOROS_REVOCATION_NOTICES]")
	// The service password on the external broker; on the embedded one it
	// replaces the random per-process password, so that an operator's tool
	// (the fleet benchmark's fan-out floor) may publish as the cloud.
	f.password = getenv("DOOROS_MQTT_PASSWORD")
}

// startDoorSync starts Door Sync with the broker the flags choose and logs
// where locks connect; stop waits for it.
func startDoorSync(ctx context.Context, f mqttFlags, st *store.Store, keys doorsync.Keys, log *slog.Logger) (svc *doorsync.Service, stop func(), err error) {
	svc, stop, err = doorsync.Start(ctx, st, keys, doorsync.Config{Addr: f.addr, URL: f.url, User: f.user, Password: f.password, ServicePassword: embeddedPassword(f), SharedGroup: f.group(), Poll: 100 * time.Millisecond, NoRevocationNotices: !f.notices, Log: log})
	if err != nil {
		return nil, nil, err
	}
	if b, ok := svc.Broker.(*mqtt.Embedded); ok {
		// The bound address: with --mqtt-addr HOST:0 the port is chosen here.
		log.Info("door sync: embedded MQTT broker listening", "broker_addr", b.Addr(), "mqtt", svc.LockMQTTURL)
	} else {
		log.Info("door sync: external MQTT broker", "mqtt", svc.LockMQTTURL, "shared_group", f.group())
	}
	return svc, stop, nil
}

// embeddedPassword is the cloud's password on the embedded broker:
// DOOROS_MQTT_PASSWORD when set, else empty (random per process).
func embeddedPassword(f mqttFlags) string {
	if f.url != "" {
		return ""
	}
	return f.password
}
