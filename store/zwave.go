package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// Z-Wave locks (issue 15): a door's lock may be a node of a Z-Wave network
// reached through a Z-Wave JS server. The store keeps the gateways, which
// door is which node, what each User Code slot holds (as the node
// confirmed it) and the node's status and battery; the zwave package
// talks to the gateways. The codes to write come from the same desired
// state DOOR OS locks get (desiredLocks).

// Activity kinds of Z-Wave locks.
const (
	EventZWaveGateway   = "door.zwave_gateway_added"
	EventZWaveBound     = "door.zwave_bound"
	EventZWaveLockNow   = "door.remote_lock"
	EventZWaveBattery   = "door.battery_low"
	EventZWaveOverFull  = "door.lock_full"
	EventZWaveNodeEvent = EventLockEvent
)

// LowBattery is the level (percent) at or under which a lock's battery is
// reported low.
const LowBattery = 20

// ZWaveGateway is a registered Z-Wave JS server.
type ZWaveGateway struct {
	ID         string    `json:"id"`
	PropertyID string    `json:"property_id"`
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	HasToken   bool      `json:"has_token"`
	CreatedAt  time.Time `json:"created_at"`
}

// ZWaveGatewayInput registers a gateway. Token, when the gateway needs one,
// is sent as a bearer token and kept sealed.
type ZWaveGatewayInput struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

func zwaveGatewayAAD(id string) string { return "zwave-gateway-token:" + id }

func (in *ZWaveGatewayInput) normalize() error {
	in.Name, in.URL = strings.TrimSpace(in.Name), strings.TrimSpace(in.URL)
	if in.Name == "" {
		return domain.FieldError("name", "is required")
	}
	if len(in.Name) > 100 {
		return domain.FieldError("name", "is longer than 100 characters")
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return domain.FieldError("url", "must be a ws:// or wss:// URL of a Z-Wave JS server")
	}
	if u.User != nil {
		return domain.FieldError("url", "must not carry credentials (give a token)")
	}
	if len(in.Token) > 4096 {
		return domain.FieldError("token", "is longer than 4096 characters")
	}
	return nil
}

// AddZWaveGateway registers a Z-Wave JS server for a property (Device
// Management).
func (s *Store) AddZWaveGateway(ctx context.Context, a domain.Actor, sealer Sealer, propertyID string, in ZWaveGatewayInput) (ZWaveGateway, error) {
	var g ZWaveGateway
	err := s.inTx(ctx, "add_zwave_gateway", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermDevices); err != nil {
			return err
		}
		if err := in.normalize(); err != nil {
			return err
		}
		g = ZWaveGateway{ID: domain.NewID("zgw"), PropertyID: propertyID, Name: in.Name, URL: in.URL, HasToken: in.Token != "", CreatedAt: s.Now().Truncate(time.Microsecond)}
		sealed := ""
		if in.Token != "" {
			var err error
			if sealed, err = sealer.Seal([]byte(in.Token), zwaveGatewayAAD(g.ID)); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO zwave_gateways (id, property_id, name, url, token, created_at) VALUES (?,?,?,?,?,?)`,
			g.ID, propertyID, g.Name, g.URL, sealed, micros(g.CreatedAt)); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventZWaveGateway, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("Z-Wave gateway %s added (%s)", g.Name, g.URL)})
	})
	return g, err
}

// ListZWaveGateways lists a property's gateways (Device Management).
func (s *Store) ListZWaveGateways(ctx context.Context, a domain.Actor, propertyID string) ([]ZWaveGateway, error) {
	var out []ZWaveGateway
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermDevices); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT id, property_id, name, url, token <> '', created_at FROM zwave_gateways WHERE property_id = ? ORDER BY name, id`, propertyID)
		out, err = collect(rows, err, func(sc rowScanner) (ZWaveGateway, error) {
			var g ZWaveGateway
			var at int64
			err := sc.Scan(&g.ID, &g.PropertyID, &g.Name, &g.URL, &g.HasToken, &at)
			g.CreatedAt = fromMicros(at)
			return g, err
		})
		return err
	})
	if out == nil {
		out = []ZWaveGateway{}
	}
	return out, err
}

// ZWaveGatewayConn returns where to reach a gateway and its token, for the
// zwave adapter. With an actor (not the zero Actor) it checks Device
// Management on the gateway's property first.
func (s *Store) ZWaveGatewayConn(ctx context.Context, a *domain.Actor, sealer Sealer, propertyID, gatewayID string) (wsURL, token string, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if a != nil {
			if _, err := t.authorize(ctx, *a, propertyID, domain.PermDevices); err != nil {
				return err
			}
		}
		var sealed, prop string
		err := t.queryRow(ctx, `SELECT property_id, url, token FROM zwave_gateways WHERE id = ?`, gatewayID).Scan(&prop, &wsURL, &sealed)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && propertyID != "" && prop != propertyID) {
			return domain.Errorf(domain.ENotFound, "Z-Wave gateway %s not found in this property", gatewayID)
		}
		if err != nil || sealed == "" {
			return err
		}
		if sealer == nil {
			return domain.Errorf(domain.EConflict, "this server has no keyring to open the token of Z-Wave gateway %s", gatewayID)
		}
		plain, err := sealer.Open(sealed, zwaveGatewayAAD(gatewayID))
		token = string(plain)
		return err
	})
	return wsURL, token, err
}

// ZWaveLock is a door whose lock is a Z-Wave node, and the node's state as
// DOOR OS last saw it.
type ZWaveLock struct {
	DoorID     string     `json:"door_id"`
	DoorName   string     `json:"door_name"`
	PropertyID string     `json:"-"`
	GatewayID  string     `json:"gateway_id"`
	NodeID     int        `json:"node_id"`
	Capacity   int        `json:"capacity"`  // User Code slots (0: not read yet)
	OverFull   int        `json:"over_full"` // codes that did not fit at the last sync
	Status     string     `json:"status"`    // alive, asleep, dead, unreachable, '' (not reached yet)
	Battery    *int       `json:"battery"`   // percent
	BatteryAt  *time.Time `json:"battery_at"`
	LastSeenAt *time.Time `json:"last_seen_at"`
	Version    int64      `json:"version"`       // the door's desired-state version
	Acked      int64      `json:"acked_version"` // what the node holds
	// Foreign counts the slots holding a code DOOR OS did not write (read
	// from the node at binding): left alone, not free.
	Foreign int `json:"occupied_by_other_codes"`
	// GuestMark changes when a guest code of one of the door's keys is
	// issued or released: guest codes are written on demand, with no door
	// version change (DOOR OS locks compute them).
	GuestMark string `json:"-"`
	// Binding is the lock's binding generation (BindZWaveLock adds one):
	// a sync started for this NodeID and GatewayID stops at once when its
	// target was read under another (zwave.Syncer, ErrZWaveRebound).
	Binding int64 `json:"-"`
}

// BatteryLow reports whether the lock's battery is at or under LowBattery.
func (l ZWaveLock) BatteryLow() bool { return l.Battery != nil && *l.Battery <= LowBattery }

const zwaveLockCols = `z.door_id, d.name, d.property_id, z.gateway_id, z.node_id, z.capacity, z.over_full, z.status, z.battery, z.battery_at, z.last_seen_at, d.version, d.acked_version,
	(SELECT COUNT(*) FROM guest_codes gc JOIN key_doors kd ON kd.key_id = gc.key_id AND kd.doorcodes WHERE kd.door_id = z.door_id AND gc.released_at IS NULL),
	(SELECT COALESCE(MAX(gc.created_at), 0) FROM guest_codes gc JOIN key_doors kd ON kd.key_id = gc.key_id AND kd.doorcodes WHERE kd.door_id = z.door_id AND gc.released_at IS NULL),
	(SELECT COUNT(*) FROM zwave_foreign_slots f WHERE f.door_id = z.door_id), z.binding`

func scanZWaveLock(sc rowScanner) (ZWaveLock, error) {
	var l ZWaveLock
	var battery, batteryAt, seen sql.NullInt64
	var guests, guestsAt int64
	err := sc.Scan(&l.DoorID, &l.DoorName, &l.PropertyID, &l.GatewayID, &l.NodeID, &l.Capacity, &l.OverFull, &l.Status, &battery, &batteryAt, &seen, &l.Version, &l.Acked,
		&guests, &guestsAt, &l.Foreign, &l.Binding)
	l.GuestMark = fmt.Sprintf("%d/%d", guests, guestsAt)
	if battery.Valid {
		b := int(battery.Int64)
		l.Battery = &b
	}
	l.BatteryAt, l.LastSeenAt = timePtr(batteryAt), timePtr(seen)
	return l, err
}

// BindZWaveLock makes a Z-Wave node the lock of an online door (Device
// Management). The node starts empty as far as DOOR OS knows: the syncer
// reads its slots first (codes it finds there are another's, left alone:
// RecordZWaveForeignSlots), then writes every code of the door's key
// holders.
func (s *Store) BindZWaveLock(ctx context.Context, a domain.Actor, propertyID, doorID, gatewayID string, nodeID int) (ZWaveLock, error) {
	var out ZWaveLock
	err := s.inTx(ctx, "bind_zwave_lock", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermDevices); err != nil {
			return err
		}
		d, err := t.door(ctx, propertyID, doorID)
		if err != nil {
			return err
		}
		if nodeID < 2 || nodeID > 4000 {
			return domain.FieldError("node_id", "must be a Z-Wave node id (2–232, or a Long Range id up to 4000)")
		}
		if d.Connectivity != domain.Online {
			return domain.Errorf(domain.EInvalid, "door %s is offline: a Z-Wave lock is reached only online (make the door online first)", d.Name)
		}
		var gwProp string
		err = t.queryRow(ctx, `SELECT property_id FROM zwave_gateways WHERE id = ?`, gatewayID).Scan(&gwProp)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && gwProp != propertyID) {
			return domain.Errorf(domain.ENotFound, "Z-Wave gateway %s not found in this property", gatewayID)
		}
		if err != nil {
			return err
		}
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM door_locks WHERE door_id = ?`, d.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.EConflict, "door %s already has a DOOR OS lock", d.Name)
		}
		var other string
		err = t.queryRow(ctx, `SELECT door_id FROM zwave_locks WHERE gateway_id = ? AND node_id = ? AND door_id <> ?`, gatewayID, nodeID, d.ID).Scan(&other)
		if err == nil {
			return domain.Errorf(domain.EConflict, "node %d of this gateway is already the lock of another door", nodeID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := s.Now()
		if _, err := t.exec(ctx, `INSERT INTO zwave_locks (door_id, gateway_id, node_id, bound_at) VALUES (?,?,?,?)
			ON CONFLICT (door_id) DO UPDATE SET gateway_id = excluded.gateway_id, node_id = excluded.node_id, bound_at = excluded.bound_at,
				capacity = 0, over_full = 0, status = '', battery = NULL, battery_at = NULL, last_seen_at = NULL, binding = zwave_locks.binding + 1`,
			d.ID, gatewayID, nodeID, micros(now)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM zwave_slots WHERE door_id = ?`, d.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM zwave_foreign_slots WHERE door_id = ?`, d.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE doors SET acked_version = 0 WHERE id = ?`, d.ID); err != nil {
			return err
		}
		if err := t.bumpDoors(ctx, []domain.DoorChange{{DoorID: d.ID, Reason: "Z-Wave lock bound"}}); err != nil {
			return err
		}
		out = ZWaveLock{DoorID: d.ID, DoorName: d.Name, PropertyID: propertyID, GatewayID: gatewayID, NodeID: nodeID}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventZWaveBound, ActorID: a.ManagerID, Actor: a.Name, DoorID: d.ID,
			Detail: fmt.Sprintf("door %s bound to Z-Wave node %d", d.Name, nodeID), Doors: []string{d.ID}})
	})
	return out, err
}

// ListZWaveLocks lists a property's Z-Wave locks with battery and status
// (anyone who may see the property's doors).
func (s *Store) ListZWaveLocks(ctx context.Context, a domain.Actor, propertyID string) ([]ZWaveLock, error) {
	out := []ZWaveLock{}
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermView); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT `+zwaveLockCols+` FROM zwave_locks z JOIN doors d ON d.id = z.door_id WHERE d.property_id = ? ORDER BY d.name, d.id`, propertyID)
		out, err = collect(rows, err, scanZWaveLock)
		return err
	})
	return out, err
}

// ZWaveLocks lists every Z-Wave lock, for the zwave adapter.
func (s *Store) ZWaveLocks(ctx context.Context) ([]ZWaveLock, error) {
	var out []ZWaveLock
	err := s.read(ctx, func(t *Tx) error {
		rows, err := t.query(ctx, `SELECT `+zwaveLockCols+` FROM zwave_locks z JOIN doors d ON d.id = z.door_id ORDER BY z.gateway_id, z.node_id`)
		out, err = collect(rows, err, scanZWaveLock)
		return err
	})
	return out, err
}

// ZWaveLockOf returns the Z-Wave lock of a door in a property (ENotFound
// when the door has none).
func (s *Store) ZWaveLockOf(ctx context.Context, propertyID, doorID string) (ZWaveLock, error) {
	var l ZWaveLock
	err := s.read(ctx, func(t *Tx) error {
		var err error
		l, err = scanZWaveLock(t.queryRow(ctx, `SELECT `+zwaveLockCols+` FROM zwave_locks z JOIN doors d ON d.id = z.door_id WHERE z.door_id = ? AND d.property_id = ?`, doorID, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "door %s has no Z-Wave lock", doorID)
		}
		return err
	})
	return l, err
}

// ZWaveCode is a doorcode that belongs in a Z-Wave lock between NotBefore
// and NotAfter (zero: open-ended). Digest names person and code together.
type ZWaveCode struct {
	PersonID            string
	Code                string
	NotBefore, NotAfter time.Time
	Digest              string
	// Schedule is the key's weekly schedule at the door (empty: all
	// hours), read on Loc's wall clock; DOOR OS adds and clears the code
	// at its edges (the Schedule Entry Lock CC is not used).
	Schedule lockproto.Schedule
	Loc      *time.Location
}

// ZWaveSlot is what a User Code slot holds, as the node confirmed it.
// Foreign: a code DOOR OS did not write (PersonID and Digest empty).
type ZWaveSlot struct {
	PersonID string
	Digest   string
	Foreign  bool
}

// ZWaveTarget is what a Z-Wave lock should hold (Codes, from the door's
// desired state) and what it holds (Slots).
type ZWaveTarget struct {
	Version  int64
	Codes    []ZWaveCode
	Slots    map[int]ZWaveSlot
	Capacity int
	// Binding is the lock's binding generation when the target was read:
	// RecordZWaveSlot, RecordZWaveForeignSlots and FinishZWaveSync take it
	// and refuse with ErrZWaveRebound once the door was bound again.
	Binding int64
}

// ErrZWaveRebound refuses a sync's record because the door's Z-Wave lock
// was bound again after the sync read its target: what the sync planned
// is for the old binding (the new one starts with a slot scan). The
// syncer starts over.
var ErrZWaveRebound = domain.Errorf(domain.EConflict, "the Z-Wave lock was bound again while it synced: sync again")

// zwaveBinding locks a Z-Wave lock's row (PostgreSQL) and checks it is
// still the binding a sync read its target under.
func (t *Tx) zwaveBinding(ctx context.Context, doorID string, binding int64) error {
	var cur int64
	err := t.queryRow(ctx, `SELECT binding FROM zwave_locks WHERE door_id = ?`+t.forUpdate(), doorID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENotFound, "door %s has no Z-Wave lock", doorID)
	}
	if err != nil {
		return err
	}
	if cur != binding {
		return ErrZWaveRebound
	}
	return nil
}

// ZWaveTarget computes a Z-Wave door's target: the doorcodes of the
// people who hold a key to it, with their windows, from the same desired
// state DOOR OS locks receive; and, with a sealer, the day and 15-minute
// guest codes of the door's doorcode keys (zwaveGuestCodes).
func (s *Store) ZWaveTarget(ctx context.Context, sealer Sealer, doorID string) (ZWaveTarget, error) {
	out := ZWaveTarget{Slots: map[int]ZWaveSlot{}}
	err := s.inTx(ctx, "zwave_target", func(t *Tx) error {
		out = ZWaveTarget{Slots: map[int]ZWaveSlot{}}
		var propID string
		err := t.queryRow(ctx, `SELECT d.property_id, d.version, z.capacity, z.binding FROM doors d JOIN zwave_locks z ON z.door_id = d.id WHERE d.id = ?`, doorID).
			Scan(&propID, &out.Version, &out.Capacity, &out.Binding)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "door %s has no Z-Wave lock", doorID)
		}
		if err != nil {
			return err
		}
		prop, err := scanProperty(t.queryRow(ctx, `SELECT `+propertyCols+` FROM properties WHERE id = ?`, propID))
		if err != nil {
			return err
		}
		batch, err := t.desiredLocks(ctx, nil, map[string]domain.Property{doorID: prop}, []string{doorID}, s.Now())
		if err != nil {
			return err
		}
		for _, e := range batch.locks[doorID].Doorcodes {
			out.Codes = append(out.Codes, ZWaveCode{PersonID: e.PersonID, Code: e.Code, NotBefore: e.NotBefore, NotAfter: e.NotAfter,
				Digest: digestOf([]string{e.PersonID, e.Code}), Schedule: e.Schedule, Loc: prop.Location()})
		}
		if sealer != nil {
			guests, err := t.zwaveGuestCodes(ctx, sealer, doorID, prop)
			if err != nil {
				return err
			}
			out.Codes = append(out.Codes, guests...)
		}
		sort.Slice(out.Codes, func(i, j int) bool { return out.Codes[i].PersonID < out.Codes[j].PersonID })
		rows, err := t.query(ctx, `SELECT slot, person_id, digest FROM zwave_slots WHERE door_id = ?`, doorID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var slot int
			var sl ZWaveSlot
			if err := rows.Scan(&slot, &sl.PersonID, &sl.Digest); err != nil {
				return err
			}
			out.Slots[slot] = sl
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		frows, err := t.query(ctx, `SELECT slot FROM zwave_foreign_slots WHERE door_id = ?`, doorID)
		if err != nil {
			return err
		}
		defer frows.Close()
		for frows.Next() {
			var slot int
			if err := frows.Scan(&slot); err != nil {
				return err
			}
			if _, ours := out.Slots[slot]; !ours {
				out.Slots[slot] = ZWaveSlot{Foreign: true}
			}
		}
		return frows.Err()
	})
	return out, err
}

// RecordZWaveForeignSlots records the slots of a Z-Wave lock that hold a
// code DOOR OS did not write, as read from the node (replacing what was
// recorded): the syncer leaves them alone and does not count them free.
// binding is the target's (ErrZWaveRebound once the door was bound again).
func (s *Store) RecordZWaveForeignSlots(ctx context.Context, doorID string, binding int64, slots []int) error {
	return s.inTx(ctx, "record_zwave_foreign_slots", func(t *Tx) error {
		if err := t.zwaveBinding(ctx, doorID, binding); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM zwave_foreign_slots WHERE door_id = ?`, doorID); err != nil {
			return err
		}
		for _, sl := range slots {
			if sl < 1 {
				return domain.Errorf(domain.EInvalid, "slot %d: User Code slots start at 1", sl)
			}
			if _, err := t.exec(ctx, `INSERT INTO zwave_foreign_slots (door_id, slot) VALUES (?, ?) ON CONFLICT DO NOTHING`, doorID, sl); err != nil {
				return err
			}
		}
		return nil
	})
}

// AcquireZWaveLease takes or renews the lease on a gateway for holder (a
// syncer's id) until now+ttl, unless another holder's lease is still in
// force at now; it reports whether holder has it. One `dooros serve`
// instance drives a gateway at a time; the others take over once the
// holder stops renewing.
func (s *Store) AcquireZWaveLease(ctx context.Context, gatewayID, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, domain.Errorf(domain.EInvalid, "a Z-Wave lease needs a holder and a positive duration")
	}
	var ok bool
	err := s.inTx(ctx, "acquire_zwave_lease", func(t *Tx) error {
		res, err := t.exec(ctx, `INSERT INTO zwave_leases (gateway_id, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (gateway_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE zwave_leases.holder = excluded.holder OR zwave_leases.expires_at <= ?`,
			gatewayID, holder, micros(now.Add(ttl)), micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}

// ReleaseZWaveLease gives a gateway's lease up (a stopping syncer), so
// another instance takes over at once.
func (s *Store) ReleaseZWaveLease(ctx context.Context, gatewayID, holder string) error {
	return s.inTx(ctx, "release_zwave_lease", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM zwave_leases WHERE gateway_id = ? AND holder = ?`, gatewayID, holder)
		return err
	})
}

// ZWaveLeaseHolder returns who holds a gateway's lease at now ("": no one).
func (s *Store) ZWaveLeaseHolder(ctx context.Context, gatewayID string, now time.Time) (string, error) {
	var holder string
	err := s.read(ctx, func(t *Tx) error {
		err := t.queryRow(ctx, `SELECT holder FROM zwave_leases WHERE gateway_id = ? AND expires_at > ?`, gatewayID, micros(now)).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return holder, err
}

// RecordZWaveSlot records that the node confirmed a slot's new content
// (personID "": the slot was cleared) under the target's binding
// (ErrZWaveRebound once the door was bound again).
func (s *Store) RecordZWaveSlot(ctx context.Context, doorID string, binding int64, slot int, personID, digest string) error {
	return s.inTx(ctx, "record_zwave_slot", func(t *Tx) error {
		if err := t.zwaveBinding(ctx, doorID, binding); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM zwave_slots WHERE door_id = ? AND slot = ?`, doorID, slot); err != nil {
			return err
		}
		if personID == "" {
			return nil
		}
		_, err := t.exec(ctx, `INSERT INTO zwave_slots (door_id, slot, person_id, digest) VALUES (?,?,?,?)`, doorID, slot, personID, digest)
		return err
	})
}

// FinishZWaveSync records that a Z-Wave lock holds the door's state up to
// version (its Door Sync task closes), with the capacity the node reported
// and how many codes did not fit (reported in Activity when it changes),
// under the target's binding: once the door was bound again it returns
// ErrZWaveRebound and records nothing, so the new binding's slot scan
// (capacity 0) still runs.
func (s *Store) FinishZWaveSync(ctx context.Context, doorID string, binding, version int64, capacity, overFull int) error {
	return s.inTx(ctx, "finish_zwave_sync", func(t *Tx) error {
		if err := t.zwaveBinding(ctx, doorID, binding); err != nil {
			return err
		}
		var prev int
		var name, propID string
		err := t.queryRow(ctx, `SELECT z.over_full, d.name, d.property_id FROM zwave_locks z JOIN doors d ON d.id = z.door_id WHERE z.door_id = ?`+t.forUpdate(), doorID).
			Scan(&prev, &name, &propID)
		if err != nil {
			return err
		}
		now := s.Now()
		if _, err := t.exec(ctx, `UPDATE zwave_locks SET capacity = ?, over_full = ?, last_seen_at = ? WHERE door_id = ?`, capacity, overFull, micros(now), doorID); err != nil {
			return err
		}
		if overFull > 0 && overFull != prev {
			if err := t.addEvent(ctx, domain.Event{PropertyID: propID, Kind: EventZWaveOverFull, Actor: "lock " + name, DoorID: doorID,
				Detail: fmt.Sprintf("the Z-Wave lock has %d code slots: %d people who should have a code there have none", capacity, overFull)}); err != nil {
				return err
			}
		}
		return t.doorAcked(ctx, doorID, version, now)
	})
}

// ZWaveNode names a node of a gateway: what Z-Wave JS reports status,
// battery and notifications for.
type ZWaveNode struct {
	GatewayID string
	NodeID    int
}

// ErrZWaveNodeUnbound refuses a node's status or notification because no
// door is bound to the node (any more): it was bound elsewhere while the
// syncer's map of nodes to doors was older, or it never was. Nothing is
// recorded.
var ErrZWaveNodeUnbound = domain.Errorf(domain.ENotFound, "no door is bound to this Z-Wave node")

// zwaveNodeDoor is the door bound to a node now, in the transaction that
// records what the node reported, so a report is never put on a door the
// node left (the syncer's own map of nodes lags a re-binding by up to a
// round). On PostgreSQL it locks the binding's row, so a re-binding
// cannot commit between this read and the rest of the record (the slot's
// person read after it).
func (t *Tx) zwaveNodeDoor(ctx context.Context, n ZWaveNode) (doorID, name, propID string, battery sql.NullInt64, err error) {
	q := `SELECT z.door_id, z.battery, d.name, d.property_id FROM zwave_locks z JOIN doors d ON d.id = z.door_id WHERE z.gateway_id = ? AND z.node_id = ?`
	if t.s.dialect == Postgres {
		// The binding's row only: a re-binding waits for this record (or
		// this record for it), and the door's row stays free for the
		// door bumps of a wide revoke.
		q += ` FOR UPDATE OF z`
	}
	err = t.queryRow(ctx, q, n.GatewayID, n.NodeID).Scan(&doorID, &battery, &name, &propID)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrZWaveNodeUnbound
	}
	return
}

// RecordZWaveNode records a node's status (alive, asleep, dead,
// unreachable; ” keeps it) and, when battery is not nil, its battery
// level; a level crossing LowBattery goes into Activity. It goes to the
// door bound to the node when it is recorded (ErrZWaveNodeUnbound: none).
func (s *Store) RecordZWaveNode(ctx context.Context, n ZWaveNode, status string, battery *int) error {
	return s.inTx(ctx, "record_zwave_node", func(t *Tx) error {
		doorID, name, propID, prev, err := t.zwaveNodeDoor(ctx, n)
		if err != nil {
			return err
		}
		now := micros(s.Now())
		if status != "" {
			seen := ""
			if status != "unreachable" && status != "dead" {
				seen = ", last_seen_at = ?"
			}
			args := []any{status}
			if seen != "" {
				args = append(args, now)
			}
			if _, err := t.exec(ctx, `UPDATE zwave_locks SET status = ?`+seen+` WHERE door_id = ?`, append(args, doorID)...); err != nil {
				return err
			}
		}
		if battery == nil {
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE zwave_locks SET battery = ?, battery_at = ?, last_seen_at = ? WHERE door_id = ?`, *battery, now, now, doorID); err != nil {
			return err
		}
		if *battery <= LowBattery && (!prev.Valid || prev.Int64 > LowBattery) {
			return t.addEvent(ctx, domain.Event{PropertyID: propID, Kind: EventZWaveBattery, Actor: "lock " + name, DoorID: doorID,
				Detail: fmt.Sprintf("battery low: %d%%", *battery)})
		}
		return nil
	})
}

// ZWaveEvent is a node's Access Control notification: how the door was
// operated and, for a keypad, the User Code slot used (0: none).
type ZWaveEvent struct {
	At     time.Time
	Unlock bool
	Via    string // keypad, manual, rf
	Slot   int
}

// RecordZWaveEvent puts a node's lock/unlock notification into Activity,
// with the person whose code is in the slot, for the door bound to the
// node when it is recorded (ErrZWaveNodeUnbound: none; a slot's person
// is then never taken from a door the node left).
func (s *Store) RecordZWaveEvent(ctx context.Context, n ZWaveNode, e ZWaveEvent) error {
	return s.inTx(ctx, "record_zwave_event", func(t *Tx) error {
		doorID, name, propID, _, err := t.zwaveNodeDoor(ctx, n)
		if err != nil {
			return err
		}
		verb := "locked"
		if e.Unlock {
			verb = "unlocked"
		}
		ev := domain.Event{PropertyID: propID, At: e.At, Kind: EventLockEvent, Actor: "lock " + name, DoorID: doorID}
		switch e.Via {
		case "keypad":
			ev.Detail = fmt.Sprintf("%s with the keypad", verb)
			if e.Unlock {
				ev.Kind = domain.EventDoorUnlocked
			}
		case "manual":
			ev.Detail = fmt.Sprintf("%s by hand (thumb turn or key)", verb)
		default:
			ev.Detail = fmt.Sprintf("%s over Z-Wave (%s)", verb, e.Via)
		}
		if e.Slot > 0 {
			ev.Detail += fmt.Sprintf(" (user code slot %d)", e.Slot)
			var personID string
			err := t.queryRow(ctx, `SELECT person_id FROM zwave_slots WHERE door_id = ? AND slot = ?`, doorID, e.Slot).Scan(&personID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if personID != "" {
				p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ? AND property_id = ?`, personID, propID))
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				ev.PersonID, ev.PersonName = personID, p.Name()
			} else {
				ev.Detail += ", a code DOOR OS did not write"
			}
		}
		return t.addEvent(ctx, ev)
	})
}

// LogZWaveLockNow checks that a manager may lock or unlock a door now
// (Device Management) and that its lock is a Z-Wave node; run is the
// command to the node, and its outcome goes into Activity either way.
func (s *Store) LogZWaveLockNow(ctx context.Context, a domain.Actor, propertyID, doorID string, lock bool, run func(ZWaveLock) error) error {
	var l ZWaveLock
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermDevices); err != nil {
			return err
		}
		var err error
		l, err = scanZWaveLock(t.queryRow(ctx, `SELECT `+zwaveLockCols+` FROM zwave_locks z JOIN doors d ON d.id = z.door_id WHERE z.door_id = ? AND d.property_id = ?`, doorID, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "door %s has no Z-Wave lock", doorID)
		}
		return err
	})
	if err != nil {
		return err
	}
	runErr := run(l)
	verb := "unlock"
	if lock {
		verb = "lock"
	}
	detail := fmt.Sprintf("%s now: door %s %sed", verb, l.DoorName, verb)
	if runErr != nil {
		detail = fmt.Sprintf("%s now: door %s failed: %v", verb, l.DoorName, runErr)
	}
	if err := s.inTx(ctx, "log_zwave_lock_now", func(t *Tx) error {
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventZWaveLockNow, ActorID: a.ManagerID, Actor: a.Name, DoorID: doorID,
			Detail: detail, Doors: []string{doorID}})
	}); err != nil {
		return err
	}
	return runErr
}

// zwaveGuestCodes are the live guest codes of a door's doorcode keys as
// time-boxed User Codes: the code DOOR OS locks compute (same secret, day
// and slot), in force from the property's midnight to the next. A Z-Wave
// lock cannot start a 15-minute code's clock itself, so DOOR OS does: its
// first keypad unlock at this door (Activity, matched by slot) ends it 15
// minutes later, also when that is past midnight: a DOOR OS lock gives a
// code first used at 23:55 its full 15 minutes too (lock.startedQuarterCode).
func (t *Tx) zwaveGuestCodes(ctx context.Context, sealer Sealer, doorID string, prop domain.Property) ([]ZWaveCode, error) {
	loc := prop.Location()
	today := lockproto.DayNumber(t.s.Now(), loc)
	rows, err := t.query(ctx, `SELECT gc.person_id, gc.key_id, gc.kind, gc.day, gc.slot FROM guest_codes gc
		JOIN key_doors kd ON kd.key_id = gc.key_id AND kd.doorcodes
		WHERE kd.door_id = ? AND gc.released_at IS NULL AND gc.day >= ? ORDER BY gc.person_id`, doorID, today-1)
	gcs, err := collect(rows, err, func(sc rowScanner) (guestCode, error) {
		var g guestCode
		err := sc.Scan(&g.PersonID, &g.KeyID, &g.Kind, &g.Day, &g.Slot)
		return g, err
	})
	if err != nil {
		return nil, err
	}
	var out []ZWaveCode
	for _, g := range gcs {
		code, err := t.computeGuestCode(ctx, sealer, &g, prop.DoorcodeLength)
		if err != nil {
			return nil, err
		}
		c := ZWaveCode{PersonID: g.PersonID, Code: code, NotBefore: lockproto.DayStart(g.Day, loc), NotAfter: lockproto.DayStart(g.Day+1, loc),
			Digest: digestOf([]string{g.PersonID, code})}
		if g.Kind == domain.GuestQuarterHourCode {
			var first sql.NullInt64
			if err := t.queryRow(ctx, `SELECT MIN(at) FROM events WHERE door_id = ? AND person_id = ? AND kind = ? AND at >= ?`,
				doorID, g.PersonID, domain.EventDoorUnlocked, micros(c.NotBefore)).Scan(&first); err != nil {
				return nil, err
			}
			if first.Valid {
				c.NotAfter = time.UnixMicro(first.Int64).Add(lockproto.QuarterHourValidity)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
