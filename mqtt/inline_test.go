package mqtt_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dooros/dooros/mqtt"
)

// The cloud's inline client publishes to a lock and receives from it like
// a network client: bundle to the lock, ack back, retained status on
// subscribe.
func TestEmbedded_InlineClientRoundTrip(t *testing.T) {
	b, _ := MustStartBroker(t)
	lockCfg := MustProvisionLock(t, b)
	lock := MustConnect(t, lockCfg) // publishes its retained "online" status
	bundles := MustSubscribe(t, lock, mqtt.MustTopic(mqtt.KindBundle, lockCfg.ClientID))

	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	if st := cloud.State(); !st.Up {
		t.Fatalf("inline client state %+v, want up", st)
	}
	// The retained status is delivered before Subscribe returns.
	status := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindStatus))
	select {
	case m := <-status:
		if m.Topic != mqtt.MustTopic(mqtt.KindStatus, lockCfg.ClientID) || string(m.Payload) != mqtt.StatusOnline || !m.Retain {
			t.Fatalf("retained status %+v", m)
		}
	default:
		t.Fatal("retained status not delivered by Subscribe")
	}
	acks := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindAck))

	MustPublish(t, cloud, mqtt.MustTopic(mqtt.KindBundle, lockCfg.ClientID), "bundle-1", false)
	if m := bundles.Expect(t, mqtt.MustTopic(mqtt.KindBundle, lockCfg.ClientID)); string(m.Payload) != "bundle-1" {
		t.Fatalf("lock got %q", m.Payload)
	}
	MustPublish(t, lock, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "ack-1", false)
	acks.ExpectPayload(t, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "ack-1")

	// Subscribing again to a filter replaces its handler.
	acks2 := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindAck))
	MustPublish(t, lock, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "ack-2", false)
	acks2.ExpectPayload(t, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "ack-2")
	if len(acks) != 0 {
		t.Fatalf("replaced handler still got %q", (<-acks).Payload)
	}

	// The lock's will reaches the cloud when the lock goes away.
	_ = lock.Close()
	status.ExpectPayload(t, mqtt.MustTopic(mqtt.KindStatus, lockCfg.ClientID), mqtt.StatusOffline)

	if err := cloud.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cloud.Publish(t.Context(), mqtt.MustTopic(mqtt.KindBundle, lockCfg.ClientID), []byte("x"), 1, false); !errors.Is(err, mqtt.ErrClosed) {
		t.Fatalf("publish after Close: %v, want ErrClosed", err)
	}
	if err := cloud.Subscribe(t.Context(), mqtt.Filter(mqtt.KindAck), 1, acks.Handle); !errors.Is(err, mqtt.ErrClosed) {
		t.Fatalf("subscribe after Close: %v, want ErrClosed", err)
	}
}

// After Close nothing more is delivered, and the broker keeps serving.
func TestEmbedded_InlineClientCloseStopsDelivery(t *testing.T) {
	b, _ := MustStartBroker(t)
	lockCfg := MustProvisionLock(t, b)
	lock := MustConnect(t, lockCfg)
	cloud := b.Client(nil)
	acks := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindAck))
	_ = cloud.Close()
	MustPublish(t, lock, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "late", false)
	other := b.Client(nil)
	t.Cleanup(func() { _ = other.Close() })
	in := MustSubscribe(t, other, mqtt.Filter(mqtt.KindAck))
	MustPublish(t, lock, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "after", false)
	in.ExpectPayload(t, mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID), "after")
	if len(acks) != 0 {
		t.Fatalf("replaced handler still got %q", (<-acks).Payload)
	}
}

// Handlers run one at a time, as on a connection's receive path, although
// each lock's message is handed over by that lock's own goroutine.
func TestEmbedded_InlineHandlersOneAtATime(t *testing.T) {
	const locks, each = 20, 50
	b, _ := MustStartBroker(t)
	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	var running, most, got atomic.Int64
	done := make(chan struct{})
	err := cloud.Subscribe(t.Context(), mqtt.Filter(mqtt.KindEvents), 1, func(mqtt.Message) {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		for range 1000 { // give another delivery the chance to overlap
			_ = fmt.Sprint(r)
		}
		running.Add(-1)
		if got.Add(1) == locks*each {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range locks {
		cfg := MustProvisionLock(t, b)
		lock := MustConnect(t, cfg)
		wg.Go(func() {
			for i := range each {
				if err := lock.Publish(t.Context(), mqtt.MustTopic(mqtt.KindEvents, cfg.ClientID), []byte(fmt.Sprint(i)), 1, false); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	<-done
	if m := most.Load(); m != 1 {
		t.Fatalf("%d handlers ran at once", m)
	}
}

// The embedded broker serves one server: the inline client refuses shared
// subscriptions and bad filters.
func TestEmbedded_InlineClientRefusesSharedFilter(t *testing.T) {
	b, _ := MustStartBroker(t)
	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	for _, f := range []string{"$share/g/dooros/v1/locks/+/ack", "dooros/#/x", ""} {
		if err := cloud.Subscribe(t.Context(), f, 1, func(mqtt.Message) {}); !errors.Is(err, mqtt.ErrInvalidTopic) {
			t.Errorf("subscribe %q: %v, want ErrInvalidTopic", f, err)
		}
	}
	if err := cloud.Publish(t.Context(), "dooros/v1/locks/+/bundle", nil, 1, false); !errors.Is(err, mqtt.ErrInvalidTopic) {
		t.Errorf("publish to a filter: %v, want ErrInvalidTopic", err)
	}
}
