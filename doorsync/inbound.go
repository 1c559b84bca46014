package doorsync

import (
	"context"
	"time"

	"github.com/dooros/dooros/mqtt"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultSharedGroup is the shared subscription group of servers on an
// external broker (Config.SharedGroup).
const DefaultSharedGroup = "dooros"

// doorStateLease is how long a door.state row claimed by a pusher stays
// invisible to the other servers' pushers. A round claims, builds,
// publishes (10 s timeout per bundle, in parallel) and settles in well
// under this; a server killed mid-round leaves its rows to another server
// after this long instead of store.OutboxLease (2 minutes). A round that
// does take longer costs a duplicate publish, which the lock refuses.
const doorStateLease = 30 * time.Second

// inboundKinds are the lock topics the pusher subscribes to.
var inboundKinds = []mqtt.Kind{mqtt.KindAck, mqtt.KindEvents, mqtt.KindStatus, mqtt.KindResult}

// inboundFilter is the filter the pusher subscribes to for kind k. With a
// shared group, acks, event logs and status are shared: the broker hands
// each message to one server of the group, so several servers on one
// database split the inbound load instead of each recording everything.
// Remote unlock results are never shared: the result must reach the server
// whose HTTP request waits for it, so every server gets every result and
// only the waiter takes it (remoteWaiters).
func (p *Pusher) inboundFilter(k mqtt.Kind) string {
	if p.SharedGroup == "" || k == mqtt.KindResult {
		return mqtt.Filter(k)
	}
	f, err := mqtt.SharedFilter(p.SharedGroup, k)
	if err != nil {
		panic(err) // Start checked the group
	}
	return f
}

// subscribe subscribes handler to every inbound kind, counting what this
// server receives (dooros_doorsync_inbound_messages_total: with a shared
// group, each server's count is its share).
func (p *Pusher) subscribe(ctx context.Context, handler mqtt.Handler) error {
	for _, k := range inboundKinds {
		received := inboundMessages.WithLabelValues(string(k))
		if err := p.Client.Subscribe(ctx, p.inboundFilter(k), 1, func(m mqtt.Message) {
			received.Inc()
			handler(m)
		}); err != nil {
			return err
		}
	}
	return nil
}

var inboundMessages = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "dooros_doorsync_inbound_messages_total",
	Help: "Lock messages this server received from the MQTT broker, by kind (ack, events, status, result). With a shared subscription group each server counts its share.",
}, []string{"kind"})
