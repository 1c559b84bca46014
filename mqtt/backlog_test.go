package mqtt_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// TestEmbedded_CloudBacklogDelivered: 40 locks publish 10,000 QoS 1 acks
// at once, far more than a network client's outbound channel holds (64),
// while the cloud's handler (the inline client, as Door Sync uses it) is
// stalled, as under Door Sync's backpressure. Once the handler runs again
// every ack arrives, exactly once, and the broker dropped none.
func TestEmbedded_CloudBacklogDelivered(t *testing.T) {
	const locks, each = 40, 250
	const n = locks * each
	b, _ := MustStartBroker(t)
	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	release := make(chan struct{})
	var got atomic.Int64
	var mu sync.Mutex
	seenMsg := map[string]bool{}
	dup := ""
	done := make(chan struct{})
	sub := func(m mqtt.Message) {
		<-release
		mu.Lock()
		key := m.Topic + " " + string(m.Payload)
		if seenMsg[key] && dup == "" {
			dup = key
		}
		seenMsg[key] = true
		mu.Unlock()
		if got.Add(1) == n {
			close(done)
		}
	}
	ctx := t.Context()
	if err := cloud.Subscribe(ctx, mqtt.Filter(mqtt.KindAck), 1, sub); err != nil {
		t.Fatal(err)
	}
	var wg, first sync.WaitGroup
	errs := make(chan error, locks)
	for range locks {
		lockCfg := MustProvisionLock(t, b)
		lock := MustConnect(t, lockCfg)
		topic := mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID)
		wg.Add(1)
		first.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := lock.Publish(ctx, topic, []byte(fmt.Sprint(i)), 1, false); err != nil {
					errs <- fmt.Errorf("%s: publish %d: %w", lockCfg.ClientID, i, err)
					if i == 0 {
						first.Done()
					}
					return
				}
				if i == 0 {
					first.Done()
				}
			}
		}()
	}
	// Every lock has had an ack taken by the broker and the handler is
	// stalled: what the locks publish from here on waits.
	first.Wait()
	close(release)
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatalf("cloud got %d of %d acks; broker dropped %d", got.Load(), n, b.Dropped())
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if d := b.Dropped(); d != 0 {
		t.Fatalf("broker dropped %d messages", d)
	}
	if dup != "" {
		t.Fatalf("ack %q delivered twice", dup)
	}
	if g := got.Load(); g != n {
		t.Fatalf("cloud got %d acks, want %d", g, n)
	}
}
