package doorsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// Pusher delivers door.state outbox rows to online locks over MQTT and
// takes their acknowledgements, event logs and status back. A row stays in
// the outbox, republished with backoff, until the lock acknowledges its
// version, so a push survives a lock that was away (clean sessions queue
// nothing), a broker restart and a server restart. Rows of offline doors
// are completed at once: phones carry their bundles.
//
// Several servers may run a Pusher on one database: rows are claimed with
// the outbox's lease (FOR UPDATE SKIP LOCKED on PostgreSQL), bundles for
// the same move are stored once (store.BuildDoorBundles locks the doors'
// lock rows and looks again), and whichever server receives a lock's ack
// completes the door's rows up to the acknowledged version in the same
// transaction that records it.
type Pusher struct {
	Svc    *Service
	Client *mqtt.Client
	// Poll is how often the outbox is read when nothing wakes the pusher.
	Poll time.Duration
	// Workers publish in parallel (bundles are sealed on a pool bounded
	// by GOMAXPROCS, see store.BuildDoorBundles).
	Workers int
	// Backoff is how long a published row waits for its ack before it is
	// published again (doubling per attempt, up to MaxBackoff).
	Backoff, MaxBackoff time.Duration
}

func (p *Pusher) defaults() {
	if p.Poll <= 0 {
		p.Poll = 250 * time.Millisecond
	}
	if p.Workers <= 0 {
		p.Workers = 64
	}
	if p.Backoff <= 0 {
		p.Backoff = 2 * time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = time.Minute
	}
}

type inbound struct {
	lockID string
	kind   mqtt.Kind
	body   []byte
}

// Run subscribes to the locks' topics and delivers pushes until ctx ends.
func (p *Pusher) Run(ctx context.Context) error {
	p.defaults()
	in := make(chan inbound, 8192)
	handler := func(m mqtt.Message) {
		id, kind, err := mqtt.ParseTopic(m.Topic)
		if err != nil {
			return
		}
		select {
		case in <- inbound{lockID: id, kind: kind, body: m.Payload}:
		default:
			p.Svc.Log.Warn("door sync: inbound queue full, message dropped (the outbox will republish)", "lock", id, "kind", kind)
		}
	}
	for _, k := range []mqtt.Kind{mqtt.KindAck, mqtt.KindEvents, mqtt.KindStatus, mqtt.KindResult} {
		if err := p.Client.Subscribe(ctx, mqtt.Filter(k), 1, handler); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-in:
					p.receive(ctx, m)
				}
			}
		}()
	}
	t := time.NewTicker(p.Poll)
	defer t.Stop()
	for {
		for {
			n, err := p.pushOnce(ctx)
			if err != nil && ctx.Err() == nil {
				p.Svc.Log.Error("door sync: push failed", "err", err)
			}
			if n < claimBatch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-p.Svc.wake:
		}
	}
}

// claimBatch is how many door.state rows one round claims: a revocation
// at a thousand doors goes out in one pipelined round.
const claimBatch = 1024

// pushOnce claims due rows, builds the bundles of their doors in one
// pipelined batch (store.BuildDoorBundles) and publishes each as soon as
// it is stored; then it puts every row back until its lock acknowledges
// (or completes it when there is nothing to push), in one transaction.
func (p *Pusher) pushOnce(ctx context.Context) (int, error) {
	if err := p.refreshOnce(ctx); err != nil && ctx.Err() == nil {
		p.Svc.Log.Error("door sync: refresh doors", "err", err)
	}
	items, err := p.Svc.Store.ClaimOutbox(ctx, store.TopicDoorState, claimBatch)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	byDoor := map[string][]store.OutboxItem{}
	var order []string
	for _, it := range items {
		var pl struct {
			DoorID string `json:"door_id"`
		}
		if json.Unmarshal([]byte(it.Payload), &pl) != nil || pl.DoorID == "" {
			p.Svc.Store.FailOutbox(ctx, it.ID, errors.New("payload without door_id"))
			continue
		}
		if byDoor[pl.DoorID] == nil {
			order = append(order, pl.DoorID)
		}
		byDoor[pl.DoorID] = append(byDoor[pl.DoorID], it)
	}
	var mu sync.Mutex
	var outcomes []store.DoorPushOutcome
	settle := func(doorID string, complete bool, cause error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range byDoor[doorID] {
			outcomes = append(outcomes, store.DoorPushOutcome{Item: r, Complete: complete, Cause: cause, Backoff: p.backoff(r.Attempts)})
		}
	}
	publish := make(chan store.DoorBundle, len(order)) // never holds up storing
	var wg sync.WaitGroup
	for range min(p.Workers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range publish {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := p.Client.Publish(pctx, mqtt.MustTopic(mqtt.KindBundle, b.DoorID), b.Sealed, 1, false)
				cancel()
				if err != nil {
					publishFailures.Inc()
				} else {
					err = fmt.Errorf("published version %d, waiting for the lock's ack", b.Version)
				}
				settle(b.DoorID, false, err)
			}
		}()
	}
	p.Svc.Store.BuildDoorBundles(ctx, p.Svc.Keys, p.Svc.Keys, order, store.BuildOptions{OnlineOnly: true}, func(b store.BundleBuild) {
		switch {
		case errors.Is(b.Err, store.ErrSkippedOffline), isInSync(b.Err), domain.ErrorCode(b.Err) == domain.ENotFound:
			// Phones carry offline doors' bundles; an acknowledged door or
			// one without a lock has nothing to push.
			settle(b.DoorID, true, nil)
		case b.Err != nil:
			bundleFailures.Inc()
			settle(b.DoorID, false, b.Err)
		default:
			bundlesBuilt.WithLabelValues("mqtt").Inc()
			publish <- b.Bundle
		}
	})
	close(publish)
	wg.Wait()
	if err := p.Svc.Store.SettleDoorPushes(ctx, outcomes); err != nil {
		return len(items), err
	}
	return len(items), nil
}

// refreshOnce gives doors whose holders' next access windows begin a new
// version (door.refresh rows), which queues their pushes.
func (p *Pusher) refreshOnce(ctx context.Context) error {
	items, err := p.Svc.Store.ClaimOutbox(ctx, store.TopicDoorRefresh, 256)
	if err != nil || len(items) == 0 {
		return err
	}
	return p.Svc.Store.RefreshDoors(ctx, items)
}

// backoff is how long a row waits for its ack after its attempt-th push.
func (p *Pusher) backoff(attempt int) time.Duration {
	b := p.Backoff << min(max(attempt-1, 0), 10)
	if b > p.MaxBackoff || b <= 0 {
		b = p.MaxBackoff
	}
	return b
}

// receive handles one message from a lock.
func (p *Pusher) receive(ctx context.Context, m inbound) {
	log := p.Svc.Log.With("lock", m.lockID)
	switch m.kind {
	case mqtt.KindAck:
		// Recording the ack completes the door's pushes up to its version.
		if _, err := p.Svc.HandleAck(ctx, m.lockID, m.body, "mqtt"); err != nil {
			log.Warn("door sync: ack refused", "err", err)
		}
	case mqtt.KindResult:
		p.Svc.remote.deliver(m.lockID, m.body)
	case mqtt.KindEvents:
		if _, err := p.Svc.HandleEvents(ctx, m.lockID, m.body, "mqtt"); err != nil {
			log.Warn("door sync: event log refused", "err", err)
		}
	case mqtt.KindStatus:
		status := string(m.body)
		if status != mqtt.StatusOnline && status != mqtt.StatusOffline {
			return
		}
		if err := p.Svc.Store.RecordLockStatus(ctx, m.lockID, status); err != nil {
			log.Error("door sync: record status", "err", err)
			return
		}
		if status == mqtt.StatusOnline {
			// A lock that comes back gets what it missed now, not at the
			// next backoff.
			if version, acked, _, err := p.Svc.Store.DoorVersion(ctx, m.lockID); err == nil && version > acked {
				if err := p.Svc.Store.RequeueDoorState(ctx, m.lockID); err == nil {
					p.Svc.Wake()
				}
			}
		}
	}
}
