package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dooros/dooros/domain"
)

// Outbox topics written by the core; workers in other packages deliver them.
const (
	TopicWelcomeEmail      = "email.welcome"
	TopicManagerInvitation = "email.manager_invitation"
	TopicDoorState         = "door.state"
)

// addEvent appends one Activity entry.
func (t *Tx) addEvent(ctx context.Context, e domain.Event) error {
	if e.ID == "" {
		e.ID = domain.NewID("evt")
	}
	if e.At.IsZero() {
		e.At = t.s.Now()
	}
	_, err := t.exec(ctx, `INSERT INTO events (id, property_id, at, received_at, kind, actor_id, actor_name, person_id, person_name, door_id, detail)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, e.PropertyID, micros(e.At), micros(t.s.Now()), e.Kind, e.ActorID, e.Actor, e.PersonID, e.PersonName, e.DoorID, e.Detail)
	if err != nil {
		return err
	}
	for _, d := range e.Doors {
		if _, err := t.exec(ctx, `INSERT INTO event_doors (event_id, door_id) VALUES (?,?) ON CONFLICT DO NOTHING`, e.ID, d); err != nil {
			return err
		}
	}
	return nil
}

// adminEvent is the common shape of a manager's action on a person.
func adminEvent(a domain.Actor, propertyID, kind string, p *domain.Person, detail string, doors []string) domain.Event {
	e := domain.Event{PropertyID: propertyID, Kind: kind, ActorID: a.ManagerID, Actor: a.Name, Detail: detail, Doors: doors}
	if p != nil {
		e.PersonID, e.PersonName = p.ID, p.Name()
	}
	return e
}

// bumpDoors gives every changed door a new desired-state version, records
// the change (for Door Sync tasks) and any revocation (for lock bundles),
// and queues a push for the Door Sync workers.
func (t *Tx) bumpDoors(ctx context.Context, changes []domain.DoorChange) error {
	now := t.s.Now()
	for _, c := range domain.MergeDoorChanges(changes) {
		var version int64
		if err := t.queryRow(ctx, `UPDATE doors SET version = version + 1 WHERE id = ? RETURNING version`, c.DoorID).Scan(&version); err != nil {
			return fmt.Errorf("bump door %s: %w", c.DoorID, err)
		}
		if _, err := t.exec(ctx, `INSERT INTO door_changes (door_id, version, at, reason, revocation) VALUES (?,?,?,?,?)`,
			c.DoorID, version, micros(now), c.Reason, c.Revocation); err != nil {
			return err
		}
		for _, p := range c.PersonIDs {
			if _, err := t.exec(ctx, `INSERT INTO door_revocations (door_id, person_id, at) VALUES (?,?,?) ON CONFLICT DO NOTHING`,
				c.DoorID, p, micros(now)); err != nil {
				return err
			}
		}
		if err := t.enqueue(ctx, TopicDoorState, c.DoorID, map[string]any{"door_id": c.DoorID, "version": version}, now); err != nil {
			return err
		}
	}
	return nil
}

// enqueue writes an outbox row in the current transaction.
func (t *Tx) enqueue(ctx context.Context, topic, subject string, payload any, availableAt time.Time) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	now := t.s.Now()
	_, err = t.exec(ctx, `INSERT INTO outbox (id, topic, subject_id, payload, created_at, available_at) VALUES (?,?,?,?,?,?)`,
		domain.NewID("obx"), topic, subject, string(b), micros(now), micros(availableAt))
	return err
}
