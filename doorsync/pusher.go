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
// the outbox's lease, and any instance's ack handler closes a row once the
// door's acknowledged version reaches it.
type Pusher struct {
	Svc    *Service
	Client *mqtt.Client
	// Poll is how often the outbox is read when nothing wakes the pusher.
	Poll time.Duration
	// Workers publish (and build bundles) in parallel.
	Workers int
	// Backoff is how long a published row waits for its ack before it is
	// published again (doubling per attempt, up to MaxBackoff).
	Backoff, MaxBackoff time.Duration

	mu       sync.Mutex
	inflight map[string][]string // door → outbox rows waiting for its ack
}

func (p *Pusher) defaults() {
	if p.Poll <= 0 {
		p.Poll = 250 * time.Millisecond
	}
	if p.Workers <= 0 {
		p.Workers = 16
	}
	if p.Backoff <= 0 {
		p.Backoff = 2 * time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = time.Minute
	}
	p.inflight = map[string][]string{}
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
	for _, k := range []mqtt.Kind{mqtt.KindAck, mqtt.KindEvents, mqtt.KindStatus} {
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

const claimBatch = 256

// pushOnce claims due rows and publishes one bundle per door.
func (p *Pusher) pushOnce(ctx context.Context) (int, error) {
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
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(p.Workers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for door := range work {
				p.pushDoor(ctx, door, byDoor[door])
			}
		}()
	}
	for _, d := range order {
		work <- d
	}
	close(work)
	wg.Wait()
	return len(items), nil
}

func (p *Pusher) pushDoor(ctx context.Context, doorID string, rows []store.OutboxItem) {
	st := p.Svc.Store
	complete := func() {
		for _, r := range rows {
			if err := st.CompleteOutbox(ctx, r.ID); err != nil {
				p.Svc.Log.Error("door sync: complete outbox row", "err", err)
			}
		}
	}
	_, _, conn, err := st.DoorVersion(ctx, doorID)
	if domain.ErrorCode(err) == domain.ENotFound || conn == domain.Offline {
		complete() // phones carry offline doors' bundles
		return
	}
	if err != nil {
		p.retry(ctx, rows, err)
		return
	}
	b, err := p.Svc.Bundle(ctx, doorID)
	switch {
	case isInSync(err), domain.ErrorCode(err) == domain.ENotFound:
		complete() // acknowledged already, or no lock to push to yet
		return
	case err != nil:
		p.retry(ctx, rows, err)
		return
	}
	p.mu.Lock()
	for _, r := range rows {
		p.inflight[doorID] = append(p.inflight[doorID], r.ID)
	}
	p.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = p.Client.Publish(pctx, mqtt.MustTopic(mqtt.KindBundle, doorID), b.Sealed, 1, false)
	cancel()
	if err == nil {
		err = fmt.Errorf("published version %d, waiting for the lock's ack", b.Version)
	}
	p.retry(ctx, rows, err)
}

func (p *Pusher) retry(ctx context.Context, rows []store.OutboxItem, cause error) {
	for _, r := range rows {
		backoff := p.Backoff << min(r.Attempts-1, 10)
		if backoff > p.MaxBackoff || backoff <= 0 {
			backoff = p.MaxBackoff
		}
		if err := p.Svc.Store.RetryOutbox(ctx, r.ID, cause, backoff); err != nil && ctx.Err() == nil {
			p.Svc.Log.Error("door sync: retry outbox row", "err", err)
		}
	}
}

// receive handles one message from a lock.
func (p *Pusher) receive(ctx context.Context, m inbound) {
	log := p.Svc.Log.With("lock", m.lockID)
	switch m.kind {
	case mqtt.KindAck:
		res, err := p.Svc.HandleAck(ctx, m.lockID, m.body, "mqtt")
		if err != nil {
			log.Warn("door sync: ack refused", "err", err)
			return
		}
		version, _, _, err := p.Svc.Store.DoorVersion(ctx, m.lockID)
		if err == nil && res.AckedVersion >= version {
			p.mu.Lock()
			ids := p.inflight[m.lockID]
			delete(p.inflight, m.lockID)
			p.mu.Unlock()
			for _, id := range ids {
				if err := p.Svc.Store.CompleteOutbox(ctx, id); err != nil {
					log.Error("door sync: complete outbox row", "err", err)
				}
			}
		}
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
