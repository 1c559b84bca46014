package doorsync

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
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

// A revocation naming more than lockproto.MaxNoticeNames names (people,
// day keys, cards, doorcodes together) is split into notices each under
// the limit, every name in exactly one of them, and people never share a
// notice with the other kinds (a lock from before them refuses such a
// notice whole).
func TestNoticeNamesSplit(t *testing.T) {
	var names noticeNames
	for i := range 300 {
		names.persons = append(names.persons, fmt.Sprint("p-", i))
	}
	names.dayKeys, names.cards, names.doorcodes = []string{"k-1", "k-2"}, []string{"C-1"}, []string{"p-1"}
	now := time.Now()
	ns := names.notices(now)
	if len(ns) != 3 || ns[0].Names() != lockproto.MaxNoticeNames || len(ns[1].Persons) != 300-lockproto.MaxNoticeNames || ns[1].Names() != len(ns[1].Persons) || ns[2].Names() != 4 || len(ns[2].Persons) != 0 {
		t.Fatalf("%d notices: %+v", len(ns), ns[1:])
	}
	seen := map[string]int{}
	for _, n := range ns {
		if !n.IssuedAt.Equal(now) {
			t.Fatalf("issued %v", n.IssuedAt)
		}
		for i, list := range [][]string{n.Persons, n.DayKeys, n.Cards, n.Doorcodes} {
			for _, name := range list {
				seen[fmt.Sprint(i, name)]++
			}
		}
		if _, err := lockproto.SignRevocationNotice(ed25519.NewKeyFromSeed(make([]byte, 32)), n); err != nil {
			t.Fatalf("a split notice does not sign: %v", err)
		}
	}
	if len(seen) != 304 || len(ns[2].DayKeys) != 2 || len(ns[2].Cards) != 1 || len(ns[2].Doorcodes) != 1 {
		t.Fatalf("names: %d distinct; last notice %+v", len(seen), ns[2])
	}
	// More than the limit of the other kinds: split among themselves.
	many := noticeNames{persons: []string{"p-1"}}
	for i := range 300 {
		many.cards = append(many.cards, fmt.Sprint("C-", i))
	}
	if ns := many.notices(now); len(ns) != 3 || len(ns[0].Persons) != 1 || ns[0].Names() != 1 || ns[1].Names() != lockproto.MaxNoticeNames || ns[2].Names() != 300-lockproto.MaxNoticeNames {
		t.Fatalf("one person and 300 cards: %d notices", len(ns))
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("%s in %d notices", name, n)
		}
	}
	if got := (noticeNames{}).notices(now); len(got) != 0 {
		t.Fatalf("no names: %d notices", len(got))
	}
}
