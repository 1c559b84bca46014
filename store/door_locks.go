package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// Activity kinds of Door Sync.
const (
	EventLockProvisioned = "door.lock_provisioned"
	EventLockAcked       = "door.synced" // = domain.EventDoorSynced
	EventLogGap          = "door.log_gap"
	EventLogFork         = "door.log_fork"
	EventBundleApplied   = "door.bundle_applied"
	EventBundleRefused   = "door.bundle_refused"
	EventKeypadLocked    = "door.keypad_locked"
	EventKeypadAlert     = "door.keypad_alert"
	EventLockEvent       = "door.lock_event"
)

// Connection states of a door's lock as sync tasks show them.
const (
	ConnBluetooth    = "bluetooth"    // offline door: syncs through phones
	ConnOnline       = "online"       // online door, lock connected
	ConnDisconnected = "disconnected" // online door, lock gone or silent too long
	ConnNever        = "never"        // online door whose lock never connected
	ConnAsleep       = "asleep"       // Z-Wave lock asleep: changes wait for its wake-up
	ConnUnreachable  = "unreachable"  // Z-Wave lock dead, or its gateway down
)

// LockSilentAfter is how long an online door's lock may leave a pushed
// change unacknowledged, with nothing heard from it, before its sync task
// shows it as disconnected.
var LockSilentAfter = 2 * time.Minute

// lockConnection decides how a door's lock is connected.
func lockConnection(connectivity domain.Connectivity, provisioned bool, status string, lastSeen *time.Time, oldestPending *time.Time, now time.Time) string {
	switch {
	case connectivity == domain.Offline:
		return ConnBluetooth
	case !provisioned || status == "":
		return ConnNever
	case status != "online":
		return ConnDisconnected
	case oldestPending != nil && now.Sub(*oldestPending) > LockSilentAfter && (lastSeen == nil || now.Sub(*lastSeen) > LockSilentAfter):
		return ConnDisconnected
	}
	return ConnOnline
}

// LockSymmetricAAD binds a sealed lock key to its door and generation.
func LockSymmetricAAD(doorID string, generation int) string {
	return fmt.Sprintf("door_locks/%s/%d", doorID, generation)
}

// ProvisionedLock is the outcome of provisioning: the provisioning file for
// `doorlock provision`, and the lock's MQTT credentials (online doors).
type ProvisionedLock struct {
	DoorID       string                  `json:"door_id"`
	LockID       string                  `json:"lock_id"`
	Generation   int                     `json:"generation"`
	Connectivity domain.Connectivity     `json:"connectivity"`
	Provisioning *lockproto.Provisioning `json:"provisioning"`
	MQTTUsername string                  `json:"mqtt_username,omitempty"`
	MQTTPassword string                  `json:"mqtt_password,omitempty"`
	// MQTTHash is the stored hash of MQTTPassword (for the embedded broker).
	MQTTHash string `json:"-"`
}

// ProvisionLock provisions (or re-provisions) the lock of a door: new lock
// keys (lock id = door id), the symmetric key sealed at rest, new MQTT
// credentials for an online door. Re-provisioning invalidates the old
// device: its acks and logs no longer verify, its MQTT password is
// replaced, and the lock starts from version 0, so its first bundle is a
// snapshot. The door gets a new version so the new lock is synced.
func (s *Store) ProvisionLock(ctx context.Context, a domain.Actor, sealer Sealer, propertyPub ed25519.PublicKey, propertyID, doorID, mqttPassword, mqttHash string) (ProvisionedLock, error) {
	var out ProvisionedLock
	err := s.inTx(ctx, "provision_lock", func(t *Tx) error {
		prop, err := t.authorize(ctx, a, propertyID, domain.PermDevices)
		if err != nil {
			return err
		}
		d, err := t.door(ctx, propertyID, doorID)
		if err != nil {
			return err
		}
		keys, err := lockproto.NewLockKeys(d.ID)
		if err != nil {
			return err
		}
		gen := 1
		var prev int
		err = t.queryRow(ctx, `SELECT generation FROM door_locks WHERE door_id = ?`+t.forUpdate(), d.ID).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		gen += prev
		sealed, err := sealer.Seal(keys.Symmetric, LockSymmetricAAD(d.ID, gen))
		if err != nil {
			return err
		}
		if d.Connectivity != domain.Online {
			mqttPassword, mqttHash = "", ""
		}
		// During a property-key rotation a new lock gets the next key from
		// the start, and counts as rotated.
		var nextKey string
		if err := t.queryRow(ctx, `SELECT next_public_key FROM property_keys WHERE property_id = ?`, propertyID).Scan(&nextKey); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		keyNext := nextKey != ""
		if keyNext {
			if propertyPub, err = base64.StdEncoding.DecodeString(nextKey); err != nil {
				return err
			}
		}
		now := s.Now()
		if _, err := t.exec(ctx, `INSERT INTO door_locks (door_id, generation, public_key, symmetric_key, mqtt_secret_hash, provisioned_at, property_key_next)
			VALUES (?,?,?,?,?,?,?)
			ON CONFLICT (door_id) DO UPDATE SET generation = excluded.generation, public_key = excluded.public_key,
				symmetric_key = excluded.symmetric_key, mqtt_secret_hash = excluded.mqtt_secret_hash, provisioned_at = excluded.provisioned_at,
				acked_state = '', acked_bundle = '', acked_state_version = 0, need_snapshot = FALSE, log_next = 1,
				pending_public_key = '', pending_symmetric_key = '', pending_seed = '', log_head = '', status = '', last_seen_at = NULL,
				property_key_next = excluded.property_key_next, property_rotation_version = 0`,
			d.ID, gen, base64.StdEncoding.EncodeToString(keys.Public), sealed, mqttHash, micros(now), keyNext); err != nil {
			return err
		}
		// The new lock holds nothing yet.
		if _, err := t.exec(ctx, `UPDATE doors SET acked_version = 0 WHERE id = ?`, d.ID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM lock_log_events WHERE door_id = ?`, d.ID); err != nil {
			return err
		}
		reason := "lock provisioned"
		if prev > 0 {
			reason = "lock re-provisioned (old device invalidated)"
		}
		// A re-provisioned lock holds no revocation until its first sync,
		// and the changes its old lock acknowledged are gone
		// (doorAcked): the change itself says a revocation waits.
		if err := t.bumpDoors(ctx, []domain.DoorChange{{DoorID: d.ID, Reason: reason, Revocation: prev > 0}}); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventLockProvisioned, ActorID: a.ManagerID, Actor: a.Name,
			DoorID: d.ID, Detail: fmt.Sprintf("%s for door %s (generation %d)", reason, d.Name, gen), Doors: []string{d.ID}}); err != nil {
			return err
		}
		out = ProvisionedLock{DoorID: d.ID, LockID: d.ID, Generation: gen, Connectivity: d.Connectivity,
			Provisioning: lockproto.NewProvisioning(keys, propertyPub, prop.TimeZone, now), MQTTHash: mqttHash}
		if mqttPassword != "" {
			out.MQTTUsername, out.MQTTPassword = d.ID, mqttPassword
		}
		return nil
	})
	return out, err
}

// LockInfo is what the cloud knows about a door's provisioned lock.
type LockInfo struct {
	DoorID       string
	PropertyID   string
	DoorName     string
	Connectivity domain.Connectivity
	Generation   int
	PublicKey    ed25519.PublicKey
	MQTTHash     string
	// SealedSymmetric is the lock's symmetric key sealed by the keyring
	// (AAD LockSymmetricAAD): event batches are sealed under it.
	SealedSymmetric string
	// PendingPublicKey and SealedPendingSymmetric: keys a rotation gave the
	// lock, current once it proves it holds them (nil/empty: none).
	PendingPublicKey       ed25519.PublicKey
	SealedPendingSymmetric string
}

// lockInfoCols are what LockInfo is read from (scanLockInfo).
const lockInfoCols = `d.id, d.property_id, d.name, d.connectivity, l.generation, l.public_key, l.mqtt_secret_hash, l.symmetric_key,
			l.pending_public_key, l.pending_symmetric_key
		FROM door_locks l JOIN doors d ON d.id = l.door_id`

func scanLockInfo(row interface{ Scan(...any) error }) (LockInfo, error) {
	var li LockInfo
	var pub, pending string
	err := row.Scan(&li.DoorID, &li.PropertyID, &li.DoorName, &li.Connectivity, &li.Generation, &pub, &li.MQTTHash, &li.SealedSymmetric, &pending, &li.SealedPendingSymmetric)
	if err != nil {
		return li, err
	}
	if li.PublicKey, err = base64.StdEncoding.DecodeString(pub); err != nil || pending == "" {
		return li, err
	}
	li.PendingPublicKey, err = base64.StdEncoding.DecodeString(pending)
	return li, err
}

// Lock returns the provisioned lock of a door (ENotFound when none).
func (s *Store) Lock(ctx context.Context, doorID string) (LockInfo, error) {
	li, err := scanLockInfo(s.queryRow(ctx, `SELECT `+lockInfoCols+` WHERE l.door_id = ?`, doorID))
	if errors.Is(err, sql.ErrNoRows) {
		return li, domain.Errorf(domain.ENotFound, "door %s has no provisioned lock", doorID)
	}
	return li, err
}

// Locks returns the provisioned locks of doorIDs, in a few queries (doors
// without a lock are left out).
func (s *Store) Locks(ctx context.Context, doorIDs []string) ([]LockInfo, error) {
	var out []LockInfo
	for lo := 0; lo < len(doorIDs); lo += 500 {
		ids := doorIDs[lo:min(lo+500, len(doorIDs))]
		rows, err := s.query(ctx, `SELECT `+lockInfoCols+` WHERE l.door_id IN (`+placeholders(len(ids))+`)`, anySlice(ids)...)
		if err != nil {
			return out, err
		}
		for rows.Next() {
			li, err := scanLockInfo(rows)
			if err != nil {
				rows.Close()
				return out, err
			}
			out = append(out, li)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// LockMQTTHashes lists the MQTT password hashes of every online lock, for
// the embedded broker at start.
func (s *Store) LockMQTTHashes(ctx context.Context) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT door_id, mqtt_secret_hash FROM door_locks WHERE mqtt_secret_hash <> ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		out[id] = h
	}
	return out, rows.Err()
}

// DoorBundle is a sealed bundle for a door's lock.
type DoorBundle struct {
	DoorID   string `json:"door_id"`
	LockID   string `json:"lock_id"`
	Base     int64  `json:"base"`
	Version  int64  `json:"version"`
	Snapshot bool   `json:"snapshot"`
	Sealed   []byte `json:"bundle"`
	Digest   string `json:"-"`
	// Manifest is the property-signed manifest of a bundle that travels to
	// the lock in chunks (lockproto.SignBundleManifest); nil for a bundle
	// small enough for one message.
	Manifest []byte `json:"manifest,omitempty"`
	// LogNext is the next lock event the cloud expects: where a courier
	// starts fetching the lock's log.
	LogNext int64 `json:"log_next"`
}

// ErrInSync is returned when the lock already holds the door's latest
// version.
var ErrInSync = errors.New("store: lock is in sync")

// AckResult is what an acknowledgement changed.
type AckResult struct {
	Status       string `json:"status"`
	Version      int64  `json:"version"`
	AckedVersion int64  `json:"acked_version"`
	// Pending reports that the door has a newer version to deliver (a
	// snapshot when the lock asked for one).
	Pending bool `json:"pending"`
}

// RecordLockAck applies a lock's verified acknowledgement: an applied
// bundle moves the door's acknowledged version and state (closing its sync
// task when it is the latest); "stale" tells where the lock stands;
// "need_snapshot" makes the next bundle a snapshot. generation is the lock
// generation whose key verified the ack. via names the courier.
func (s *Store) RecordLockAck(ctx context.Context, doorID string, generation int, ack *lockproto.Ack, via string) (AckResult, error) {
	var out AckResult
	err := s.inTx(ctx, "record_lock_ack", func(t *Tx) error {
		r, err := t.lockRow(ctx, doorID)
		if err != nil {
			return err
		}
		out, err = t.recordLockAck(ctx, r, generation, ack, via, true)
		return err
	})
	return out, err
}

// RecordLockAckEvents records an acknowledgement and the events it carried
// (lockproto.OpenAck) in one transaction: one read of the lock's row, the
// ack as RecordLockAck, the events as RecordLockEvents (the same rules:
// already stored events skipped, out-of-order ones held, lost ones
// flagged). With no events it is RecordLockAck. Events that fork the
// stored log do not cost the ack: it is recorded with the fork flagged
// (door.log_fork) and the events refused, and the error says so
// (EConflict), so that a group commit rolls back what it had joined.
func (s *Store) RecordLockAckEvents(ctx context.Context, doorID string, generation int, ack *lockproto.Ack, events *lockproto.EventBatch, via string) (AckResult, LogResult, error) {
	if events == nil {
		out, err := s.RecordLockAck(ctx, doorID, generation, ack, via)
		return out, LogResult{}, err
	}
	var out AckResult
	var logs LogResult
	err := s.inTx(ctx, "record_lock_ack", func(t *Tx) error {
		r, err := t.lockRow(ctx, doorID)
		if err != nil {
			return err
		}
		if out, err = t.recordLockAck(ctx, r, generation, ack, via, false); err != nil {
			return err
		}
		logs, err = t.recordLockEvents(ctx, r, generation, events, via)
		return err
	})
	var fork *logForkError
	if err == nil {
		return out, logs, nil
	}
	if !errors.As(err, &fork) {
		return AckResult{}, LogResult{}, err
	}
	if err := s.inTx(ctx, "record_lock_ack", func(t *Tx) error {
		r, err := t.lockRow(ctx, doorID)
		if err != nil {
			return err
		}
		if out, err = t.recordLockAck(ctx, r, generation, ack, via, true); err != nil {
			return err
		}
		return t.flagLogFork(ctx, doorID, fork, via)
	}); err != nil {
		return AckResult{}, LogResult{}, err
	}
	return out, LogResult{}, domain.Errorf(domain.EConflict, "acknowledgement recorded; its events fork the event log at event %d", fork.seq)
}

// lockRowData is what recording an ack or an event batch reads of a
// door's lock, read once and locked for the transaction.
type lockRowData struct {
	doorID                              string
	gen                                 int
	ackedStateVersion, version, logNext int64
	// ackedVersion (the door's), needSnapshot and rotationVersion
	// (property_rotation_version) as read: recording an ack works out
	// what it leaves instead of reading them again.
	ackedVersion, rotationVersion int64
	needSnapshot                  bool
	logHead, propertyID, doorName string
	unitID                        string
	doorType                      domain.DoorType
}

func (t *Tx) lockRow(ctx context.Context, doorID string) (lockRowData, error) {
	r := lockRowData{doorID: doorID}
	err := t.queryRow(ctx, `SELECT l.generation, l.acked_state_version, l.log_next, l.log_head, d.version, d.property_id, d.name, d.type, COALESCE(d.unit_id, ''),
			d.acked_version, l.need_snapshot, l.property_rotation_version
		FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE l.door_id = ?`+t.forUpdate(), doorID).
		Scan(&r.gen, &r.ackedStateVersion, &r.logNext, &r.logHead, &r.version, &r.propertyID, &r.doorName, &r.doorType, &r.unitID,
			&r.ackedVersion, &r.needSnapshot, &r.rotationVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return r, domain.Errorf(domain.ENotFound, "door %s has no provisioned lock", doorID)
	}
	return r, err
}

// recordLockAck is RecordLockAck on the lock's row; touch updates the
// lock's last_seen_at (recording events does it too).
func (t *Tx) recordLockAck(ctx context.Context, r lockRowData, generation int, ack *lockproto.Ack, via string, touch bool) (AckResult, error) {
	var out AckResult
	err := func() error {
		now := t.s.Now()
		doorID, gen, propertyID, doorName, version, ackedStateVersion := r.doorID, r.gen, r.propertyID, r.doorName, r.version, r.ackedStateVersion
		if gen != generation {
			return domain.Errorf(domain.EConflict, "acknowledgement from a lock that was re-provisioned since")
		}
		lockVersion := int64(ack.Version)
		if lockVersion > version {
			return domain.Errorf(domain.EInvalid, "lock reports version %d, the door is at %d", lockVersion, version)
		}
		out.Status, out.Version = ack.Status.String(), lockVersion
		if touch {
			if _, err := t.exec(ctx, `UPDATE door_locks SET last_seen_at = ? WHERE door_id = ?`, micros(now), doorID); err != nil {
				return err
			}
		}
		// The bundle the ack answers tells the state at its version.
		digest := hex.EncodeToString(ack.Bundle)
		var bVersion int64
		err := t.queryRow(ctx, `SELECT version FROM door_bundles WHERE digest = ? AND door_id = ? AND generation = ?`,
			digest, doorID, gen).Scan(&bVersion)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		known := err == nil
		if !known || bVersion != lockVersion {
			// A stale ack: the lock is at a version another bundle brought.
			if digest, known, err = t.bundleAtVersion(ctx, doorID, gen, lockVersion); err != nil {
				return err
			}
		}
		// What the door's acknowledged version and the snapshot flag are
		// once the statements below ran (nothing else in the transaction
		// writes them: the lock's row is locked for it).
		out.AckedVersion, out.Pending = r.ackedVersion, r.needSnapshot
		switch {
		case ack.Status == lockproto.AckNeedSnapshot || (!known && lockVersion > 0 && lockVersion >= ackedStateVersion):
			// (An ack of a version below the acknowledged one is old
			// history: its bundle may be pruned, PruneDoorSync, and a
			// replay of it must not cost the lock a snapshot.)
			if _, err := t.exec(ctx, `UPDATE door_locks SET need_snapshot = TRUE WHERE door_id = ?`, doorID); err != nil {
				return err
			}
			out.Pending = true
		case lockVersion > ackedStateVersion || (lockVersion == ackedStateVersion && known):
			if _, err := t.exec(ctx, `UPDATE door_locks SET acked_bundle = ?, acked_state = '', acked_state_version = ?, need_snapshot = FALSE WHERE door_id = ?`,
				digest, lockVersion, doorID); err != nil {
				return err
			}
			if err := t.doorAcked(ctx, doorID, lockVersion, now); err != nil {
				return err
			}
			out.Pending = false
			out.AckedVersion = max(out.AckedVersion, lockVersion)
		}
		out.Pending = out.Pending || out.AckedVersion < version
		if err := t.completeDoorPushes(ctx, doorID, out.AckedVersion, now); err != nil {
			return err
		}
		// The lock is at lockVersion, whatever the status: at or past the
		// first version carrying a property-key rotation, it took the key
		// (no rotation waits for this lock when it read 0).
		if r.rotationVersion != 0 {
			if err := t.propertyKeyApplied(ctx, doorID, lockVersion, false); err != nil {
				return err
			}
		}
		if ack.Status == lockproto.AckApplied {
			return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventLockAcked, Actor: "Door Sync", DoorID: doorID, Doors: []string{doorID},
				At: ack.LockTime, Detail: fmt.Sprintf("lock of %s applied version %d (via %s)", doorName, lockVersion, via)})
		}
		return nil
	}()
	return out, err
}

// LogResult is what an uploaded event batch added.
type LogResult struct {
	Added   int    `json:"added"`
	LogNext uint64 `json:"log_next"` // where the next fetch starts: the first event the cloud lacks
	Gap     uint64 `json:"gap"`      // events the lock no longer holds and the cloud never received
}

// RecordLockEvents stores a verified event batch of a door's lock in
// Activity with the lock's own timestamps. Batches may arrive in any
// order: events already stored are skipped, events beyond the contiguous
// position (log_next) are stored and remembered (lock_log_events) so the
// batch that fills the hole only adds what is missing. A gap is flagged
// (door.log_gap) only when events are really lost: the batch starts at
// the lock's oldest retained event and the cloud never received the
// events before it. A batch that does not chain on stored events is a
// fork: it is refused, and flagged (door.log_fork) so it does not stick
// unseen — only the lock's key can sign a second history (a lock restored
// from an old flash image, or a copied key); re-provisioning the lock
// starts a new log.
func (s *Store) RecordLockEvents(ctx context.Context, doorID string, generation int, batch *lockproto.EventBatch, via string) (LogResult, error) {
	out, err := s.recordLockEvents(ctx, doorID, generation, batch, via)
	var fork *logForkError
	if !errors.As(err, &fork) {
		return out, err
	}
	if ferr := s.inTx(ctx, "flag_log_fork", func(t *Tx) error {
		return t.flagLogFork(ctx, doorID, fork, via)
	}); ferr != nil {
		return out, ferr
	}
	return out, domain.Errorf(domain.EConflict, "event log forks at event %d", fork.seq)
}

// flagLogFork records a refused fork in Activity (door.log_fork).
func (t *Tx) flagLogFork(ctx context.Context, doorID string, fork *logForkError, via string) error {
	return t.addEvent(ctx, domain.Event{PropertyID: fork.propertyID, Kind: EventLogFork, Actor: "Door Sync", DoorID: doorID, Doors: []string{doorID},
		Detail: fmt.Sprintf("event log of %s forks at event %d: the lock signed a history other than the one stored; events refused, re-provision the lock if it was restored or copied (via %s)", fork.doorName, fork.seq, via)})
}

type logForkError struct {
	seq                  uint64
	propertyID, doorName string
}

func (e *logForkError) Error() string { return fmt.Sprintf("event log forks at event %d", e.seq) }

func (s *Store) recordLockEvents(ctx context.Context, doorID string, generation int, batch *lockproto.EventBatch, via string) (LogResult, error) {
	var out LogResult
	err := s.inTx(ctx, "record_lock_events", func(t *Tx) error {
		r, err := t.lockRow(ctx, doorID)
		if err != nil {
			return err
		}
		out, err = t.recordLockEvents(ctx, r, generation, batch, via)
		return err
	})
	return out, err
}

// recordLockEvents is RecordLockEvents on the lock's row.
func (t *Tx) recordLockEvents(ctx context.Context, r lockRowData, generation int, batch *lockproto.EventBatch, via string) (LogResult, error) {
	var out LogResult
	err := func() error {
		var err error
		now := t.s.Now()
		doorID, gen, next, headB64, propertyID, doorName, unitID, doorType := r.doorID, r.gen, r.logNext, r.logHead, r.propertyID, r.doorName, r.unitID, r.doorType
		if gen != generation {
			return domain.Errorf(domain.EConflict, "event log of a lock that was re-provisioned since")
		}
		head := lockproto.GenesisHash
		if headB64 != "" {
			if head, err = base64.StdEncoding.DecodeString(headB64); err != nil {
				return err
			}
		}
		want := uint64(next)
		held, err := t.heldLockEvents(ctx, doorID, min(want, batch.From))
		if err != nil {
			return err
		}
		// Events the lock no longer holds and the cloud never received are
		// lost: flag them and continue from the lock's oldest event.
		if lost := batch.LostBefore(want); lost > 0 && batch.From == batch.Oldest {
			if err := t.flagLostEvents(ctx, propertyID, doorID, doorName, want, batch.Oldest, held, via, &out); err != nil {
				return err
			}
			want, head = batch.Oldest, batch.Prev
		}
		if batch.From > 1 {
			if h, ok := held[batch.From-1]; ok && !bytes.Equal(h, batch.Prev) {
				return &logForkError{batch.From - 1, propertyID, doorName}
			}
		}
		h := batch.Prev
		names := map[string]domain.Person{}
		var applied int64 // the newest version the batch says the lock applied
		for i := range batch.Events {
			e := &batch.Events[i]
			if h, err = lockproto.ChainHash(h, e); err != nil {
				return err
			}
			if e.Seq < want {
				if e.Seq+1 == want && headB64 != "" && !bytes.Equal(h, head) {
					return &logForkError{e.Seq, propertyID, doorName}
				}
				continue
			}
			if stored, ok := held[e.Seq]; ok {
				if !bytes.Equal(stored, h) {
					return &logForkError{e.Seq, propertyID, doorName}
				}
				continue
			}
			if err := t.lockEvent(ctx, propertyID, doorID, doorName, doorType, unitID, e, names); err != nil {
				return err
			}
			if e.Kind == lockproto.EventBundleApplied {
				applied = max(applied, int64(e.Version))
			}
			held[e.Seq] = h
			if _, err := t.exec(ctx, `INSERT INTO lock_log_events (door_id, seq, hash) VALUES (?,?,?)`, doorID, int64(e.Seq), base64.StdEncoding.EncodeToString(h)); err != nil {
				return err
			}
			out.Added++
		}
		// Advance over everything now held contiguously.
		for {
			hh, ok := held[want]
			if !ok {
				break
			}
			want, head = want+1, hh
		}
		if _, err := t.exec(ctx, `DELETE FROM lock_log_events WHERE door_id = ? AND seq < ?`, doorID, int64(want)-1); err != nil {
			return err
		}
		out.LogNext = want
		if _, err = t.exec(ctx, `UPDATE door_locks SET log_next = ?, log_head = ?, last_seen_at = ? WHERE door_id = ?`,
			int64(want), base64.StdEncoding.EncodeToString(head), micros(now), doorID); err != nil {
			return err
		}
		// The ack of a bundle carrying a property-key rotation may be lost;
		// the lock's own log says it applied it (the lock would refuse
		// every later bundle the cloud signed with the old key).
		return t.propertyKeyApplied(ctx, doorID, applied, true)
	}()
	return out, err
}

// heldLockEvents returns the chain hashes of the stored events of a door's
// lock from seq from - 1 on (the event before a batch checks its Prev). It
// holds at most what the lock retains beyond the contiguous position.
func (t *Tx) heldLockEvents(ctx context.Context, doorID string, from uint64) (map[uint64][]byte, error) {
	rows, err := t.query(ctx, `SELECT seq, hash FROM lock_log_events WHERE door_id = ? AND seq >= ?`, doorID, int64(from)-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64][]byte{}
	for rows.Next() {
		var seq int64
		var h string
		if err := rows.Scan(&seq, &h); err != nil {
			return nil, err
		}
		if out[uint64(seq)], err = base64.StdEncoding.DecodeString(h); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// flagLostEvents records one door.log_gap entry per run of events in
// [from, to) that the cloud never received.
func (t *Tx) flagLostEvents(ctx context.Context, propertyID, doorID, doorName string, from, to uint64, held map[uint64][]byte, via string, out *LogResult) error {
	for seq := from; seq < to; {
		if _, ok := held[seq]; ok {
			seq++
			continue
		}
		end := seq
		for end+1 < to {
			if _, ok := held[end+1]; ok {
				break
			}
			end++
		}
		out.Gap += end - seq + 1
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventLogGap, Actor: "Door Sync", DoorID: doorID, Doors: []string{doorID},
			Detail: fmt.Sprintf("event log of %s has a gap: events %d–%d were overwritten on the lock before anyone collected them (via %s)", doorName, seq, end, via)}); err != nil {
			return err
		}
		seq = end + 1
	}
	return nil
}

// lockEvent turns one lock event into Activity (or into the resident's
// private activity for their own residence door).
func (t *Tx) lockEvent(ctx context.Context, propertyID, doorID, doorName string, doorType domain.DoorType, unitID string, e *lockproto.Event, names map[string]domain.Person) error {
	// A lock from before field bounds may have logged anything a card or
	// phone sent; Activity shows it bounded, like a current lock logs it.
	bounded := *e
	bounded.Bound()
	e = &bounded
	kind, detail := EventLockEvent, e.Kind
	switch e.Kind {
	case lockproto.EventUnlockGranted, lockproto.EventCodeGranted, lockproto.EventCardGranted:
		kind, detail = domain.EventDoorUnlocked, "unlocked with "+e.Credential
	case lockproto.EventUnlockDenied, lockproto.EventCodeDenied, lockproto.EventCardDenied:
		kind, detail = domain.EventDoorDenied, "denied "+e.Credential+": "+e.Reason
	case lockproto.EventBundleApplied:
		kind, detail = EventBundleApplied, fmt.Sprintf("lock applied version %d (was %s)", e.Version, e.Ref)
	case lockproto.EventBundleRefused:
		kind, detail = EventBundleRefused, fmt.Sprintf("lock refused a bundle (version %d): %s", e.Version, e.Reason)
	case lockproto.EventNoticeApplied:
		detail = fmt.Sprintf("lock refuses what a revocation named (%s: people, guest codes of a key, keycards, doorcodes) ahead of version %d (revocation notice)", e.Ref, e.Version)
		if e.PersonID != "" {
			detail = fmt.Sprintf("lock refuses this person ahead of version %d (revocation notice)", e.Version)
		}
	case lockproto.EventKeypadLocked:
		kind, detail = EventKeypadLocked, "keypad locked after repeated wrong codes"
	case lockproto.EventKeypadAlert:
		kind, detail = EventKeypadAlert, "codes are being guessed at the keypad: "+e.Reason
	default:
		if e.Reason != "" {
			detail += ": " + e.Reason
		}
	}
	if e.Ref != "" && (e.Credential == "keycard" || e.Credential == "app") {
		detail += " " + e.Ref
	}
	if e.Count > 0 {
		detail += fmt.Sprintf(", repeated %d times until %s", e.Count, e.Last.UTC().Format(time.RFC3339))
	}
	detail += fmt.Sprintf(" (lock event %d)", e.Seq)
	ev := domain.Event{PropertyID: propertyID, At: e.At, Kind: kind, Actor: "lock " + doorName, DoorID: doorID, Detail: detail}
	if e.PersonID != "" {
		p, ok := names[e.PersonID]
		if !ok {
			var err error
			p, err = scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ? AND property_id = ?`, e.PersonID, propertyID))
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			names[e.PersonID] = p
		}
		ev.PersonID, ev.PersonName = e.PersonID, p.Name()
		// A resident's own entries at their own residence door are theirs.
		if doorType == domain.DoorResidence && unitID != "" && p.UnitID == unitID {
			_, err := t.exec(ctx, `INSERT INTO private_events (id, property_id, person_id, door_id, at, received_at, kind, detail) VALUES (?,?,?,?,?,?,?,?)`,
				domain.NewID("pev"), propertyID, p.ID, doorID, micros(e.At), micros(t.s.Now()), kind, detail)
			return err
		}
	}
	return t.addEvent(ctx, ev)
}

// RecordLockStatus records an online lock's MQTT status (online/offline).
func (s *Store) RecordLockStatus(ctx context.Context, doorID, status string) error {
	return s.inTx(ctx, "record_lock_status", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE door_locks SET status = ?, last_seen_at = ? WHERE door_id = ?`, status, micros(s.Now()), doorID)
		return err
	})
}

// DoorVersion returns a door's desired and acknowledged versions.
func (s *Store) DoorVersion(ctx context.Context, doorID string) (version, acked int64, connectivity domain.Connectivity, err error) {
	err = s.queryRow(ctx, `SELECT version, acked_version, connectivity FROM doors WHERE id = ?`, doorID).Scan(&version, &acked, &connectivity)
	if errors.Is(err, sql.ErrNoRows) {
		err = domain.Errorf(domain.ENotFound, "door %s not found", doorID)
	}
	return
}

// RequeueDoorState queues a push of a door's current version (after a lock
// asked for a snapshot, or reconnected).
func (s *Store) RequeueDoorState(ctx context.Context, doorID string) error {
	return s.inTx(ctx, "requeue_door_state", func(t *Tx) error {
		var version int64
		if err := t.queryRow(ctx, `SELECT version FROM doors WHERE id = ?`, doorID).Scan(&version); err != nil {
			return err
		}
		return t.enqueue(ctx, TopicDoorState, doorID, map[string]any{"door_id": doorID, "version": version}, s.Now())
	})
}

// lockCertificates signs, for each of doorIDs whose lock is provisioned, the
// certificate of the lock's current key (lock id = door id). It is signed at
// each refresh from what provisioning stored, so a re-provisioned lock's
// new key reaches phones with their next credentials.
func (t *Tx) lockCertificates(ctx context.Context, priv ed25519.PrivateKey, doorIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(doorIDs) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT door_id, public_key, provisioned_at FROM door_locks WHERE door_id IN (`+placeholders(len(doorIDs))+`) ORDER BY door_id`, anySlice(doorIDs)...)
	type lockKey struct {
		id, pub string
		at      int64
	}
	keys, err := collect(rows, err, func(sc rowScanner) (lockKey, error) {
		var k lockKey
		return k, sc.Scan(&k.id, &k.pub, &k.at)
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		pub, err := base64.StdEncoding.DecodeString(k.pub)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("store: door %s: stored lock key unreadable", k.id)
		}
		cert, err := lockproto.IssueLockCertificate(priv, lockproto.LockCertificate{LockID: k.id, PublicKey: pub, IssuedAt: fromMicros(k.at).Truncate(time.Second)})
		if err != nil {
			return nil, err
		}
		out[k.id] = base64.StdEncoding.EncodeToString(cert)
	}
	return out, nil
}
