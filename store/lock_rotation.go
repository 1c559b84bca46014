package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// EventLockKeysRotated is the Activity kind of a lock key rotation, asked
// for and completed.
const EventLockKeysRotated = "door.lock_keys_rotated"

// LockRotationSeedAAD binds a pending lock seed to its door and generation.
func LockRotationSeedAAD(doorID string, generation int) string {
	return LockSymmetricAAD(doorID, generation) + "/rotation-seed"
}

// LockRotation is a requested lock key rotation.
type LockRotation struct {
	DoorID    string            `json:"door_id"`
	PublicKey ed25519.PublicKey `json:"public_key"`
}

// RotateLockKeys gives a door's lock new keys in the field: they are kept
// beside the current ones, and the door gets a new version whose bundle
// carries them (signed and sealed with the current keys, so only the real
// cloud can rotate and only this lock reads them). The current keys stay
// in force until the lock proves it switched (CompleteLockKeyRotation).
// A second rotation while one is pending is refused: the lock may already
// hold the pending keys, and replacing them would cut it off.
func (s *Store) RotateLockKeys(ctx context.Context, a domain.Actor, sealer Sealer, propertyID, doorID string) (LockRotation, error) {
	var out LockRotation
	err := s.inTx(ctx, "rotate_lock_keys", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermDevices); err != nil {
			return err
		}
		d, err := t.door(ctx, propertyID, doorID)
		if err != nil {
			return err
		}
		var gen int
		var pending string
		err = t.queryRow(ctx, `SELECT generation, pending_public_key FROM door_locks WHERE door_id = ?`+t.forUpdate(), d.ID).Scan(&gen, &pending)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "door %s has no provisioned lock", d.ID)
		}
		if err != nil {
			return err
		}
		if pending != "" {
			return domain.Errorf(domain.EConflict, "a key rotation of this lock is waiting for the lock's acknowledgement")
		}
		keys, err := lockproto.NewLockKeys(d.ID)
		if err != nil {
			return err
		}
		sym, err := sealer.Seal(keys.Symmetric, LockSymmetricAAD(d.ID, gen))
		if err != nil {
			return err
		}
		seed, err := sealer.Seal(keys.Private.Seed(), LockRotationSeedAAD(d.ID, gen))
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE door_locks SET pending_public_key = ?, pending_symmetric_key = ?, pending_seed = ? WHERE door_id = ?`,
			base64.StdEncoding.EncodeToString(keys.Public), sym, seed, d.ID); err != nil {
			return err
		}
		if err := t.bumpDoors(ctx, []domain.DoorChange{{DoorID: d.ID, Reason: "lock keys rotating"}}); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventLockKeysRotated, ActorID: a.ManagerID, Actor: a.Name,
			DoorID: d.ID, Detail: fmt.Sprintf("key rotation of the lock of %s requested", d.Name), Doors: []string{d.ID}}); err != nil {
			return err
		}
		out = LockRotation{DoorID: d.ID, PublicKey: keys.Public}
		return nil
	})
	return out, err
}

// CompleteLockKeyRotation makes a door's pending lock keys the current
// ones, once the lock proved it holds them (pub, the pending public key,
// verified an ack or an event batch). The old keys are dropped: nothing
// the lock sends is signed with them any more.
func (s *Store) CompleteLockKeyRotation(ctx context.Context, doorID string, generation int, pub ed25519.PublicKey) error {
	return s.inTx(ctx, "complete_lock_key_rotation", func(t *Tx) error {
		var propertyID, doorName string
		res, err := t.exec(ctx, `UPDATE door_locks SET public_key = pending_public_key, symmetric_key = pending_symmetric_key,
				pending_public_key = '', pending_symmetric_key = '', pending_seed = ''
			WHERE door_id = ? AND generation = ? AND pending_public_key = ?`, doorID, generation, base64.StdEncoding.EncodeToString(pub))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = domain.Errorf(domain.EConflict, "no such pending key rotation for door %s", doorID)
			}
			return err
		}
		if err := t.queryRow(ctx, `SELECT property_id, name FROM doors WHERE id = ?`, doorID).Scan(&propertyID, &doorName); err != nil {
			return err
		}
		// A new version, sealed under the new keys: the bundles stored for
		// the current one are sealed under the old keys the lock no longer
		// opens, and would otherwise be handed out again if the ack of the
		// rotation was lost (the lock then answers "wrong base" and gets a
		// snapshot).
		if err := t.bumpDoors(ctx, []domain.DoorChange{{DoorID: doorID, Reason: "lock keys rotated"}}); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventLockKeysRotated, Actor: "Door Sync", DoorID: doorID, Doors: []string{doorID},
			Detail: fmt.Sprintf("the lock of %s switched to its new keys", doorName)})
	})
}

// rotation returns the key rotation a door's bundles carry while one is
// pending (nil when none).
func (j *bundleJob) rotation(sealer Sealer) (*lockproto.KeyRotation, error) {
	if j.pendingSeed == "" {
		return nil, nil
	}
	seed, err := sealer.Open(j.pendingSeed, LockRotationSeedAAD(j.doorID, j.gen))
	if err != nil {
		return nil, err
	}
	sym, err := sealer.Open(j.pendingSym, LockSymmetricAAD(j.doorID, j.gen))
	if err != nil {
		return nil, err
	}
	return &lockproto.KeyRotation{LockSeed: seed, LockSymmetricKey: sym}, nil
}
