package locksim

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
)

// RunMQTT connects an online lock to its broker until ctx ends: it applies
// the bundles the cloud pushes (and the revocation notices that come
// ahead of them on the same topic, lock.ApplyNotice), answers each with its signed ack carrying
// the events logged since the last upload (lock.ApplyBundleWithEvents),
// and publishes the rest of its event log in batches as it grows; it
// decides remote unlock commands and publishes its signed results. The lock only ever talks on its own
// topics.
func RunMQTT(ctx context.Context, url, password string, l *lock.Lock, log *slog.Logger) error {
	return runMQTT(ctx, url, password, l, log, mqttHooks{})
}

// mqttHooks let the fleet driver (fleet.go) watch a lock run exactly as
// RunMQTT runs it; a zero value watches nothing.
type mqttHooks struct {
	// applied is called after each bundle (or revocation notice) the lock
	// applied, with its status then, when a notice reached its handler
	// (zero for a bundle) and when it was applied.
	applied func(s lock.Status, received, at time.Time, notice bool)
	// probe is offered every message on the bundle topic first; it returns
	// true for a fan-out probe (fleet.go), which is then not a bundle.
	probe func([]byte) bool
	// dropped counts bundles that found the lock's queue full.
	dropped func()
	// noticeRefused is told why a revocation notice was not applied.
	noticeRefused func(error)
	// connected is called once the lock is connected and subscribed.
	connected func()
}

func runMQTT(ctx context.Context, url, password string, l *lock.Lock, log *slog.Logger, hooks mqttHooks) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := mqtt.LockConfig(url, l.LockID(), password)
	if err != nil {
		return err
	}
	cfg.Logger = log
	c, err := mqtt.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	// Handlers run on the receive path: apply and publish elsewhere.
	bundles := make(chan []byte, 16)
	// Revocation notices share the bundle topic. One is applied as it
	// arrives, on the receive path (a signature check and one small flash
	// write), never behind the loop below, which may be waiting for the
	// broker to take an ack. After a notice the log upload waits a little:
	// the notice's bundle follows and its ack carries the notice.applied
	// event.
	var holdLog atomic.Int64 // unix nanoseconds
	if err := c.Subscribe(ctx, mqtt.MustTopic(mqtt.KindBundle, l.LockID()), 1, func(m mqtt.Message) {
		if hooks.probe != nil && hooks.probe(m.Payload) {
			return
		}
		if lockproto.IsRevocationNotice(m.Payload) {
			received := time.Now()
			if err := l.ApplyNotice(m.Payload); err != nil {
				log.Info("revocation notice not applied", "err", err)
				if hooks.noticeRefused != nil {
					hooks.noticeRefused(err)
				}
				return
			}
			holdLog.Store(time.Now().Add(2 * time.Second).UnixNano())
			if hooks.applied != nil {
				hooks.applied(l.Status(), received, time.Now(), true)
			}
			return
		}
		select {
		case bundles <- m.Payload:
		default: // the cloud republishes until acknowledged
			if hooks.dropped != nil {
				hooks.dropped()
			}
		}
	}); err != nil {
		return err
	}
	// Remote unlock commands: a burst beyond the queue is dropped (the
	// resident sees the lock not answering; commands are never republished).
	commands := make(chan []byte, 64)
	if err := c.Subscribe(ctx, mqtt.MustTopic(mqtt.KindCommand, l.LockID()), 1, func(m mqtt.Message) {
		select {
		case commands <- m.Payload:
		default:
		}
	}); err != nil {
		return err
	}
	log.Info("connected to MQTT", "url", url)
	if hooks.connected != nil {
		hooks.connected()
	}
	next := uint64(1) // the cloud skips events it already has
	// The ack of each bundle carries the events from next on
	// (lock.ApplyBundleWithEvents); what does not fit goes as batches.
	// A server from before events in the ack refuses such an ack whole
	// (unknown field) and republishes the bundle until it gets one it
	// takes; a new server that fails to record one does the same. So a
	// bundle the lock refuses (a republish it already applied, or a delta
	// from a version the cloud never recorded) after an ack with events
	// means acks with events may not have been recorded: the cursor goes
	// back to where the first of them started (no ack says which were
	// recorded; the cloud skips what it has), and this connection sends
	// plain acks and separate batches from then on, which every server
	// takes.
	coalesce := true
	carried := uint64(0) // first event of the connection's first ack with events, 0: none
	publishLog := func() {
		for end := l.Status().LogNext; next < end; {
			batch, err := l.EventsSince(next)
			if err != nil {
				log.Error("event batch", "err", err)
				return
			}
			if err := c.Publish(ctx, mqtt.MustTopic(mqtt.KindEvents, l.LockID()), batch, 1, false); err != nil {
				log.Warn("publish events", "err", err)
				return
			}
			next = min(next+256, end)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-bundles:
			var ack []byte
			var err error
			from := next
			if coalesce {
				ack, next, err = l.ApplyBundleWithEvents(b, next)
			} else {
				ack, err = l.ApplyBundle(b)
			}
			at := time.Now()
			if err != nil {
				log.Info("bundle not applied", "err", err)
			} else if hooks.applied != nil {
				hooks.applied(l.Status(), time.Time{}, at, false)
			}
			if err != nil && ack != nil && carried > 0 && coalesce {
				log.Info("bundle refused after an ack with events: the cloud may not take them; sending plain acks and event batches", "from", carried)
				coalesce = false
				next = min(next, carried, from)
				// This ack is signed with events too: sign a plain one.
				ack, _ = l.ApplyBundle(b)
			}
			if carried == 0 && next > from && coalesce {
				carried = from
			}
			if ack != nil {
				if err := c.Publish(ctx, mqtt.MustTopic(mqtt.KindAck, l.LockID()), ack, 1, false); err != nil {
					log.Warn("publish ack", "err", err)
					next = min(next, from)
				}
			}
			publishLog()
		case cmd := <-commands:
			res, d, err := l.RemoteUnlock(cmd)
			if err != nil {
				log.Error("remote unlock", "err", err)
			}
			log.Info("remote unlock", "granted", d.Granted, "reason", d.Reason, "person", d.PersonID)
			if err := c.Publish(ctx, mqtt.MustTopic(mqtt.KindResult, l.LockID()), res, 1, false); err != nil {
				log.Warn("publish result", "err", err)
			}
			publishLog()
		case <-tick.C:
			if time.Now().UnixNano() > holdLog.Load() {
				publishLog()
			}
		}
	}
}
