package mqtt_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// TestEmbedded_CloudBacklogDelivered: while the cloud's handler is
// stalled (Door Sync's backpressure), 20 locks at once publish far more
// QoS 1 acks than the broker's per-client outbound channel holds (2,048);
// once the handler runs again every one of them arrives and the broker
// dropped none.
func TestEmbedded_CloudBacklogDelivered(t *testing.T) {
	const locks, each = 20, 250
	const n = locks * each
	b, servicePassword := MustStartBroker(t)
	cloud := MustConnect(t, ServiceConfig(b, servicePassword))
	release := make(chan struct{})
	var got atomic.Int64
	seen := make(chan struct{}, 1)
	sub := func(m mqtt.Message) {
		<-release
		if got.Add(1) == n {
			seen <- struct{}{}
		}
	}
	ctx := t.Context()
	if err := cloud.Subscribe(ctx, mqtt.Filter(mqtt.KindAck), 1, sub); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, locks)
	for range locks {
		lockCfg := MustProvisionLock(t, b)
		lock := MustConnect(t, lockCfg)
		topic := mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := lock.Publish(ctx, topic, []byte(fmt.Sprint(i)), 1, false); err != nil {
					errs <- fmt.Errorf("%s: publish %d: %w", lockCfg.ClientID, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(release)
	select {
	case <-seen:
	case <-time.After(wait):
		t.Fatalf("cloud got %d of %d acks; broker dropped %d", got.Load(), n, b.Dropped())
	}
	if d := b.Dropped(); d != 0 {
		t.Fatalf("broker dropped %d messages", d)
	}
}
