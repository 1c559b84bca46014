package doorsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
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

	// Queue is how many lock messages wait for the workers; 0 means
	// inboundQueue. When it is full, the MQTT handler waits for room.
	Queue int

	// SharedGroup, when set, subscribes to acks, event logs and status in
	// this MQTT 5 shared subscription group (inbound.go).
	SharedGroup string

	acks      *ackQueue    // acks received and not yet recorded, by lock (set by Run)
	in        chan inbound // lock messages waiting for the workers (set by Run)
	published publishedVersions
	rtt       ackRoundTrip
	round     pushGate
}

func (p *Pusher) defaults() {
	if p.Poll <= 0 {
		p.Poll = 250 * time.Millisecond
	}
	if p.Queue <= 0 {
		p.Queue = inboundQueue
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

// inboundQueue is how many lock messages wait for a worker. When it is
// full the MQTT handler waits (backpressure): the cloud's client stops
// reading, the broker holds the locks' messages (QoS 1, within its
// inflight window) instead of the server dropping them — a dropped ack
// made the outbox republish, which made more acks.
const inboundQueue = 8192

// errAckQueued is why a held push was not built (the door.state row's last error).
var errAckQueued = errors.New("not pushed yet: an ack of the lock waits to be recorded")

// disconnectedTries is how many claims of a door.state row skip a lock
// whose last status is not online before the row is published anyway.
const disconnectedTries = 2

// skipDisconnected reports whether a door's claimed rows may still skip a
// lock that is not connected: none was claimed more than disconnectedTries
// times.
func skipDisconnected(rows []store.OutboxItem) bool {
	for _, r := range rows {
		if r.Attempts > disconnectedTries {
			return false
		}
	}
	return true
}

// ackHeldRetry is when a push held back for a queued ack is looked at again.
const ackHeldRetry = 100 * time.Millisecond

// holdRepublish reports whether a door's bundle of version is not
// published this round because this server already published that
// version (published: the highest version it published for the door) and
// the inbound side is behind: backlog lock messages (acks among them)
// wait for the workers, out of a queue of queueCap. A row is republished
// when its ack is not recorded within the backoff; when acks wait longer
// than that to be recorded, every republish is one more bundle and one
// more ack for a lock that most likely has the version already (at 10,000
// locks: 76,784 bundles for 20,000 needed, docs/bench-fleet.md). So while
// at least an eighth of the queue waits, republishes are held for another
// backoff. A version this server has not published yet is never held,
// nor is a push asked for afresh (retried false: a row claimed for the
// first time, e.g. queued because the lock came back online and missed
// the publish — holding it would leave the lock without it for a
// backoff).
func holdRepublish(version, published int64, backlog, queueCap int, retried bool) bool {
	return retried && version <= published && backlog >= max(queueCap/8, 1)
}

// retried reports whether every one of a door's claimed rows was claimed
// before (its backoff ran out): a republish, not a push asked for afresh.
func retried(rows []store.OutboxItem) bool {
	for _, r := range rows {
		if r.Attempts <= 1 {
			return false
		}
	}
	return len(rows) > 0
}

// groupMax is the most lock messages one group commit records. A group
// holds SQLite's one writer while it records, and bundles wait for it to
// be stored before they are published: groups of 256 made a 1,000-lock
// revocation's tail slower (docs/bench-fleet.md), so groups stay short.
const groupMax = 128

// Run subscribes to the locks' topics and delivers pushes until ctx ends.
// Every committed door.state outbox row wakes it (store.OnDoorStateQueued),
// whatever use case queued it.
func (p *Pusher) Run(ctx context.Context) error {
	p.defaults()
	defer p.Svc.Store.OnDoorStateQueued(p.Svc.Wake)()
	p.acks = &ackQueue{n: map[string]int{}}
	in := make(chan inbound, p.Queue)
	p.in = in
	handler := func(m mqtt.Message) {
		id, kind, err := mqtt.ParseTopic(m.Topic)
		if err != nil {
			return
		}
		if kind == mqtt.KindAck {
			p.acks.add(id, 1)
		}
		select {
		case in <- inbound{lockID: id, kind: kind, body: m.Payload}:
		default:
			inboundWaits.Inc()
			select {
			case in <- inbound{lockID: id, kind: kind, body: m.Payload}:
			case <-ctx.Done():
			}
		}
	}
	if err := p.subscribe(ctx, handler); err != nil { // inbound.go
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]inbound, 0, groupMax)
			waited := false
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-in:
					batch = append(batch[:0], m)
				}
				// A push round goes first (pushGate); a worker that waited
				// for the last one does not wait again, so lock messages
				// are recorded at least every other group even when rounds
				// follow each other.
				if !waited {
					waited = p.round.wait(ctx, roundWaitMax)
				} else {
					waited = false
				}
				p.Svc.notices.round.wait(ctx, noticeWaitMax)
			drain:
				for len(batch) < groupMax {
					select {
					case m := <-in:
						batch = append(batch, m)
					default:
						break drain
					}
				}
				p.receive(ctx, batch)
			}
		}()
	}
	t := time.NewTicker(p.Poll)
	defer t.Stop()
	for {
		for {
			// A revocation's notices go out before its bundles.
			p.Svc.notices.round.wait(ctx, noticeWaitMax)
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
	items, err := p.Svc.Store.ClaimOutboxLease(ctx, store.TopicDoorState, claimBatch, doorStateLease) // inbound.go
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
	settleAfter := func(doorID string, complete bool, cause error, backoff time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range byDoor[doorID] {
			b := backoff
			if b == 0 {
				b = p.backoff(r.Attempts)
			}
			outcomes = append(outcomes, store.DoorPushOutcome{Item: r, Complete: complete, Cause: cause, Backoff: b})
		}
	}
	settle := func(doorID string, complete bool, cause error) { settleAfter(doorID, complete, cause, 0) }
	// A door whose lock's ack waits to be recorded is not built now: the
	// ack moves the version the next bundle is a delta from (built from
	// the last recorded ack, the lock would refuse it and ask for a
	// snapshot), or completes the version outright. Recording acks wakes
	// the pusher; ackHeldRetry is the safety net.
	//
	// Unless this server published the lock a version since its last
	// recorded ack: then the bundle is built as a delta from that version
	// (store.BuildOptions.AssumeBase), so a revocation does not wait for
	// the previous round's acks to be recorded. The lock checks the base;
	// a wrong guess costs a snapshot, never a wrong state.
	build := order[:0:0]
	var assume map[string]int64
	connectedOnly := map[string]bool{}
	for _, doorID := range order {
		// A lock not connected is not pushed to (its "online" status
		// queues the push), but only for its first disconnectedTries
		// claims: the status may have been missed, so after that the
		// bundle goes out with backoff as for any lock.
		connectedOnly[doorID] = skipDisconnected(byDoor[doorID])
		if p.acks.queued(doorID) {
			if v := p.published.get(doorID); v > 0 {
				if assume == nil {
					assume = map[string]int64{}
				}
				assume[doorID] = v
			} else {
				ackHeldPushes.Inc()
				settleAfter(doorID, false, errAckQueued, ackHeldRetry)
				continue
			}
		}
		build = append(build, doorID)
	}
	if len(build) > 0 {
		defer p.round.begin()()
	}
	publish := make(chan store.DoorBundle, len(build)) // never holds up storing
	var wg sync.WaitGroup
	for range min(p.Workers, len(build)) {
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
					p.published.set(b.DoorID, b.Version)
					err = fmt.Errorf("published version %d, waiting for the lock's ack", b.Version)
				}
				settle(b.DoorID, false, err)
			}
		}()
	}
	p.Svc.Store.BuildDoorBundles(ctx, p.Svc.Keys, p.Svc.Keys, build, store.BuildOptions{OnlineOnly: true, ConnectedOnly: connectedOnly, AssumeBase: assume}, func(b store.BundleBuild) {
		switch {
		case errors.Is(b.Err, store.ErrAckPending):
			ackHeldPushes.Inc()
			settleAfter(b.DoorID, false, errAckQueued, ackHeldRetry)
		case errors.Is(b.Err, store.ErrLockDisconnected):
			// Nobody would receive it: the lock's "online" status queues
			// the push when it connects (receive). Should that status be
			// missed, the row is built regardless after disconnectedTries
			// claims, MaxBackoff apart.
			settleAfter(b.DoorID, false, errors.New("lock not connected: pushed when it reports online"), p.MaxBackoff)
		case errors.Is(b.Err, store.ErrSkippedOffline), isInSync(b.Err), domain.ErrorCode(b.Err) == domain.ENotFound:
			// Phones carry offline doors' bundles; an acknowledged door or
			// one without a lock has nothing to push.
			settle(b.DoorID, true, nil)
		case b.Err != nil:
			bundleFailures.Inc()
			settle(b.DoorID, false, b.Err)
		case p.in != nil && holdRepublish(b.Bundle.Version, p.published.get(b.DoorID), len(p.in), cap(p.in), retried(byDoor[b.DoorID])):
			// Backpressure: see holdRepublish. Held for the base backoff
			// (not ackHeldRetry: re-claiming thousands of rows every
			// 100 ms would compete with the acks for the writer); an ack
			// recorded meanwhile completes the rows.
			backlogHeldPushes.Inc()
			settleAfter(b.DoorID, false, fmt.Errorf("version %d not republished: %d lock messages wait to be recorded", b.Bundle.Version, len(p.in)), p.Backoff)
		default:
			bundlesBuilt.WithLabelValues("mqtt").Inc()
			if b.Bundle.Version <= p.published.get(b.DoorID) {
				republishes.Inc()
			}
			if v, ok := assume[b.DoorID]; ok && !b.Bundle.Snapshot && b.Bundle.Base == v {
				aheadOfAck.Inc()
			}
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

// pushGate lets lock messages wait while a push round builds, stores and
// publishes its bundles (and the pusher and lock messages wait for a round
// of revocation notices the same way, notice.go): the round's critical path (revoke → every lock
// refusing) then has both cores and SQLite's writer instead of sharing
// them with the acks and event logs of the previous round, which can wait
// (docs/bench-fleet.md). The wait is bounded (roundWaitMax) and a worker
// waits at most every other group, so the inbound side is never starved.
type pushGate struct {
	mu   sync.Mutex
	open chan struct{} // closed when the current round ends; nil before the first
}

// roundWaitMax is the longest a group of lock messages waits for a push round.
const roundWaitMax = 500 * time.Millisecond

// begin marks a round in progress; the returned func ends it.
func (g *pushGate) begin() (end func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.open = ch
	g.mu.Unlock()
	return func() { close(ch) }
}

// wait waits for the round in progress to end, at most limit; it reports
// whether there was a round to wait for.
func (g *pushGate) wait(ctx context.Context, limit time.Duration) bool {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// publishedVersions is the highest version this server published per
// door (holdRepublish), and when it published it (the ack round trip).
// One entry per online door: bounded by the fleet.
type publishedVersions struct {
	mu sync.Mutex
	v  map[string]publishedVersion
}

type publishedVersion struct {
	version int64
	at      time.Time // zero once its ack was timed
}

func (pv *publishedVersions) get(doorID string) int64 {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	return pv.v[doorID].version
}

func (pv *publishedVersions) set(doorID string, version int64) {
	pv.setAt(doorID, version, time.Now())
}

func (pv *publishedVersions) setAt(doorID string, version int64, at time.Time) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.v == nil {
		pv.v = map[string]publishedVersion{}
	}
	if version > pv.v[doorID].version {
		pv.v[doorID] = publishedVersion{version: version, at: at}
	}
}

// acked returns how long ago the door's version was published, once: an
// ack of that version (or a later one) recorded now gives one round-trip
// sample; an older version's ack gives none.
func (pv *publishedVersions) acked(doorID string, version int64, now time.Time) (time.Duration, bool) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	e, ok := pv.v[doorID]
	if !ok || e.at.IsZero() || version < e.version {
		return 0, false
	}
	pv.v[doorID] = publishedVersion{version: e.version}
	return now.Sub(e.at), true
}

// ackRoundTrip estimates how long an ack takes to be recorded after its
// bundle was published, the whole way: broker, lock, broker, inbound queue,
// group commit. It is the slowest recent round trip: it follows a slower
// one at once and halves every rttHalfLife, so the fast first acks of a
// round do not hide its slow last ones. A republish waits for at least
// twice this (Pusher.backoff): with a fixed 2 s, 1,000 locks whose acks
// took longer than that to be recorded were sent thousands of needless
// bundles in 20 revocations, each making one more ack and event batch to
// record (docs/bench-fleet.md).
type ackRoundTrip struct {
	mu sync.Mutex
	d  time.Duration
	at time.Time // of d
}

// rttHalfLife is how fast the ack round trip estimate forgets a slow spell.
const rttHalfLife = 30 * time.Second

func (r *ackRoundTrip) observe(d time.Duration, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.d, r.at = max(d, r.decayed(now)), now
	ackRoundTripSeconds.Set(r.d.Seconds())
}

func (r *ackRoundTrip) get(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decayed(now)
}

func (r *ackRoundTrip) decayed(now time.Time) time.Duration {
	if r.d == 0 {
		return 0
	}
	return time.Duration(float64(r.d) * math.Exp2(-float64(now.Sub(r.at))/float64(rttHalfLife)))
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

// backoff is how long a row waits for its ack after its attempt-th push:
// Backoff, or twice the measured ack round trip when acks take longer
// (ackRoundTrip), doubling per attempt up to MaxBackoff.
func (p *Pusher) backoff(attempt int) time.Duration {
	base := max(p.Backoff, 2*p.rtt.get(time.Now()))
	b := base << min(max(attempt-1, 0), 10)
	if b > p.MaxBackoff || b <= 0 {
		b = p.MaxBackoff
	}
	return b
}

// ackQueue counts, per lock, the acks received and not yet recorded: a
// door whose ack is queued is not pushed again (the ack may well complete
// it), which would only make more acks.
type ackQueue struct {
	mu sync.Mutex
	n  map[string]int
}

func (q *ackQueue) add(lockID string, d int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n[lockID] += d; q.n[lockID] <= 0 {
		delete(q.n, lockID)
	}
}

func (q *ackQueue) queued(lockID string) bool {
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n[lockID] > 0
}

// receive verifies a batch of lock messages (acks, event logs, status)
// and records them in one group commit (store.Group): one transaction and
// one WAL sync for up to groupMax messages instead of one each. Messages
// are recorded in lock order, so concurrent groups on PostgreSQL lock the
// rows of their doors in the same order; one lock's messages keep their
// order. A message whose recording fails is recorded again on its own, so
// that what its use case commits beside the refusal (a flagged log fork)
// is kept.
func (p *Pusher) receive(ctx context.Context, batch []inbound) {
	type item struct {
		m      inbound
		ack    verifiedAck
		events verifiedEvents
	}
	items := make([]item, 0, len(batch))
	for _, m := range batch {
		log := p.Svc.Log.With("lock", m.lockID)
		it := item{m: m}
		var err error
		switch m.kind {
		case mqtt.KindAck:
			if it.ack, err = p.Svc.verifyAck(ctx, m.lockID, m.body); err != nil {
				p.acks.add(m.lockID, -1)
				log.Warn("door sync: ack refused", "err", err)
				continue
			}
		case mqtt.KindEvents:
			if it.events, err = p.Svc.verifyEvents(ctx, m.lockID, m.body); err != nil {
				log.Warn("door sync: event log refused", "err", err)
				continue
			}
		case mqtt.KindStatus:
			if s := string(m.body); s != mqtt.StatusOnline && s != mqtt.StatusOffline {
				continue
			}
		case mqtt.KindResult:
			// A remote unlock's result goes to the request waiting for it
			// (remote.go); nothing is recorded here.
			p.Svc.remote.deliver(m.lockID, m.body)
			continue
		default:
			continue
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].m.lockID < items[j].m.lockID })
	record := func(ctx context.Context, it item) error {
		switch it.m.kind {
		case mqtt.KindAck:
			_, err := p.Svc.recordAck(ctx, it.ack, "mqtt")
			return err
		case mqtt.KindEvents:
			_, err := p.Svc.recordEvents(ctx, it.events, "mqtt")
			return err
		default:
			return p.Svc.Store.RecordLockStatus(ctx, it.m.lockID, string(it.m.body))
		}
	}
	errs := p.Svc.Store.Group(ctx, "door_sync_inbound", len(items), func(ctx context.Context, i int) error { return record(ctx, items[i]) })
	groupSize.Observe(float64(len(items)))
	acked := false
	defer func() {
		if acked {
			p.Svc.Wake() // pushes held back for these acks
		}
	}()
	for i, it := range items {
		err := errs[i]
		if err != nil && ctx.Err() == nil {
			err = record(ctx, it) // alone: see above
		}
		log := p.Svc.Log.With("lock", it.m.lockID)
		switch it.m.kind {
		case mqtt.KindAck:
			p.acks.add(it.m.lockID, -1)
			acked = true
			if err != nil {
				log.Warn("door sync: ack refused", "err", err)
			} else if d, ok := p.published.acked(it.m.lockID, int64(it.ack.ack.Version), time.Now()); ok {
				p.rtt.observe(d, time.Now())
			}
		case mqtt.KindEvents:
			if err != nil {
				log.Warn("door sync: event log refused", "err", err)
			}
		case mqtt.KindStatus:
			if err != nil {
				log.Error("door sync: record status", "err", err)
				continue
			}
			if string(it.m.body) == mqtt.StatusOnline {
				// A lock that comes back gets what it missed now, not at the
				// next backoff.
				if version, acked, _, err := p.Svc.Store.DoorVersion(ctx, it.m.lockID); err == nil && version > acked {
					if err := p.Svc.Store.RequeueDoorState(ctx, it.m.lockID); err == nil {
						p.Svc.Wake()
					}
				}
			}
		}
	}
}
