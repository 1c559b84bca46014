package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// EventStaffSync records a manual Door Sync a manager made in the DOOR App,
// under the manager's name.
const EventStaffSync = "door.staff_sync"

// StaffCourier is what a manager's DOOR App needs to sync the property's
// doors: the doors with pending changes (Door Sync tasks) and one courier
// (sync-only) credential naming them, bound to the app's device key. Nil
// Credential when nothing is pending.
type StaffCourier struct {
	Tasks      []domain.SyncTask  `json:"tasks"`
	Credential *CourierCredential `json:"credential"`
}

// IssueStaffCourier needs Device Management on the property (a Portfolio
// Manager has it everywhere). The credential's person id is "staff:" and
// the manager id; like every courier credential it opens no door, lasts at
// most an hour and is not recorded as a phone credential.
func (s *Store) IssueStaffCourier(ctx context.Context, a domain.Actor, signer PropertySigner, propertyID string, deviceKey ed25519.PublicKey) (StaffCourier, error) {
	out := StaffCourier{Tasks: []domain.SyncTask{}}
	if err := a.Can(propertyID, domain.PermDevices); err != nil {
		return out, err
	}
	if len(deviceKey) != ed25519.PublicKeySize {
		return out, domain.FieldError("device_public_key", "must be a base64 Ed25519 public key (32 bytes)")
	}
	tasks, err := s.ListSyncTasks(ctx, a, propertyID)
	if err != nil {
		return out, err
	}
	out.Tasks = append(out.Tasks, tasks...)
	var doors []string
	for _, t := range tasks {
		if len(doors) < maxCourierDoors {
			doors = append(doors, t.DoorID)
		}
	}
	if len(doors) == 0 {
		return out, nil
	}
	priv, err := signer.PropertySigner(ctx, propertyID)
	if err != nil {
		return out, err
	}
	err = s.read(ctx, func(t *Tx) error {
		prop, err := t.propertyByID(ctx, propertyID)
		if err != nil {
			return err
		}
		clocks, err := t.propertyClocks(ctx, []string{propertyID})
		if err != nil {
			return err
		}
		// Only doors whose lock is provisioned can be synced.
		certs, err := t.lockCertificates(ctx, priv, doors)
		if err != nil {
			return err
		}
		var provisioned []string
		for _, d := range doors {
			if _, ok := certs[d]; ok {
				provisioned = append(provisioned, d)
			}
		}
		if len(provisioned) == 0 {
			return nil
		}
		c, err := issueCourierCredential(ctx, t, priv, prop, clocks[propertyID], "staff:"+a.ManagerID, deviceKey, provisioned, s.Now())
		if err != nil {
			return err
		}
		out.Credential = &c
		return nil
	})
	return out, err
}

// StaffDoorLogFrom checks that the manager may sync the door (Device
// Management, the door's property) and returns the first lock event the
// cloud lacks.
func (s *Store) StaffDoorLogFrom(ctx context.Context, a domain.Actor, propertyID, doorID string) (int64, error) {
	if err := a.Can(propertyID, domain.PermDevices); err != nil {
		return 0, err
	}
	var next int64
	err := s.queryRow(ctx, `SELECT l.log_next FROM doors d JOIN door_locks l ON l.door_id = d.id WHERE d.id = ? AND d.property_id = ?`, doorID, propertyID).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, domain.Errorf(domain.ENotFound, "door %s has no provisioned lock at this property", doorID)
	}
	if err != nil {
		return 0, err
	}
	return next, nil
}

// RecordStaffSync writes a manager's manual Door Sync to Activity under
// their name.
func (s *Store) RecordStaffSync(ctx context.Context, a domain.Actor, propertyID, doorID, detail string) error {
	return s.inTx(ctx, "staff_sync", func(t *Tx) error {
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventStaffSync, Actor: a.Name, ActorID: a.ManagerID,
			DoorID: doorID, Doors: []string{doorID}, Detail: detail})
	})
}

// DoorCouriers says who can sync a door: the staff (Portfolio Managers of
// the organisation and managers with Device Management on the property)
// and the residents who unlocked it most often in the last 30 days and
// still hold access (at most 3, most unlocks first).
type DoorCouriers struct {
	Staff     []string        `json:"staff"`
	Residents []DoorUnlockers `json:"residents"`
}

// DoorUnlockers is a resident and their unlocks at a door.
type DoorUnlockers struct {
	PersonID string `json:"person_id"`
	Name     string `json:"name"`
	Unlocks  int    `json:"unlocks"`
}

// SyncCouriers answers DoorCouriers for each of doorIDs of the property
// (Key Management or Device Management, as sync tasks).
func (s *Store) SyncCouriers(ctx context.Context, a domain.Actor, propertyID string, doorIDs []string) (map[string]DoorCouriers, error) {
	out := map[string]DoorCouriers{}
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanPeopleOrDevices(propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT m.first_name || ' ' || m.last_name FROM managers m WHERE m.org_id = ? AND (m.role = ?
			OR EXISTS (SELECT 1 FROM manager_properties mp WHERE mp.manager_id = m.id AND mp.property_id = ? AND mp.device_management))
			ORDER BY m.last_name, m.first_name, m.id`, a.OrgID, string(domain.RolePortfolioManager), propertyID)
		if err != nil {
			return err
		}
		staff, err := scanStrings(rows)
		if err != nil {
			return err
		}
		since := micros(s.Now().Add(-30 * 24 * time.Hour))
		for _, d := range doorIDs {
			dc := DoorCouriers{Staff: staff}
			if dc.Residents, err = t.syncResidents(ctx, propertyID, d, since); err != nil {
				return err
			}
			out[d] = dc
		}
		return nil
	})
	return out, err
}

// syncResidents are the residents still holding access who unlocked the
// door most in the Activity since since (at most 3, most unlocks first).
func (t *Tx) syncResidents(ctx context.Context, propertyID, doorID string, since int64) ([]DoorUnlockers, error) {
	out := []DoorUnlockers{}
	rows, err := t.query(ctx, `SELECT e.person_id, MAX(p.first_name || ' ' || p.last_name), COUNT(*) FROM events e JOIN people p ON p.id = e.person_id
		WHERE e.property_id = ? AND e.door_id = ? AND e.kind = ? AND e.at >= ? AND p.revoked_at IS NULL AND p.deleted_at IS NULL
		GROUP BY e.person_id ORDER BY COUNT(*) DESC, e.person_id LIMIT 3`, propertyID, doorID, domain.EventDoorUnlocked, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u DoorUnlockers
		if err := rows.Scan(&u.PersonID, &u.Name, &u.Unlocks); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// EventSyncRequested records that a manager asked a door's residents to
// open the DOOR App near it (a Door Sync by passing phone).
const EventSyncRequested = "door.sync_requested"

// TopicSyncRequest is the outbox topic of that email (one row per resident).
const TopicSyncRequest = "email.sync_request"

// SyncRequestInterval is how often residents may be asked about one door.
const SyncRequestInterval = time.Hour

// RequestResidentSync asks the residents who can sync a door (DoorCouriers
// residents) by email to open the DOOR App near it: one outbox row each and
// one Activity entry. Who may see Door Sync tasks may ask (Key Management
// or Device Management); once per door per SyncRequestInterval, and only
// while the door has a Door Sync task.
func (s *Store) RequestResidentSync(ctx context.Context, a domain.Actor, propertyID, doorID string) ([]DoorUnlockers, error) {
	var out []DoorUnlockers
	err := s.inTx(ctx, "sync_request", func(t *Tx) error {
		p, err := t.property(ctx, a, propertyID)
		if err != nil {
			return err
		}
		if err := a.CanPeopleOrDevices(propertyID); err != nil {
			return err
		}
		door, err := t.door(ctx, propertyID, doorID)
		if err != nil {
			return err
		}
		var pending int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM doors WHERE id = ? AND version > acked_version`, door.ID).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return domain.Errorf(domain.EConflict, "%s is up to date: there is nothing to sync", door.Name)
		}
		now := s.Now()
		var last sql.NullInt64
		if err := t.queryRow(ctx, `SELECT MAX(at) FROM events WHERE property_id = ? AND door_id = ? AND kind = ?`,
			propertyID, doorID, EventSyncRequested).Scan(&last); err != nil {
			return err
		}
		if last.Valid {
			at := time.UnixMicro(last.Int64)
			if next := at.Add(SyncRequestInterval); now.Before(next) {
				loc := p.Location()
				return domain.Errorf(domain.ERateLimited, "residents were already asked to sync %s at %s; you can ask again after %s",
					door.Name, at.In(loc).Format("15:04"), next.In(loc).Format("15:04"))
			}
		}
		if out, err = t.syncResidents(ctx, propertyID, doorID, micros(now.Add(-30*24*time.Hour))); err != nil {
			return err
		}
		if len(out) == 0 {
			return domain.Errorf(domain.EConflict, "nobody to ask: no resident who still holds access unlocked %s in the last 30 days", door.Name)
		}
		names := make([]string, len(out))
		for i, u := range out {
			names[i] = u.Name
			if err := t.enqueue(ctx, TopicSyncRequest, u.PersonID, map[string]string{"person_id": u.PersonID, "door_id": doorID,
				"door_name": door.Name, "requested_by": a.Name}, now); err != nil {
				return err
			}
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventSyncRequested, Actor: a.Name, ActorID: a.ManagerID,
			DoorID: doorID, Doors: []string{doorID}, Detail: "asked " + strings.Join(names, ", ") + " by email to open the DOOR App near the door"})
	})
	return out, err
}
