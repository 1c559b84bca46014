package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// EventTimeCorrected is the Activity kind of a new time epoch.
const EventTimeCorrected = "property.time_corrected"

// TimeCorrection is what a time correction started.
type TimeCorrection struct {
	PropertyID string `json:"property_id"`
	Epoch      uint64 `json:"epoch"`
	Doors      int    `json:"doors"` // doors with a lock that get the correction
}

// CorrectTime starts a new time epoch at a property (§4.11): the remedy
// for a time the cloud once signed too far ahead, which locks would
// otherwise keep for good (they never move their clock far back). Every
// door with a lock gets a new version, so its next bundle carries the new
// epoch and the cloud's time now; time tokens carry it from now on. A lock
// takes a higher epoch's time even when it moves its clock back, and
// ignores the old epoch's times afterwards.
func (s *Store) CorrectTime(ctx context.Context, a domain.Actor, propertyID string) (TimeCorrection, error) {
	out := TimeCorrection{PropertyID: propertyID}
	err := s.inTx(ctx, "correct_time", func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanCorrectTime(); err != nil {
			return err
		}
		var epoch int64
		if err := t.queryRow(ctx, `SELECT time_epoch FROM properties WHERE id = ?`+t.forUpdate(), propertyID).Scan(&epoch); err != nil {
			return err
		}
		epoch++
		if _, err := t.exec(ctx, `UPDATE properties SET time_epoch = ? WHERE id = ?`, epoch, propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT l.door_id FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE d.property_id = ? ORDER BY l.door_id`, propertyID)
		doors, err := collect(rows, err, func(r rowScanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		reason := fmt.Sprintf("time correction (epoch %d)", epoch)
		changes := make([]domain.DoorChange, len(doors))
		for i, id := range doors {
			changes[i] = domain.DoorChange{DoorID: id, Reason: reason}
		}
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		out.Epoch, out.Doors = uint64(epoch), len(doors)
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventTimeCorrected, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("locks' time corrected: epoch %d, sent to %d locks", epoch, len(doors)), Doors: doors})
	})
	return out, err
}

// propertyClock is what a property's locks and phones are told about time
// and credential lifetimes beyond the property's settings.
type propertyClock struct {
	// retention is the longest credential lifetime the property ever
	// issued: how long a revocation must be kept.
	retention time.Duration
	epoch     uint64
}

// propertyClocks reads the clocks of the given properties.
func (t *Tx) propertyClocks(ctx context.Context, propertyIDs []string) (map[string]propertyClock, error) {
	out := map[string]propertyClock{}
	if len(propertyIDs) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT id, credential_lifetime_max_hours, time_epoch FROM properties WHERE id IN (`+placeholders(len(propertyIDs))+`)`, anySlice(propertyIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var hours int
		var epoch int64
		if err := rows.Scan(&id, &hours, &epoch); err != nil {
			return nil, err
		}
		out[id] = propertyClock{retention: time.Duration(hours) * time.Hour, epoch: uint64(epoch)}
	}
	return out, rows.Err()
}

// timeToken signs the cloud's time for a property's locks (§4.11): phones
// carry it in every unlock so a lock recovers from an RTC reset.
func (c propertyClock) timeToken(signer ed25519.PrivateKey, now time.Time) ([]byte, error) {
	return lockproto.IssueTimeToken(signer, now, c.epoch)
}
