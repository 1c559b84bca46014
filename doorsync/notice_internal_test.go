package doorsync

import (
	"context"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
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
