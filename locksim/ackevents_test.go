package locksim_test

import (
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mqtt"
)

// cloudSide is a minimal cloud on a real embedded broker: it pushes
// bundles to one lock and takes its acks and event batches. old makes it
// a server from before events in the ack: it refuses an ack carrying
// them (a server at 8de4807 refuses the unknown ack field 7 as
// malformed, like VerifyAck's ErrAckEvents here) and republishes the
// bundle until it gets an ack it takes, as the pusher does.
type cloudSide struct {
	t                         *testing.T
	c                         *mqtt.Client
	lock                      *lock.Lock
	keys                      *lockproto.LockKeys
	prop                      ed25519.PrivateKey
	old                       bool
	mu                        sync.Mutex
	events                    map[uint64]bool // sequence numbers received
	acked                     uint64          // version of the last ack taken
	carried, refused, batches int
	// again counts acks of a version already acknowledged: the lock got
	// a bundle twice (a retained or unacknowledged one redelivered after
	// its connection dropped, as on a loaded machine) and refused it.
	again int
}

func newCloudSide(t *testing.T, old bool) *cloudSide {
	t.Helper()
	l, keys, propPriv := provisionedLock(t, "UTC")
	svcPw, svcHash := mqtt.NewSecret()
	lockPw, lockHash := mqtt.NewSecret()
	b, err := mqtt.StartEmbedded(mqtt.EmbeddedConfig{Addr: "127.0.0.1:0", ServiceSecret: svcHash, Locks: map[string]mqtt.SecretHash{"door-gym": lockHash}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := mqtt.Connect(t.Context(), mqtt.ClientConfig{URL: b.URL(), ClientID: "cloud", Username: mqtt.DefaultServiceUser, Password: svcPw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := &cloudSide{t: t, c: c, lock: l, keys: keys, prop: propPriv, old: old, events: map[uint64]bool{}}
	if err := c.Subscribe(t.Context(), mqtt.Filter(mqtt.KindAck), 1, cs.onAck); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(t.Context(), mqtt.Filter(mqtt.KindEvents), 1, cs.onEvents); err != nil {
		t.Fatal(err)
	}
	go locksim.RunMQTT(t.Context(), b.URL(), lockPw, l, nil)
	return cs
}

func (cs *cloudSide) onAck(m mqtt.Message) {
	var a *lockproto.Ack
	var run *lockproto.EventBatch
	var err error
	if cs.old {
		a, err = lockproto.VerifyAck(cs.keys.Public, "door-gym", m.Payload)
	} else {
		a, run, err = lockproto.OpenAck(cs.keys.Public, "door-gym", cs.keys.Symmetric, m.Payload)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if err != nil {
		if !errors.Is(err, lockproto.ErrAckEvents) {
			cs.t.Errorf("ack refused: %v", err)
		}
		cs.refused++
		return
	}
	if a.Version <= cs.acked {
		cs.again++
	}
	cs.acked = max(cs.acked, a.Version)
	if run != nil {
		cs.carried++
		for _, e := range run.Events {
			cs.events[e.Seq] = true
		}
	}
}

func (cs *cloudSide) onEvents(m mqtt.Message) {
	b, _, err := lockproto.OpenEventBatch(cs.keys.Public, "door-gym", cs.keys.Symmetric, m.Payload)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if err != nil {
		cs.t.Errorf("event batch refused: %v", err)
		return
	}
	cs.batches++
	for _, e := range b.Events {
		cs.events[e.Seq] = true
	}
}

// push publishes version v until the lock's ack of it is taken.
func (cs *cloudSide) push(v uint64) {
	cs.t.Helper()
	sealed, err := lockproto.SealBundle(cs.prop, cs.keys.Symmetric, lockproto.Bundle{LockID: "door-gym", Version: v, Snapshot: true})
	if err != nil {
		cs.t.Fatal(err)
	}
	// The new server here publishes once, retained so that a lock not yet
	// subscribed gets it too (a republish racing the ack would rightly
	// make the lock fall back); the old one every 200 ms.
	deadline := time.Now().Add(30 * time.Second)
	for sent := false; time.Now().Before(deadline); {
		if !sent || cs.old {
			if err := cs.c.Publish(cs.t.Context(), mqtt.MustTopic(mqtt.KindBundle, "door-gym"), sealed, 1, !cs.old); err != nil {
				cs.t.Fatal(err)
			}
			sent = true
		}
		for range 20 {
			time.Sleep(10 * time.Millisecond)
			cs.mu.Lock()
			done := cs.acked >= v
			cs.mu.Unlock()
			if done {
				return
			}
		}
	}
	cs.t.Fatalf("version %d never acknowledged", v)
}

// hasAll waits until the cloud holds every event the lock logged.
func (cs *cloudSide) hasAll() {
	cs.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		end := cs.lock.Status().LogNext
		cs.mu.Lock()
		missing := 0
		for s := uint64(1); s < end; s++ {
			if !cs.events[s] {
				missing++
			}
		}
		cs.mu.Unlock()
		if missing == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	cs.t.Fatalf("the cloud never got every event (log ends at %d)", cs.lock.Status().LogNext)
}

// A new lock with a new server: each bundle is answered with one message,
// the ack carrying the events; no event batch is needed for them.
func TestMQTTAckCarriesEvents(t *testing.T) {
	cs := newCloudSide(t, false)
	for v := uint64(1); v <= 3; v++ {
		cs.push(v)
		cs.hasAll()
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.again > 0 && cs.carried >= 1 && cs.refused == 0 {
		// A redelivered bundle, refused after an ack with events, makes
		// the lock fall back to plain acks and batches by design (it
		// cannot tell an old server's refusal from a duplicate): every
		// event still arrived (hasAll).
		t.Logf("a bundle was delivered twice (%d acks of a version already acknowledged): the lock fell back after %d acks with events", cs.again, cs.carried)
		return
	}
	if cs.carried != 3 || cs.refused != 0 {
		t.Fatalf("acks with events %d, refused %d, acks of a version already acknowledged %d; want 3, 0 and 0", cs.carried, cs.refused, cs.again)
	}
}

// A new lock with an old server: the first ack with events is refused
// and its bundle republished; the lock then sends plain acks and event
// batches, and the cloud ends with every ack and every event.
func TestMQTTAckEventsOldServer(t *testing.T) {
	cs := newCloudSide(t, true)
	for v := uint64(1); v <= 3; v++ {
		cs.push(v)
		cs.hasAll()
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.refused != 1 || cs.batches == 0 {
		t.Fatalf("refused acks %d, event batches %d; want one refusal, then batches", cs.refused, cs.batches)
	}
}

// A new lock with an old server that pushed the next version before the
// refused ack came back (a delta built ahead of the ack): two acks with
// events are refused before the lock sees a republish. The lock goes
// back to the first of them, so the events of both reach the cloud.
func TestMQTTAckEventsOldServerTwoRefused(t *testing.T) {
	cs := newCloudSide(t, true)
	for v := uint64(1); v <= 2; v++ {
		sealed, err := lockproto.SealBundle(cs.prop, cs.keys.Symmetric, lockproto.Bundle{LockID: "door-gym", Version: v, Snapshot: true})
		if err != nil {
			t.Fatal(err)
		}
		// Retained: the lock gets it even before it subscribed; wait until
		// it applied it (its ack is refused).
		if err := cs.c.Publish(t.Context(), mqtt.MustTopic(mqtt.KindBundle, "door-gym"), sealed, 1, true); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); cs.lock.Status().Version < v; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("version %d never applied", v)
			}
		}
	}
	cs.push(2) // republished until an ack is taken
	cs.hasAll()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.refused < 2 {
		t.Fatalf("refused acks %d, want the two with events", cs.refused)
	}
}
