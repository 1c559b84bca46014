package mqtt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dooros/dooros/mqtt"
)

func TestTopic(t *testing.T) {
	for _, tt := range []struct {
		kind mqtt.Kind
		want string
	}{
		{mqtt.KindBundle, "dooros/v1/locks/L-1_a.b/bundle"},
		{mqtt.KindAck, "dooros/v1/locks/L-1_a.b/ack"},
		{mqtt.KindEvents, "dooros/v1/locks/L-1_a.b/events"},
		{mqtt.KindStatus, "dooros/v1/locks/L-1_a.b/status"},
	} {
		got, err := mqtt.Topic(tt.kind, "L-1_a.b")
		if err != nil || got != tt.want {
			t.Errorf("Topic(%s) = %q, %v; want %q", tt.kind, got, err, tt.want)
		}
		id, k, err := mqtt.ParseTopic(got)
		if err != nil || id != "L-1_a.b" || k != tt.kind {
			t.Errorf("ParseTopic(%q) = %q, %q, %v", got, id, k, err)
		}
	}
	if got := mqtt.Filter(mqtt.KindAck); got != "dooros/v1/locks/+/ack" {
		t.Errorf("Filter = %q", got)
	}

	t.Run("ErrInvalidLockID", func(t *testing.T) {
		for _, id := range []string{"", "a/b", "+", "#", "a b", "é", "a\x00", strings.Repeat("x", 129)} {
			if _, err := mqtt.Topic(mqtt.KindBundle, id); !errors.Is(err, mqtt.ErrInvalidLockID) {
				t.Errorf("Topic(%q): got %v", id, err)
			}
		}
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		if _, err := mqtt.Topic("config", "l1"); !errors.Is(err, mqtt.ErrInvalidTopic) {
			t.Errorf("got %v", err)
		}
	})
}

func TestParseTopic_Rejects(t *testing.T) {
	for _, topic := range []string{
		"",
		"dooros/v1/locks",
		"dooros/v1/locks/",
		"dooros/v1/locks/l1",
		"dooros/v1/locks/l1/",
		"dooros/v1/locks//ack",
		"dooros/v1/locks/+/ack",
		"dooros/v1/locks/#",
		"dooros/v1/locks/l1/ack/extra",
		"dooros/v1/locks/l1/config",
		"dooros/v2/locks/l1/ack",
		"/dooros/v1/locks/l1/ack",
		"$share/g/dooros/v1/locks/l1/ack",
		"dooros/v1/locks/l 1/ack",
		"DOOROS/v1/locks/l1/ack",
	} {
		if id, k, err := mqtt.ParseTopic(topic); !errors.Is(err, mqtt.ErrInvalidTopic) {
			t.Errorf("ParseTopic(%q) = %q, %q, %v; want ErrInvalidTopic", topic, id, k, err)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	f.Add("dooros/v1/locks/l1/ack")
	f.Add("dooros/v1/locks/+/bundle")
	f.Add("dooros/v1/locks/a/b/status")
	f.Fuzz(func(t *testing.T, topic string) {
		id, k, err := mqtt.ParseTopic(topic)
		if err != nil {
			return
		}
		// Whatever parses names exactly one lock topic and rebuilds to itself.
		again, err := mqtt.Topic(k, id)
		if err != nil || again != topic {
			t.Fatalf("ParseTopic(%q) = %q, %q; Topic gives %q, %v", topic, id, k, again, err)
		}
	})
}

func TestSecret(t *testing.T) {
	p1, h1 := mqtt.NewSecret()
	p2, h2 := mqtt.NewSecret()
	if p1 == p2 || h1 == h2 || len(p1) != 43 {
		t.Fatalf("secrets %q %q", p1, p2)
	}
	if !h1.Matches(p1) || h1.Matches(p2) || h1.Matches("") {
		t.Fatal("Matches")
	}
	parsed, err := mqtt.ParseSecretHash(h1.String())
	if err != nil || parsed != h1 {
		t.Fatalf("ParseSecretHash: %v", err)
	}
	for _, bad := range []string{"", "zz", h1.String()[:62], h1.String() + "00"} {
		if _, err := mqtt.ParseSecretHash(bad); err == nil {
			t.Errorf("ParseSecretHash(%q) accepted", bad)
		}
	}
}
