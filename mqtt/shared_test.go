package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

func TestCheckShareGroup(t *testing.T) {
	for _, g := range []string{"dooros", "a", "prod-eu.1_b", strings.Repeat("g", 64)} {
		if err := mqtt.CheckShareGroup(g); err != nil {
			t.Errorf("CheckShareGroup(%q) = %v, want nil", g, err)
		}
	}
	for _, g := range []string{"", "a/b", "a+", "#", "sp ace", "é", "$share", strings.Repeat("g", 65), "a\x00b"} {
		if err := mqtt.CheckShareGroup(g); !errors.Is(err, mqtt.ErrInvalidShareGroup) {
			t.Errorf("CheckShareGroup(%q) = %v, want ErrInvalidShareGroup", g, err)
		}
	}
}

func TestSharedFilter(t *testing.T) {
	f, err := mqtt.SharedFilter("dooros", mqtt.KindAck)
	if err != nil || f != "$share/dooros/dooros/v1/locks/+/ack" {
		t.Fatalf("SharedFilter = %q, %v", f, err)
	}
	if _, err := mqtt.SharedFilter("a/b", mqtt.KindAck); !errors.Is(err, mqtt.ErrInvalidShareGroup) {
		t.Errorf("bad group: %v", err)
	}
	if _, err := mqtt.SharedFilter("g", mqtt.Kind("nope")); !errors.Is(err, mqtt.ErrInvalidTopic) {
		t.Errorf("bad kind: %v", err)
	}
}

// TestSharedSubscription_SplitsMessages: two cloud clients in one group
// each get a part of the locks' acks and together every ack exactly once;
// a client outside the group still gets them all. On the embedded broker
// (mochi) and, with DOOROS_TEST_MQTT_URL, on Mosquitto.
func TestSharedSubscription_SplitsMessages(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		b, password := MustStartBroker(t)
		lock := MustProvisionLock(t, b)
		testSharedSplit(t, func() mqtt.ClientConfig { return ServiceConfig(b, password) }, lock)
	})
	t.Run("mosquitto", func(t *testing.T) {
		url := mosquittoURL(t)
		id := "lock-" + uniqueID()
		lock, err := mqtt.LockConfig(url, id, "")
		if err != nil {
			t.Fatal(err)
		}
		lock.Username, lock.Password = "", "" // anonymous test broker
		lock.Will, lock.Birth = nil, nil      // leave no retained status behind
		testSharedSplit(t, func() mqtt.ClientConfig { return mqtt.ClientConfig{URL: url, ClientID: "cloud-" + uniqueID()} }, lock)
	})
}

func testSharedSplit(t *testing.T, cloud func() mqtt.ClientConfig, lockCfg mqtt.ClientConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	group := "g" + uniqueID()
	filter, err := mqtt.SharedFilter(group, mqtt.KindAck)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var mu sync.Mutex
	got := [3]map[string]int{{}, {}, {}}
	all := make(chan struct{}, 3*n)
	for i := range 3 {
		c := MustConnect(t, cloud())
		f := filter
		if i == 2 {
			f = mqtt.Filter(mqtt.KindAck) // outside the group
		}
		if err := c.Subscribe(ctx, f, 1, func(m mqtt.Message) {
			mu.Lock()
			got[i][string(m.Payload)]++
			mu.Unlock()
			all <- struct{}{}
		}); err != nil {
			t.Fatal(err)
		}
	}
	l := MustConnect(t, lockCfg)
	topic := mqtt.MustTopic(mqtt.KindAck, lockCfg.ClientID)
	for i := range n {
		if err := l.Publish(ctx, topic, []byte(fmt.Sprint("ack ", i)), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * n {
		select {
		case <-all:
		case <-ctx.Done():
			t.Fatalf("not every ack arrived: %v", got)
		}
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive now
	mu.Lock()
	defer mu.Unlock()
	if len(got[0]) == 0 || len(got[1]) == 0 {
		t.Errorf("one group member got nothing: %d and %d acks", len(got[0]), len(got[1]))
	}
	for i := range n {
		p := fmt.Sprint("ack ", i)
		if c := got[0][p] + got[1][p]; c != 1 {
			t.Errorf("%q reached the group %d times, want once", p, c)
		}
		if got[2][p] != 1 {
			t.Errorf("%q reached the plain subscriber %d times, want once", p, got[2][p])
		}
	}
	t.Logf("group split %d / %d of %d acks", len(got[0]), len(got[1]), n)
}
