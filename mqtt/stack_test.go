package mqtt_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
	"github.com/mochi-mqtt/server/v2/packets"
)

// rawLock is a lock on a bare TCP connection, with no goroutine of its own:
// while it is connected, the process's goroutine stacks are the broker's.
type rawLock struct {
	id   string
	conn net.Conn
	r    *bufio.Reader
}

func encodePacket(t testing.TB, pk packets.Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	default:
		t.Fatalf("no encoder for packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readPacket reads one packet and returns its type.
func (l *rawLock) readPacket(t testing.TB) byte {
	t.Helper()
	_ = l.conn.SetReadDeadline(time.Now().Add(wait))
	b, err := l.r.ReadByte()
	if err != nil {
		t.Fatal(err)
	}
	n, mul := 0, 1
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		n += int(c&127) * mul
		if c < 128 {
			break
		}
		mul *= 128
	}
	if _, err := io.CopyN(io.Discard, l.r, int64(n)); err != nil {
		t.Fatal(err)
	}
	return b >> 4
}

// dialRawLock provisions a lock and connects it as a lock does (MQTT v5,
// will and retained birth on its status topic, subscribed to its bundle
// and command topics), then publishes one acknowledgement.
func dialRawLock(t testing.TB, b *mqtt.Embedded) *rawLock {
	t.Helper()
	id := "lock-" + uniqueID()
	password, hash := mqtt.NewSecret()
	if err := b.PutLock(id, hash); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	l := &rawLock{id: id, conn: c, r: bufio.NewReader(c)}
	status := mqtt.MustTopic(mqtt.KindStatus, id)
	steps := []struct {
		pk   packets.Packet
		want byte
	}{
		{packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 30,
				UsernameFlag: true, Username: []byte(id), PasswordFlag: true, Password: []byte(password),
				WillFlag: true, WillTopic: status, WillPayload: []byte(mqtt.StatusOffline), WillQos: 1, WillRetain: true}}, packets.Connack},
		{packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 5, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: mqtt.MustTopic(mqtt.KindBundle, id), Qos: 1}, {Filter: mqtt.MustTopic(mqtt.KindCommand, id), Qos: 1}}}, packets.Suback},
		{packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: true}, ProtocolVersion: 5, PacketID: 2,
			TopicName: status, Payload: []byte(mqtt.StatusOnline)}, packets.Puback},
		{packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 5, PacketID: 3,
			TopicName: mqtt.MustTopic(mqtt.KindAck, id), Payload: bytes.Repeat([]byte("a"), 300)}, packets.Puback},
	}
	for _, s := range steps {
		if _, err := c.Write(encodePacket(t, s.pk)); err != nil {
			t.Fatal(err)
		}
		if got := l.readPacket(t); got != s.want {
			t.Fatalf("%s: got packet type %d, want %d", id, got, s.want)
		}
	}
	return l
}

func stackInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

// TestEmbedded_IdleLockStacksShrink: mochi v2.7.9 as released runs two
// goroutines per connected lock (read loop, write loop). Reading a lock's
// PUBLISH and writing it a bundle grow their stacks (mochi passes its
// ~800-byte packets by value through deep call chains), and the frames an
// idle connection parks under (attachClient, Read, WriteLoop: 1.6–2.9 KB
// each, because they hold packets) keep them at 16 + 8 KB: the garbage
// collector shrinks a stack only when less than a quarter of it is in use.
// The patched mochi in third_party (README.DOOROS.md) parks the read loop
// under small frames, so its stack shrinks to 4 KB, and writes a client's
// queue with a goroutine that ends when the queue is empty: an idle lock
// has one goroutine and 4 KB of stack. (A read goroutine parked under more
// than ≈ 1.2 KB of frames stays at 8 KB, which the bound catches too.)
// Stack sizes are powers of two and the GCs are the test's own; the only
// wait is for the writers to end, bounded by wait.
func TestEmbedded_IdleLockStacksShrink(t *testing.T) {
	const locks = 200
	b, _ := MustStartBroker(t)
	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	acks := make(chan mqtt.Message, locks)
	if err := cloud.Subscribe(t.Context(), mqtt.Filter(mqtt.KindAck), 1, func(m mqtt.Message) { acks <- m }); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before, goroutines := stackInuse(), runtime.NumGoroutine()
	conns := make([]*rawLock, locks)
	for i := range conns {
		conns[i] = dialRawLock(t, b)
	}
	for range locks {
		<-acks
	}
	// The cloud sends every lock a bundle: each write loop writes one.
	for _, l := range conns {
		if err := cloud.Publish(t.Context(), mqtt.MustTopic(mqtt.KindBundle, l.id), bytes.Repeat([]byte("b"), 600), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range conns {
		if got := l.readPacket(t); got != packets.Publish {
			t.Fatalf("%s: got packet type %d, want a PUBLISH", l.id, got)
		}
	}
	// Once a lock's outbound queue is empty its writer ends: an idle lock
	// has one goroutine, its read loop.
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine()-goroutines > locks && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine() - goroutines; g > locks {
		t.Fatalf("%d goroutines for %d idle connected locks, want one each", g, locks)
	}
	// A GC shrinks a stack by half at most; three take a 16 KB stack down
	// to 2 KB if it can go that far.
	for range 3 {
		runtime.GC()
	}
	per := float64(stackInuse()-before) / locks
	t.Logf("goroutine stacks per idle connected lock: %.1f KB", per/1024)
	// The race detector's instrumentation makes frames larger: 8 KB per
	// lock under -race, against 24 KB or more with the released broker.
	bound := 6 << 10
	if raceEnabled {
		bound = 12 << 10
	}
	if per > float64(bound) {
		t.Errorf("goroutine stacks per idle connected lock: %.1f KB, want ≤ %d KB", per/1024, bound>>10)
	}
}

// TestEmbedded_BundlesReachLockInOrder: the patched broker writes a lock's
// queue with a goroutine that ends whenever the queue is empty and is
// started again by the next message. Bursts of bundles to several locks
// from two publishers at once, each burst waited for before the next (so
// writers end and start again many times), all arrive, each publisher's in
// the order it published them, and the broker dropped none.
func TestEmbedded_BundlesReachLockInOrder(t *testing.T) {
	const locks, bursts, burst = 4, 40, 50 // a burst fits the 64-packet queue
	b, _ := MustStartBroker(t)
	cloud := b.Client(nil)
	t.Cleanup(func() { _ = cloud.Close() })
	ctx := t.Context()
	type lock struct {
		topic string
		in    Inbox
	}
	ls := make([]lock, locks)
	for i := range ls {
		cfg := MustProvisionLock(t, b)
		c := MustConnect(t, cfg)
		ls[i].topic = mqtt.MustTopic(mqtt.KindBundle, cfg.ClientID)
		ls[i].in = MustSubscribe(t, c, ls[i].topic)
	}
	// Two publishers per burst, each to every lock: queueing (and starting
	// a writer) from several goroutines at once. Each publisher's bundles
	// keep their order.
	const publishers = 2
	for n := range bursts {
		errs := make(chan error, publishers)
		for p := range publishers {
			go func() {
				for k := range burst / publishers {
					for _, l := range ls {
						if err := cloud.Publish(ctx, l.topic, fmt.Appendf(nil, "%d/%d", p, n*burst+k), 1, false); err != nil {
							errs <- err
							return
						}
					}
				}
				errs <- nil
			}()
		}
		for range publishers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range ls {
			next := [publishers]int{n * burst, n * burst}
			for range burst / publishers * publishers {
				payload := string(l.in.Expect(t, l.topic).Payload)
				var p, k int
				if _, err := fmt.Sscanf(payload, "%d/%d", &p, &k); err != nil || p < 0 || p >= publishers {
					t.Fatalf("%s: unexpected bundle %q", l.topic, payload)
				}
				if k != next[p] {
					t.Fatalf("%s: publisher %d: got bundle %d, want %d", l.topic, p, k, next[p])
				}
				next[p]++
			}
		}
	}
	if d := b.Dropped(); d != 0 {
		t.Fatalf("broker dropped %d messages", d)
	}
}

// TestLockClientHeapIsSmall: paho sizes a client's queue of received
// messages by the Receive Maximum the client asks for; a lock that asked
// for none got 65,535 slots, a 512 KB array of pointers per connection
// (5 GB at 10,000 simulated locks in one process, scanned by every GC).
// A lock asks for mqtt.LockReceiveMaximum (16), so a connected lock —
// its client and its connection in the broker, both in this process —
// takes a few tens of KB of heap (64-68 KB measured; 579 KB without
// the Receive Maximum; the bound leaves room for other tests' leftovers).
func TestLockClientHeapIsSmall(t *testing.T) {
	const locks = 40
	b, _ := MustStartBroker(t)
	cfgs := make([]mqtt.ClientConfig, locks)
	for i := range cfgs {
		cfgs[i] = MustProvisionLock(t, b)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for _, cfg := range cfgs {
		c := MustConnect(t, cfg)
		MustSubscribe(t, c, mqtt.MustTopic(mqtt.KindBundle, cfg.ClientID))
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / locks
	t.Logf("heap per connected lock (client and broker): %.1f KB", per/1024)
	if per > 256<<10 {
		t.Errorf("heap per connected lock %.1f KB, want ≤ 256 KB (a receive queue of 65,535 alone is 512 KB)", per/1024)
	}
}
