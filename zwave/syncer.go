package zwave

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dooros/dooros/store"
)

// Syncer keeps every Z-Wave lock in step with DOOR OS: one connection per
// gateway (reconnected with backoff when it drops), and per door a sync
// that writes and clears User Code slots until the node confirmed the
// door's latest version. Changes made while a gateway is down are not
// lost: the door's version stays ahead of what its node holds, and the
// sync runs when the gateway is back.
type Syncer struct {
	Store  *store.Store
	Sealer store.Sealer
	Log    *slog.Logger
	// Poll is how often versions are checked besides the store's wake-up
	// (store.OnDoorStateQueued: every commit that gives a door a new
	// version wakes the syncer at once), a safety net that also notices
	// guest codes and changes committed by other instances (default 1s);
	// Retry the
	// wait after a failed sync (default 2s); CommandTimeout how long one
	// slot write may wait, a sleeping node's until it wakes (default 2m).
	Poll, Retry, CommandTimeout time.Duration
	// Now is the clock for code windows (default store's).
	Now func() time.Time
	// Holder names this syncer in the gateways' leases (default a random
	// id): one syncer drives a gateway at a time across `dooros serve`
	// instances sharing a database; it renews the lease every LeaseTTL/3
	// and another takes the gateway over once it has expired (default
	// LeaseTTL 15s).
	Holder   string
	LeaseTTL time.Duration

	// hook, when set (tests only: export_test.go), runs at named points
	// of a sync: "target" before the door's target is read, "written"
	// after the node confirmed a code and before it is recorded.
	hook func(point string, l store.ZWaveLock)

	mu       sync.Mutex
	gateways map[string]*gateway
	doors    map[string]*doorState // by door id
	wake     chan struct{}
}

type gateway struct {
	id     string
	client *Client // nil while disconnected
	nodes  map[int]string
	held   bool // this syncer holds the gateway's lease
}

type doorState struct {
	busy    bool
	retryAt time.Time
	nextAt  time.Time // a code's window opens or closes
	synced  int64     // version confirmed by this process
	guests  string    // GuestMark at the last complete sync
	recheck bool      // a keypad use may have started a 15-minute code's clock
}

func (s *Syncer) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gateways == nil {
		s.gateways, s.doors, s.wake = map[string]*gateway{}, map[string]*doorState{}, make(chan struct{}, 1)
	}
	if s.Poll == 0 {
		s.Poll = time.Second
	}
	if s.Retry == 0 {
		s.Retry = 2 * time.Second
	}
	if s.CommandTimeout == 0 {
		s.CommandTimeout = 2 * time.Minute
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Now == nil {
		s.Now = s.Store.Now
	}
	if s.LeaseTTL == 0 {
		s.LeaseTTL = 15 * time.Second
	}
	if s.Holder == "" {
		var b [8]byte
		rand.Read(b[:])
		s.Holder = "zwave-" + hex.EncodeToString(b[:])
	}
}

// Holds reports whether this syncer holds a gateway's lease (it drives the
// gateway).
func (s *Syncer) Holds(gatewayID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gateways[gatewayID]
	return g != nil && g.held
}

// lease takes or renews the gateway's lease (real time: leases are shared
// between instances, whatever the clock of code windows). err is a
// database error: whether another holds the lease is then unknown.
func (s *Syncer) lease(ctx context.Context, g *gateway) (bool, error) {
	ok, err := s.Store.AcquireZWaveLease(ctx, g.id, s.Holder, time.Now(), s.LeaseTTL)
	if err != nil && ctx.Err() == nil {
		s.Log.Warn("zwave: lease", "gateway", g.id, "err", err)
	}
	s.mu.Lock()
	g.held = ok
	s.mu.Unlock()
	return ok, err
}

// renew renews the lease while c is connected and closes c when the lease
// is lost: another instance took the gateway over, or the database could
// not be reached for a whole LeaseTTL (the lease may have expired).
func (s *Syncer) renew(ctx context.Context, g *gateway, c *Client) (lost bool) {
	t := time.NewTicker(s.LeaseTTL / 3)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-c.Done():
			return false
		case <-t.C:
		}
		ok, err := s.lease(ctx, g)
		if ok {
			last = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return false
		}
		if err == nil || time.Since(last) >= s.LeaseTTL {
			s.Log.Info("zwave: gateway lease lost", "gateway", g.id, "holder", s.Holder)
			c.Close()
			return true
		}
	}
}

// Kick makes the syncer check versions now rather than at the next poll
// (the store's commit hook calls it; so do the API and console after a
// binding).
func (s *Syncer) Kick() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	s.init()
	defer s.Store.OnDoorStateQueued(s.Kick)()
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(s.Poll)
	defer t.Stop()
	idle := 0
	for {
		n, err := s.round(ctx, &wg)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("zwave: round", "err", err)
		}
		// With no Z-Wave lock at all, look every 2s (a binding kicks).
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
		for skip := 0; ; skip++ {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			case <-t.C:
				if idle > 0 && time.Duration(skip+1)*s.Poll < 2*time.Second {
					continue
				}
			}
			break
		}
	}
}

// round starts the syncs that are due and reports how many Z-Wave locks
// there are.
func (s *Syncer) round(ctx context.Context, wg *sync.WaitGroup) (int, error) {
	locks, err := s.Store.ZWaveLocks(ctx)
	if err != nil {
		return 0, err
	}
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.gateways {
		g.nodes = map[int]string{}
	}
	for _, l := range locks {
		g := s.gateways[l.GatewayID]
		if g == nil {
			g = &gateway{id: l.GatewayID, nodes: map[int]string{}}
			s.gateways[l.GatewayID] = g
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.connect(ctx, g)
			}()
		}
		g.nodes[l.NodeID] = l.DoorID
		d := s.doors[l.DoorID]
		if d == nil {
			d = &doorState{}
			s.doors[l.DoorID] = d
		}
		due := l.Version > l.Acked || l.Version > d.synced || l.GuestMark != d.guests || d.recheck || (!d.nextAt.IsZero() && !now.Before(d.nextAt))
		if !due || d.busy || g.client == nil || time.Now().Before(d.retryAt) {
			continue
		}
		d.busy = true
		c := g.client
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.syncDoor(ctx, c, l)
			rebound := errors.Is(err, store.ErrZWaveRebound)
			s.mu.Lock()
			d.busy = false
			if err != nil && !rebound {
				d.retryAt = time.Now().Add(s.Retry) // backoff in real time, whatever the clock of code windows
			}
			s.mu.Unlock()
			if err == nil || rebound {
				// A change committed while this sync ran woke a round that
				// skipped the busy door: look again now, not at the poll.
				// Bound again meanwhile: start over at once, with the new
				// binding's slot scan.
				s.Kick()
			}
			if err != nil && ctx.Err() == nil {
				s.Log.Info("zwave: sync incomplete", "door", l.DoorID, "node", l.NodeID, "err", err)
			}
		}()
	}
	return len(locks), nil
}

// connect keeps a gateway connected and turns its events into DOOR OS
// records.
func (s *Syncer) connect(ctx context.Context, g *gateway) {
	backoff := 200 * time.Millisecond
	defer func() {
		// Stopping: hand the gateway over at once.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.record(rctx, s.Store.ReleaseZWaveLease(rctx, g.id, s.Holder))
	}()
	for ctx.Err() == nil {
		if ok, _ := s.lease(ctx, g); !ok {
			// Another instance drives this gateway; take over when its
			// lease expires.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.LeaseTTL / 3):
			}
			continue
		}
		url, token, err := s.Store.ZWaveGatewayConn(ctx, nil, s.Sealer, "", g.id)
		var c *Client
		if err == nil {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			c, err = Dial(dctx, url, token)
			cancel()
		}
		if err != nil {
			s.markGateway(ctx, g, "unreachable")
			s.Log.Info("zwave: gateway unreachable", "gateway", g.id, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		s.mu.Lock()
		g.client = c
		nodes := map[int]string{}
		for k, v := range g.nodes {
			nodes[k] = v
		}
		s.mu.Unlock()
		for _, n := range c.Nodes() {
			if _, ok := nodes[n.ID]; ok {
				var battery *int
				if lvl, ok := n.Battery(); ok {
					battery = &lvl
				}
				s.record(ctx, s.Store.RecordZWaveNode(ctx, store.ZWaveNode{GatewayID: g.id, NodeID: n.ID}, statusName(n.Status), battery))
			}
		}
		s.Kick()
		lost := make(chan bool, 1)
		go func() { lost <- s.renew(ctx, g, c) }()
		s.events(ctx, g, c)
		s.mu.Lock()
		g.client = nil
		s.mu.Unlock()
		c.Close()
		if !<-lost {
			s.markGateway(ctx, g, "unreachable")
		}
	}
}

func (s *Syncer) markGateway(ctx context.Context, g *gateway, status string) {
	s.mu.Lock()
	var nodes []int
	for n := range g.nodes {
		nodes = append(nodes, n)
	}
	s.mu.Unlock()
	for _, n := range nodes {
		s.record(ctx, s.Store.RecordZWaveNode(ctx, store.ZWaveNode{GatewayID: g.id, NodeID: n}, status, nil))
	}
}

func (s *Syncer) record(ctx context.Context, err error) {
	if errors.Is(err, store.ErrZWaveNodeUnbound) {
		// The node left its door after this syncer's last look at the
		// bindings: what it reported belongs to no door.
		s.Log.Debug("zwave: a node bound to no door reported", "err", err)
		return
	}
	if err != nil && ctx.Err() == nil {
		s.Log.Warn("zwave: record", "err", err)
	}
}

func statusName(st int) string {
	switch st {
	case StatusAsleep:
		return "asleep"
	case StatusDead:
		return "dead"
	case StatusAwake, StatusAlive:
		return "alive"
	}
	return ""
}

func (s *Syncer) events(ctx context.Context, g *gateway, c *Client) {
	for {
		var ev Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-c.Events():
			if !ok {
				return
			}
		}
		if ev.Source != "node" {
			continue
		}
		s.mu.Lock()
		door := g.nodes[ev.NodeID]
		s.mu.Unlock()
		if door == "" {
			continue
		}
		// Recorded for the door bound to the node when the store records
		// it: this map lags a re-binding by up to a round.
		node := store.ZWaveNode{GatewayID: g.id, NodeID: ev.NodeID}
		switch ev.Event {
		case "sleep":
			s.record(ctx, s.Store.RecordZWaveNode(ctx, node, "asleep", nil))
		case "wake up", "alive":
			s.record(ctx, s.Store.RecordZWaveNode(ctx, node, "alive", nil))
			s.retryNow(door)
		case "dead":
			s.record(ctx, s.Store.RecordZWaveNode(ctx, node, "dead", nil))
		case "value updated":
			var a struct {
				CommandClass int             `json:"commandClass"`
				Property     any             `json:"property"`
				NewValue     json.RawMessage `json:"newValue"`
			}
			if json.Unmarshal(ev.Args, &a) == nil && a.CommandClass == CCBattery && a.Property == "level" {
				var lvl int
				if json.Unmarshal(a.NewValue, &lvl) == nil {
					s.record(ctx, s.Store.RecordZWaveNode(ctx, node, "", &lvl))
				}
			}
		case "notification":
			if e, ok := accessEvent(ev); ok {
				e.At = s.Now()
				s.record(ctx, s.Store.RecordZWaveEvent(ctx, node, e))
				if e.Unlock && e.Slot > 0 {
					s.mu.Lock()
					if d := s.doors[door]; d != nil {
						d.recheck = true
					}
					s.mu.Unlock()
					s.Kick()
				}
			}
		}
	}
}

// accessEvent reads an Access Control notification (type 6): keypad,
// manual and RF lock and unlock operations.
func accessEvent(ev Event) (store.ZWaveEvent, bool) {
	var a struct {
		Type       int `json:"type"`
		Event      int `json:"event"`
		Parameters struct {
			UserID int `json:"userId"`
		} `json:"parameters"`
	}
	if json.Unmarshal(ev.Args, &a) != nil || a.Type != 6 {
		return store.ZWaveEvent{}, false
	}
	var e store.ZWaveEvent
	switch a.Event {
	case 1, 2:
		e.Via, e.Unlock = "manual", a.Event == 2
	case 3, 4:
		e.Via, e.Unlock = "rf", a.Event == 4
	case 5, 6:
		e.Via, e.Unlock, e.Slot = "keypad", a.Event == 6, a.Parameters.UserID
	default:
		return e, false
	}
	return e, true
}

func (s *Syncer) retryNow(door string) {
	s.mu.Lock()
	if d := s.doors[door]; d != nil {
		d.retryAt = time.Time{}
	}
	s.mu.Unlock()
	s.Kick()
}

// syncDoor brings one lock to the door's current version.
func (s *Syncer) syncDoor(ctx context.Context, c *Client, l store.ZWaveLock) error {
	s.mu.Lock()
	if d := s.doors[l.DoorID]; d != nil {
		d.recheck = false // this sync reads every keypad use recorded so far
	}
	s.mu.Unlock()
	if s.hook != nil {
		s.hook("target", l)
	}
	tgt, err := s.Store.ZWaveTarget(ctx, s.Sealer, l.DoorID)
	if err != nil {
		return err
	}
	if tgt.Binding != l.Binding {
		// Bound again (perhaps to another node or gateway) since the round
		// read l: this sync would talk to the old node under the new
		// binding. Start over from the new one.
		return store.ErrZWaveRebound
	}
	capacity := tgt.Capacity
	if capacity == 0 {
		cctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
		capacity, err = c.UserCodeSlots(cctx, l.NodeID)
		cancel()
		if err != nil {
			return s.nodeFailed(ctx, c, l, fmt.Errorf("read user code slots: %w", err))
		}
		// First sync since binding: a slot already holding a code is
		// another's (an installer's, a code set at the lock), left alone.
		var foreign []int
		for slot := 1; slot <= capacity; slot++ {
			if _, ours := tgt.Slots[slot]; ours {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
			occupied, err := c.UserCodeOccupied(cctx, l.NodeID, slot)
			cancel()
			if err != nil {
				return s.nodeFailed(ctx, c, l, fmt.Errorf("read user code slot %d: %w", slot, err))
			}
			if occupied {
				foreign = append(foreign, slot)
				tgt.Slots[slot] = store.ZWaveSlot{Foreign: true}
			}
		}
		if err := s.Store.RecordZWaveForeignSlots(ctx, l.DoorID, tgt.Binding, foreign); err != nil {
			return err
		}
	}
	ops, over, next := Plan(tgt.Codes, tgt.Slots, capacity, s.Now())
	for _, op := range ops {
		cctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
		if op.Clear {
			err = c.ClearUserCode(cctx, l.NodeID, op.Slot)
		} else {
			err = c.SetUserCode(cctx, l.NodeID, op.Slot, op.Code.Code)
		}
		cancel()
		if err != nil {
			return s.nodeFailed(ctx, c, l, fmt.Errorf("slot %d: %w", op.Slot, err))
		}
		if op.Clear {
			err = s.Store.RecordZWaveSlot(ctx, l.DoorID, tgt.Binding, op.Slot, "", "")
		} else {
			if s.hook != nil {
				s.hook("written", l)
			}
			err = s.Store.RecordZWaveSlot(ctx, l.DoorID, tgt.Binding, op.Slot, op.Code.PersonID, op.Code.Digest)
			if errors.Is(err, store.ErrZWaveRebound) {
				// Bound again between the write and its record: the code is
				// in the node but in no record, and the new binding's scan
				// would take it for another's (kept, never revoked). Take
				// it out again; the new sync writes what belongs there.
				s.undoWrite(ctx, c, l, op.Slot)
			}
		}
		if err != nil {
			return err
		}
	}
	if err := s.Store.FinishZWaveSync(ctx, l.DoorID, tgt.Binding, tgt.Version, capacity, over); err != nil {
		return err
	}
	if l.Status != "alive" {
		s.record(ctx, s.Store.RecordZWaveNode(ctx, store.ZWaveNode{GatewayID: l.GatewayID, NodeID: l.NodeID}, "alive", nil))
	}
	s.mu.Lock()
	if d := s.doors[l.DoorID]; d != nil {
		d.nextAt = next
		d.synced = max(d.synced, tgt.Version)
		d.guests = l.GuestMark
	}
	s.mu.Unlock()
	return nil
}

// undoWrite clears a slot this sync wrote but could not record (the door
// was bound again meanwhile). It runs before the sync returns, so before
// the new binding's sync (one sync per door at a time) scans the slots.
func (s *Syncer) undoWrite(ctx context.Context, c *Client, l store.ZWaveLock, slot int) {
	cctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
	defer cancel()
	if err := c.ClearUserCode(cctx, l.NodeID, slot); err != nil && ctx.Err() == nil {
		s.Log.Warn("zwave: a code written before the lock was bound again could not be cleared: the new binding's scan will count it as another's",
			"door", l.DoorID, "node", l.NodeID, "slot", slot, "err", err)
	}
}

// nodeFailed records why a node did not confirm: asleep, dead, or its
// gateway gone.
func (s *Syncer) nodeFailed(ctx context.Context, c *Client, l store.ZWaveLock, err error) error {
	status := "dead"
	var zerr *Error
	switch {
	case errors.Is(err, ErrClosed):
		status = "unreachable"
	case errors.Is(err, context.DeadlineExceeded):
		status = "asleep"
	case errors.As(err, &zerr):
		status = "dead"
	}
	if ctx.Err() == nil {
		s.record(ctx, s.Store.RecordZWaveNode(ctx, store.ZWaveNode{GatewayID: l.GatewayID, NodeID: l.NodeID}, status, nil))
	}
	return err
}

// Gateway returns the connected client of a gateway (nil when down).
func (s *Syncer) gatewayClient(id string) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.gateways[id]; g != nil {
		return g.client
	}
	return nil
}

// ErrGatewayDown is returned for a command to a lock whose gateway is not
// connected.
var ErrGatewayDown = errors.New("the lock's Z-Wave gateway is not connected")

// SetLocked locks or unlocks a Z-Wave lock now, through its gateway's
// connection.
func (s *Syncer) SetLocked(ctx context.Context, l store.ZWaveLock, locked bool) error {
	s.init()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := s.gatewayClient(l.GatewayID)
	if c == nil {
		// Another instance drives the gateway (its lease), or it is down:
		// one connection for this command.
		url, token, err := s.Store.ZWaveGatewayConn(cctx, nil, s.Sealer, "", l.GatewayID)
		if err != nil {
			return err
		}
		if c, err = Dial(cctx, url, token); err != nil {
			return fmt.Errorf("%w: %v", ErrGatewayDown, err)
		}
		defer c.Close()
	}
	return c.SetLocked(cctx, l.NodeID, locked)
}
