package mqtt_test

import (
	"context"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// BenchmarkPublishReceive_Embedded measures one bundle's trip from the
// cloud's Publish call to the lock's handler through the embedded broker:
// QoS 1, 200-byte payload, one message in flight. It is the floor under
// every Door Sync latency.
func BenchmarkPublishReceive_Embedded(b *testing.B) {
	broker, servicePassword := MustStartBroker(b)
	cloud := MustConnect(b, ServiceConfig(broker, servicePassword))
	lockCfg := MustProvisionLock(b, broker)
	lock := MustConnect(b, lockCfg)
	benchPublishReceive(b, cloud, lock, mqtt.MustTopic(mqtt.KindBundle, lockCfg.ClientID))
}

// BenchmarkPublishReceive_Mosquitto is the same against DOOROS_TEST_MQTT_URL.
func BenchmarkPublishReceive_Mosquitto(b *testing.B) {
	url := mosquittoURL(b)
	lockID := "bench-" + uniqueID()
	cloud := MustConnect(b, mqtt.ClientConfig{URL: url, ClientID: "dooros-cloud-" + lockID})
	lock := MustConnect(b, mqtt.ClientConfig{URL: url, ClientID: lockID})
	benchPublishReceive(b, cloud, lock, mqtt.MustTopic(mqtt.KindBundle, lockID))
}

func benchPublishReceive(b *testing.B, publisher, subscriber *mqtt.Client, topic string) {
	received := make(chan time.Time, 1)
	ctx := context.Background()
	if err := subscriber.Subscribe(ctx, topic, 1, func(mqtt.Message) { received <- time.Now() }); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 200)
	_, _ = rand.Read(payload)

	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := publisher.Publish(ctx, topic, payload, 1, false); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-received:
			latencies = append(latencies, at.Sub(start))
		case <-time.After(wait):
			b.Fatal("message not received")
		}
	}
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds()), "max-µs")
}
