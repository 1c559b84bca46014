package mqtt_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// TestDialBeforeBroker: Dial returns while no broker listens, State says
// down with the reason; a Publish waits; once a broker starts on that
// address the client connects by itself, State says up, and the waiting
// Publish goes through. Wrong credentials show as a refusal.
func TestDialBeforeBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	password, hash := mqtt.NewSecret()
	cfg := mqtt.ClientConfig{URL: "mqtt://" + addr, ClientID: "cloud-" + uniqueID(), Username: mqtt.DefaultServiceUser, Password: password}
	c, err := mqtt.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(wait); c.State().Error == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no connection error reported while no broker listens")
		}
	}
	if s := c.State(); s.Up || s.Refused {
		t.Fatalf("state with no broker: %+v", s)
	}
	published := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		published <- c.Publish(ctx, "dooros/v1/test/"+uniqueID(), []byte("x"), 1, false)
	}()

	b, err := mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: addr, ServiceSecret: hash})
	if err != nil {
		t.Fatalf("start a broker on %s: %v", addr, err)
	}
	defer b.Close()
	for deadline := time.Now().Add(wait); !c.State().Up; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not connected after the broker started: %+v", c.State())
		}
	}
	if s := c.State(); s.Error != "" || s.Since.IsZero() {
		t.Errorf("state once up: %+v", s)
	}
	if err := <-published; err != nil {
		t.Errorf("publish made while the broker was away: %v", err)
	}

	bad := cfg
	bad.ClientID, bad.Password = "cloud-"+uniqueID(), "wrong"
	c2, err := mqtt.Dial(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for deadline := time.Now().Add(wait); !c2.State().Refused; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("wrong password not reported as refused: %+v", c2.State())
		}
	}
	if _, err := mqtt.Dial(mqtt.ClientConfig{URL: "amqp://x", ClientID: "c"}); err == nil {
		t.Error("Dial accepted a bad URL")
	}
}
