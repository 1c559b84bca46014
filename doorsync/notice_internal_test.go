package doorsync

import (
	"context"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	dto "github.com/prometheus/client_model/go"
)

func skippedNotices(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := noticesSent.WithLabelValues("skipped").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A round of notices while the broker is away skips at once (counted):
// publishing would wait for the connection, one notice after another,
// while the pusher and the inbound groups wait for the round.
func TestSendNoticesBrokerAway(t *testing.T) {
	c, err := mqtt.Dial(mqtt.ClientConfig{URL: "mqtt://127.0.0.1:1", ClientID: "notice-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := New(nil, nil, nil) // nothing of the store is read when the broker is away
	before := skippedNotices(t)
	start := time.Now()
	s.sendNotices(context.Background(), c, []store.RevokedDoor{
		{DoorID: "door-1", Version: 2, PersonIDs: []string{"p1"}},
		{DoorID: "door-2", Version: 7, PersonIDs: []string{"p1", "p2"}},
	})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the round took %v with the broker away", took)
	}
	if got := skippedNotices(t) - before; got != 2 {
		t.Errorf("%v notices counted as skipped, want 2", got)
	}
}

func publishedNotices(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := noticesSent.WithLabelValues("published").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// While the property's signing key is being rotated each lock trusts one
// of two keys: no notice is signed (the bundles, signed per lock with the
// key it trusts, revoke alone); before the rotation the same door's
// notice is published.
func TestSendNoticesSkippedDuringPropertyKeyRotation(t *testing.T) {
	st := storetest.OpenSQLite(t)
	keys := storetest.Keyring(t, st)
	f := storetest.Seed(t, st)
	ctx := context.Background()
	_, hash := mqtt.NewSecret()
	broker, err := mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: "127.0.0.1:0", ServiceSecret: hash})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	client := broker.Client(nil)
	defer client.Close()
	s := New(st, keys, nil)
	s.Broker = broker
	if _, err := s.Provision(ctx, f.PM, f.Property.ID, f.Lobby.ID); err != nil {
		t.Fatal(err)
	}
	round := func() (published, skipped float64) {
		p0, s0 := publishedNotices(t), skippedNotices(t)
		s.sendNotices(ctx, client, []store.RevokedDoor{{DoorID: f.Lobby.ID, Version: 99, PersonIDs: []string{"p1"}}})
		return publishedNotices(t) - p0, skippedNotices(t) - s0
	}
	if p, sk := round(); p != 1 || sk != 0 {
		t.Fatalf("before the rotation: %v published, %v skipped; want 1 and 0", p, sk)
	}
	if _, err := s.RotatePropertyKey(ctx, f.PM, f.Property.ID); err != nil {
		t.Fatal(err)
	}
	if p, sk := round(); p != 0 || sk != 1 {
		t.Fatalf("during the rotation: %v published, %v skipped; want 0 and 1", p, sk)
	}
}
