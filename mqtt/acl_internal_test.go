package mqtt

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
)

func TestPrincipalAccess(t *testing.T) {
	lock := principal{lockID: "l1"}
	cloud := principal{service: true}
	for _, tt := range []struct {
		who           principal
		topic         string
		publish, read bool
	}{
		{lock, "dooros/v1/locks/l1/bundle", false, true},
		{lock, "dooros/v1/locks/l1/ack", true, false},
		{lock, "dooros/v1/locks/l1/events", true, false},
		{lock, "dooros/v1/locks/l1/status", true, false},
		{lock, "dooros/v1/locks/l2/bundle", false, false},
		// Remote unlock: a lock reads only its own commands and cannot
		// forge one (or another lock's result).
		{lock, "dooros/v1/locks/l1/command", false, true},
		{lock, "dooros/v1/locks/l1/result", true, false},
		{lock, "dooros/v1/locks/l2/command", false, false},
		{lock, "dooros/v1/locks/+/command", false, false},
		{lock, "dooros/v1/locks/l2/result", false, false},
		{cloud, "dooros/v1/locks/l1/command", true, true},
		{cloud, "dooros/v1/locks/+/result", true, true},
		{lock, "dooros/v1/locks/l2/ack", false, false},
		{lock, "dooros/v1/locks/+/bundle", false, false},
		{lock, "dooros/v1/locks/l1/#", false, false},
		{lock, "dooros/v1/#", false, false},
		{lock, "#", false, false},
		{lock, "$SYS/broker/clients", false, false},
		{lock, "$share/g/dooros/v1/locks/l1/bundle", false, false},
		{cloud, "dooros/v1/locks/l1/bundle", true, true},
		{cloud, "dooros/v1/locks/+/ack", true, true},
		{cloud, "dooros/v1/#", true, true},
		{cloud, "$share/dooros/dooros/v1/locks/+/ack", false, true},
		{cloud, "$share/dooros", false, false},
		{cloud, "#", false, false},
		{cloud, "dooros/v2/x", false, false},
		{cloud, "dooros/v1", false, false},
		{cloud, "$SYS/#", false, false},
	} {
		if got := tt.who.mayPublish(tt.topic); got != tt.publish {
			t.Errorf("%+v mayPublish(%q) = %t", tt.who, tt.topic, got)
		}
		if got := tt.who.mayRead(tt.topic); got != tt.read {
			t.Errorf("%+v mayRead(%q) = %t", tt.who, tt.topic, got)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tt := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"$share/g/a/+", "a/b", true},
		{"$share/g", "g", false},
	} {
		if got := matchFilter(tt.filter, tt.topic); got != tt.want {
			t.Errorf("matchFilter(%q, %q) = %t", tt.filter, tt.topic, got)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for filter, want := range map[string]bool{
		"a/b": true, "a/+/c": true, "a/#": true, "#": true, "+": true, "dooros/v1/locks/+/ack": true,
		"": false, "a/#/b": false, "a#": false, "a+/b": false, "a/b+": false, "a\x00": false,
	} {
		if got := validFilter(filter); got != want {
			t.Errorf("validFilter(%q) = %t", filter, got)
		}
	}
}

// A lock's connection gets an outbound channel of brokerWritesPending
// packets, allocated in full when it connects (2,048 pointers, 16 KB, the
// main per-lock memory of the broker before the cloud moved to the inline
// client, which needs no channel), and a read buffer of brokerReadBuffer
// bytes (mochi's default 2 KB).
func TestEmbedded_LockOutboundChannelIsSmall(t *testing.T) {
	const most = 64
	if brokerWritesPending > most {
		t.Fatalf("brokerWritesPending = %d, want at most %d per lock", brokerWritesPending, most)
	}
	_, _, cl := lockOnEmbedded(t)
	// mochi keeps the channel unexported; reflection may read its capacity.
	got := reflect.ValueOf(cl).Elem().FieldByName("State").FieldByName("outbound").Cap()
	if got != brokerWritesPending {
		t.Fatalf("lock's outbound channel holds %d packets, want %d", got, brokerWritesPending)
	}
	if got := reflect.ValueOf(cl).Elem().FieldByName("Net").FieldByName("bconn").Elem().FieldByName("buf").Len(); got != brokerReadBuffer || got > 1024 {
		t.Fatalf("lock's read buffer is %d bytes, want %d", got, brokerReadBuffer)
	}
}

// A lock asks for a Receive Maximum of LockReceiveMaximum (LockConfig),
// and the broker keeps to it: with the lock's handler stuck on the first
// bundle (so none is acknowledged), the broker has sent it
// LockReceiveMaximum bundles and holds the rest; once the handler goes
// on, every bundle arrives, in order, and none was dropped.
func TestEmbedded_LockReceiveMaximum(t *testing.T) {
	b, c, cl := lockOnEmbedded(t)
	if got := cl.Properties.Props.ReceiveMaximum; got != LockReceiveMaximum {
		t.Fatalf("the broker sees a Receive Maximum of %d, want %d", got, LockReceiveMaximum)
	}
	topic := MustTopic(KindBundle, "lock-1")
	release := make(chan struct{})
	got := make(chan string, 3*LockReceiveMaximum)
	if err := c.Subscribe(t.Context(), topic, 1, func(m Message) {
		if string(m.Payload) == "0" {
			<-release
		}
		got <- string(m.Payload)
	}); err != nil {
		t.Fatal(err)
	}
	cloud := b.Client(nil)
	defer cloud.Close()
	const n = 3 * LockReceiveMaximum
	for i := range n {
		if err := cloud.Publish(t.Context(), topic, fmt.Appendf(nil, "%d", i), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	// Every bundle is in the broker's in-flight store; those beyond the
	// quota wait there unsent (mochi marks them with Expiry -1).
	deadline := time.Now().Add(5 * time.Second)
	for {
		held := 0
		for _, pk := range cl.State.Inflight.GetAll(false) {
			if pk.Expiry < 0 {
				held++
			}
		}
		if cl.State.Inflight.Len() == n && held == n-LockReceiveMaximum {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker has %d bundles in flight, %d of them held; want %d, %d held", cl.State.Inflight.Len(), held, n, n-LockReceiveMaximum)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	for i := range n {
		select {
		case p := <-got:
			if p != fmt.Sprint(i) {
				t.Fatalf("bundle %q arrived where %d was due", p, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d bundles arrived", i, n)
		}
	}
	if d := b.Dropped(); d != 0 {
		t.Fatalf("broker dropped %d messages", d)
	}
}

// lockOnEmbedded starts an embedded broker with lock "lock-1" provisioned,
// connects the lock as LockConfig configures it (with its Receive
// Maximum, checked), and returns the broker, the lock's client and the
// broker's view of it; both are closed at the end of the test.
func lockOnEmbedded(t *testing.T) (*Embedded, *Client, *mochi.Client) {
	t.Helper()
	_, hash := NewSecret()
	lockPassword, lockHash := NewSecret()
	b, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0", ServiceSecret: hash, Locks: map[string]SecretHash{"lock-1": lockHash}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cfg, err := LockConfig(b.URL(), "lock-1", lockPassword)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReceiveMaximum != LockReceiveMaximum {
		t.Fatalf("LockConfig: ReceiveMaximum %d, want %d", cfg.ReceiveMaximum, LockReceiveMaximum)
	}
	c, err := Connect(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cl, ok := b.server.Clients.Get("lock-1")
	if !ok {
		t.Fatal("lock-1 not among the broker's clients")
	}
	return b, c, cl
}
