package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/dooros/dooros/domain"
)

// DoorDevice is a door's lock as Device Management sees it: provisioned or
// not, how it is connected, when it was last heard from, and how far its
// acknowledged state is behind.
type DoorDevice struct {
	DoorID        string     `json:"door_id"`
	Provisioned   bool       `json:"provisioned"`
	Generation    int        `json:"generation"`
	ProvisionedAt *time.Time `json:"provisioned_at"`
	// Connection is as in sync tasks: bluetooth, online, disconnected, never.
	Connection   string     `json:"connection"`
	LastSeenAt   *time.Time `json:"last_seen_at"`
	Version      int64      `json:"version"`
	AckedVersion int64      `json:"acked_version"`
	LastSyncedAt *time.Time `json:"last_synced_at"`
}

// ListDoorDevices lists the lock state of every door of a property, by door
// name. Like sync tasks it needs Device Management or Key Management.
func (s *Store) ListDoorDevices(ctx context.Context, a domain.Actor, propertyID string) ([]DoorDevice, error) {
	var out []DoorDevice
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanPeopleOrDevices(propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT d.id, d.connectivity, d.version, d.acked_version, d.last_synced_at,
				l.generation, l.provisioned_at, COALESCE(l.status, ''), l.last_seen_at,
				(SELECT MIN(c.at) FROM door_changes c WHERE c.door_id = d.id AND c.version > d.acked_version)
			FROM doors d LEFT JOIN door_locks l ON l.door_id = d.id
			WHERE d.property_id = ? ORDER BY d.name, d.id`, propertyID)
		now := s.Now()
		out, err = collect(rows, err, func(sc rowScanner) (DoorDevice, error) {
			var dd DoorDevice
			var conn domain.Connectivity
			var synced, gen, provAt, seen, oldest sql.NullInt64
			var status string
			if err := sc.Scan(&dd.DoorID, &conn, &dd.Version, &dd.AckedVersion, &synced, &gen, &provAt, &status, &seen, &oldest); err != nil {
				return dd, err
			}
			dd.Provisioned, dd.Generation = gen.Valid, int(gen.Int64)
			dd.ProvisionedAt, dd.LastSeenAt, dd.LastSyncedAt = timePtr(provAt), timePtr(seen), timePtr(synced)
			dd.Connection = lockConnection(conn, dd.Provisioned, status, dd.LastSeenAt, timePtr(oldest), now)
			return dd, nil
		})
		return err
	})
	return out, err
}
