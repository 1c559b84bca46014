package mqtt_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

func TestParseBrokerURL(t *testing.T) {
	for _, tt := range []struct {
		raw, want string
	}{
		{"mqtt://127.0.0.1:18830", "mqtt://127.0.0.1:18830"},
		{"mqtt://broker.example", "mqtt://broker.example:1883"},
		{"mqtts://broker.example", "mqtts://broker.example:8883"},
		{"mqtt://[::1]:1883/", "mqtt://[::1]:1883"},
	} {
		u, err := mqtt.ParseBrokerURL(tt.raw)
		if err != nil {
			t.Errorf("%q: %v", tt.raw, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.raw, got, tt.want)
		}
	}

	for _, raw := range []string{
		"",
		"127.0.0.1:1883",            // no scheme
		"mqtt://[::1",               // malformed
		"http://127.0.0.1:1883",     // unknown scheme
		"ws://127.0.0.1:1883",       // not supported here
		"mqtt://",                   // no host
		"mqtt://:1883",              // no host
		"mqtt://u:p@127.0.0.1:1883", // credentials in URL
		"mqtt://127.0.0.1:99999",    // bad port
		"mqtt://127.0.0.1:0",        // bad port
		"mqtt://127.0.0.1:1883/x",   // path
		"mqtt://127.0.0.1:1883?a=b", // query
	} {
		if _, err := mqtt.ParseBrokerURL(raw); !errors.Is(err, mqtt.ErrInvalidURL) {
			t.Errorf("%q: got %v, want ErrInvalidURL", raw, err)
		}
	}
}

func TestConnect_Errors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	t.Run("ErrMalformedURL", func(t *testing.T) {
		_, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "mqtt://[::1", ClientID: "c"})
		if !errors.Is(err, mqtt.ErrInvalidURL) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrUnknownScheme", func(t *testing.T) {
		_, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "amqp://127.0.0.1:5672", ClientID: "c"})
		if !errors.Is(err, mqtt.ErrInvalidURL) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrNoClientID", func(t *testing.T) {
		if _, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "mqtt://127.0.0.1:1883"}); err == nil {
			t.Fatal("no error")
		}
	})

	t.Run("ErrInvalidWill", func(t *testing.T) {
		_, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "mqtt://127.0.0.1:1883", ClientID: "c", Will: &mqtt.Message{Topic: "a/#"}})
		if !errors.Is(err, mqtt.ErrInvalidTopic) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		// A port that was just free: nothing listens there.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err = mqtt.Connect(short, mqtt.ClientConfig{URL: "mqtt://" + addr, ClientID: "c"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		t.Log(err)
	})

	t.Run("ErrInvalidLockID", func(t *testing.T) {
		if _, err := mqtt.LockConfig("mqtt://127.0.0.1:1883", "a/b", "pw"); !errors.Is(err, mqtt.ErrInvalidLockID) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestClient_Errors(t *testing.T) {
	b, servicePassword := MustStartBroker(t)
	c, err := mqtt.Connect(context.Background(), ServiceConfig(b, servicePassword))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	t.Run("ErrMalformedTopic", func(t *testing.T) {
		for _, topic := range []string{"", "dooros/v1/+/ack", "dooros/v1/#", "a\x00b"} {
			if err := c.Publish(ctx, topic, nil, 1, false); !errors.Is(err, mqtt.ErrInvalidTopic) {
				t.Errorf("publish %q: got %v", topic, err)
			}
		}
		for _, filter := range []string{"", "dooros/#/ack", "dooros/v1+/x", "a#"} {
			if err := c.Subscribe(ctx, filter, 1, func(mqtt.Message) {}); !errors.Is(err, mqtt.ErrInvalidTopic) {
				t.Errorf("subscribe %q: got %v", filter, err)
			}
		}
	})

	t.Run("ErrQoS2", func(t *testing.T) {
		if err := c.Publish(ctx, "dooros/v1/x", nil, 2, false); err == nil {
			t.Fatal("QoS 2 accepted")
		}
	})

	t.Run("ErrClosed", func(t *testing.T) {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, mqtt.MustTopic(mqtt.KindBundle, "l1"), []byte("x"), 1, false); !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("publish: got %v, want ErrClosed", err)
		}
		if err := c.Subscribe(ctx, mqtt.Filter(mqtt.KindAck), 1, func(mqtt.Message) {}); !errors.Is(err, mqtt.ErrClosed) {
			t.Fatalf("subscribe: got %v, want ErrClosed", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// A message matching two subscriptions reaches both handlers; a retained
// status arrives with its retain flag.
func TestClient_Routing(t *testing.T) {
	b, servicePassword := MustStartBroker(t)
	cloud := MustConnect(t, ServiceConfig(b, servicePassword))
	all := MustSubscribe(t, cloud, "dooros/v1/#")
	acks := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindAck))
	topic := mqtt.MustTopic(mqtt.KindAck, "l1")
	MustPublish(t, cloud, topic, "a", false)
	all.Expect(t, topic)
	acks.Expect(t, topic)

	status := mqtt.MustTopic(mqtt.KindStatus, "l1")
	MustPublish(t, cloud, status, mqtt.StatusOnline, true)
	other := MustConnect(t, ServiceConfig(b, servicePassword))
	late := MustSubscribe(t, other, status)
	if m := late.Expect(t, status); !m.Retain {
		t.Fatal("retained message arrived without retain flag")
	}
	acks.ExpectNone(t, 200*time.Millisecond)
}
