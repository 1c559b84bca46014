package doorsync

import (
	"context"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// TestHoldRepublish: a version this server already published is held
// while at least an eighth of the inbound queue waits; a version it has
// not published yet never is, however far behind the inbound side is, nor
// is a push asked for afresh (a row claimed for the first time).
func TestHoldRepublish(t *testing.T) {
	const queue = 8192 // inboundQueue: threshold 1,024
	for _, c := range []struct {
		name               string
		version, published int64
		backlog, queueCap  int
		hold               bool
	}{
		{"first publish, queue full", 5, 0, queue, queue, false},
		{"new version after a published one, queue full", 6, 5, queue, queue, false},
		{"republish, queue empty", 5, 5, 0, queue, false},
		{"republish, just under an eighth", 5, 5, queue/8 - 1, queue, false},
		{"republish, an eighth waits", 5, 5, queue / 8, queue, true},
		{"republish, queue full", 5, 5, queue, queue, true},
		{"older version than published, behind", 4, 5, queue, queue, true},
		{"tiny queue: one waiting message is behind", 5, 5, 1, 4, true},
		{"tiny queue, empty", 5, 5, 0, 4, false},
		{"unbuffered queue never counts as behind", 5, 5, 0, 0, false},
	} {
		if got := holdRepublish(c.version, c.published, c.backlog, c.queueCap, true); got != c.hold {
			t.Errorf("%s: holdRepublish(%d, %d, %d, %d, retried) = %v, want %v", c.name, c.version, c.published, c.backlog, c.queueCap, got, c.hold)
		}
		// The same push asked for afresh (the lock came back online and
		// missed the publish) goes out whatever the backlog.
		if holdRepublish(c.version, c.published, c.backlog, c.queueCap, false) {
			t.Errorf("%s: a push asked for afresh was held", c.name)
		}
	}
	for _, c := range []struct {
		attempts []int
		want     bool
	}{{[]int{2}, true}, {[]int{2, 5}, true}, {[]int{1}, false}, {[]int{3, 1}, false}, {nil, false}} {
		if got := retried(outboxRows(c.attempts...)); got != c.want {
			t.Errorf("retried(attempts %v) = %v, want %v", c.attempts, got, c.want)
		}
	}
}

// TestPublishedVersions: the zero value works, unknown doors are 0 (never
// published: never held) and a late, older publish does not lower the
// version.
func TestPublishedVersions(t *testing.T) {
	var pv publishedVersions
	if v := pv.get("door-a"); v != 0 {
		t.Fatalf("unknown door: %d, want 0", v)
	}
	pv.set("door-a", 7)
	pv.set("door-a", 3)
	pv.set("door-b", 2)
	if v := pv.get("door-a"); v != 7 {
		t.Errorf("door-a: %d, want 7 (an older publish must not lower it)", v)
	}
	if v := pv.get("door-b"); v != 2 {
		t.Errorf("door-b: %d, want 2", v)
	}
	if holdRepublish(8, pv.get("door-a"), inboundQueue, inboundQueue, true) {
		t.Error("version 8 was never published by this server: must not be held")
	}
	if !holdRepublish(7, pv.get("door-a"), inboundQueue, inboundQueue, true) {
		t.Error("version 7 was published and the queue is full: must be held")
	}
}

// TestAckRoundTripBackoff: an ack of the published version (or a later
// one) gives one round-trip sample, an older version's none; the estimate
// follows a slower round trip at once and a faster one slowly; a
// republish waits for twice the estimate when that is longer than
// Backoff, doubling per attempt up to MaxBackoff.
func TestAckRoundTripBackoff(t *testing.T) {
	var pv publishedVersions
	t0 := time.Unix(1000, 0)
	if _, ok := pv.acked("door-a", 1, t0); ok {
		t.Fatal("a door never published gave a sample")
	}
	pv.setAt("door-a", 5, t0)
	if _, ok := pv.acked("door-a", 4, t0.Add(time.Second)); ok {
		t.Fatal("an ack of an older version gave a sample")
	}
	d, ok := pv.acked("door-a", 5, t0.Add(3*time.Second))
	if !ok || d != 3*time.Second {
		t.Fatalf("ack of the published version: %v %v, want 3s", d, ok)
	}
	if _, ok := pv.acked("door-a", 5, t0.Add(4*time.Second)); ok {
		t.Fatal("a second ack of the same publish gave a second sample")
	}
	if pv.get("door-a") != 5 {
		t.Fatal("timing the ack forgot the published version")
	}

	p := &Pusher{}
	p.defaults() // Backoff 2 s, MaxBackoff 1 min
	if got := p.backoff(1); got != 2*time.Second {
		t.Fatalf("backoff with no round trip measured: %v, want Backoff (2s)", got)
	}
	now := time.Now()
	p.rtt.observe(500*time.Millisecond, now)
	if got := p.backoff(1); got != 2*time.Second {
		t.Fatalf("backoff with a 0.5 s round trip: %v, want Backoff (2s)", got)
	}
	now = time.Now()
	p.rtt.observe(3*time.Second, now)
	if got := p.backoff(1); got < 5900*time.Millisecond || got > 6*time.Second {
		t.Fatalf("backoff with a 3 s round trip: %v, want 6s", got)
	}
	if got := p.backoff(5); got != time.Minute {
		t.Fatalf("fifth attempt: %v, want MaxBackoff (1m)", got)
	}
	// The fast acks of a round do not hide its slow ones.
	for range 1000 {
		p.rtt.observe(100*time.Millisecond, now)
	}
	if got := p.rtt.get(now); got != 3*time.Second {
		t.Fatalf("after many fast acks at once: estimate %v, want still 3s", got)
	}
	if got := p.rtt.get(now.Add(rttHalfLife)); got != 1500*time.Millisecond {
		t.Fatalf("one half-life later: %v, want 1.5s", got)
	}
	p.rtt.observe(100*time.Millisecond, now.Add(4*rttHalfLife))
	if got := p.rtt.get(now.Add(4 * rttHalfLife)); got != 187500*time.Microsecond {
		t.Fatalf("four half-lives later: %v, want 187.5ms", got)
	}
}

// TestPushGate: lock messages do not wait when no round runs, wait for a
// round in progress until it ends, and never longer than the limit.
func TestPushGate(t *testing.T) {
	var g pushGate
	ctx := context.Background()
	if g.wait(ctx, time.Hour) {
		t.Fatal("waited before any round")
	}
	end := g.begin()
	start := time.Now()
	go func() { time.Sleep(50 * time.Millisecond); end() }()
	if !g.wait(ctx, time.Hour) {
		t.Fatal("did not wait for the round in progress")
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("returned after %v, before the round ended", d)
	}
	if g.wait(ctx, time.Hour) {
		t.Fatal("waited after the round ended")
	}
	end = g.begin()
	defer end()
	start = time.Now()
	if !g.wait(ctx, 30*time.Millisecond) {
		t.Fatal("did not wait for a round that does not end")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waited %v past the 30 ms limit", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g.wait(cctx, time.Hour) // returns: the context ended
}

// TestLockOnlineStatus: the status a lock publishes when it connects is
// the one the store's ConnectedOnly builds take for connected.
func TestLockOnlineStatus(t *testing.T) {
	if mqtt.StatusOnline != store.LockOnline {
		t.Fatalf("mqtt.StatusOnline %q != store.LockOnline %q: the pusher would skip every connected lock", mqtt.StatusOnline, store.LockOnline)
	}
}

// TestSkipDisconnected: a lock that is not connected is skipped for the
// first disconnectedTries claims of its rows, then published to anyway (its
// "online" status may have been missed).
func TestSkipDisconnected(t *testing.T) {
	for _, c := range []struct {
		attempts []int
		skip     bool
	}{
		{[]int{1}, true},
		{[]int{disconnectedTries}, true},
		{[]int{disconnectedTries + 1}, false},
		{[]int{1, disconnectedTries + 1}, false},
		{nil, true},
	} {
		if got := skipDisconnected(outboxRows(c.attempts...)); got != c.skip {
			t.Errorf("attempts %v: skip %v, want %v", c.attempts, got, c.skip)
		}
	}
}

// outboxRows is one claimed door.state row per number of attempts.
func outboxRows(attempts ...int) []store.OutboxItem {
	var out []store.OutboxItem
	for _, a := range attempts {
		out = append(out, store.OutboxItem{Attempts: a})
	}
	return out
}
