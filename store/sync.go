package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dooros/dooros/domain"
)

// ListSyncTasks lists offline doors whose lock has not acknowledged the
// latest desired-state version, oldest pending change first.
func (s *Store) ListSyncTasks(ctx context.Context, a domain.Actor, propertyID string) ([]domain.SyncTask, error) {
	var out []domain.SyncTask
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		// Sync state is device management's; managers who change access
		// (any Key Management) must also see which doors still need a sync.
		if a.Can(propertyID, domain.PermDevices) != nil {
			if err := a.Can(propertyID, domain.PermPeople); err != nil {
				return err
			}
		}
		rows, err := t.query(ctx, `SELECT d.id, d.name, d.version, d.acked_version, d.last_synced_at,
				COUNT(c.version), MIN(c.at), MAX(CASE WHEN c.revocation THEN 1 ELSE 0 END)
			FROM doors d JOIN door_changes c ON c.door_id = d.id AND c.version > d.acked_version
			WHERE d.property_id = ? AND d.connectivity = ? AND d.version > d.acked_version
			GROUP BY d.id, d.name, d.version, d.acked_version, d.last_synced_at
			ORDER BY MIN(c.at), d.name`, propertyID, domain.Offline)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []domain.SyncTask{}
		for rows.Next() {
			var st domain.SyncTask
			var last sql.NullInt64
			var oldest int64
			var rev int
			if err := rows.Scan(&st.DoorID, &st.DoorName, &st.Version, &st.AckedVersion, &last, &st.PendingChanges, &oldest, &rev); err != nil {
				return err
			}
			st.LastSyncedAt, st.OldestChangeAt, st.IncludesRevocation = timePtr(last), fromMicros(oldest), rev == 1
			out = append(out, st)
		}
		return rows.Err()
	})
	return out, err
}

// AckDoor records that a door's lock applied the desired state up to
// version. Acknowledgements never move backwards, and a version the cloud
// never produced is refused.
func (s *Store) AckDoor(ctx context.Context, doorID string, version int64) error {
	return s.inTx(ctx, "ack_door", func(t *Tx) error {
		var current, acked int64
		err := t.queryRow(ctx, `SELECT version, acked_version FROM doors WHERE id = ?`+t.forUpdate(), doorID).Scan(&current, &acked)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "door %s not found", doorID)
		}
		if err != nil {
			return err
		}
		if version > current || version < 0 {
			return domain.Errorf(domain.EInvalid, "door %s has no version %d (latest is %d)", doorID, version, current)
		}
		if version <= acked {
			_, err := t.exec(ctx, `UPDATE doors SET last_synced_at = ? WHERE id = ?`, micros(s.Now()), doorID)
			return err
		}
		_, err = t.exec(ctx, `UPDATE doors SET acked_version = ?, last_synced_at = ? WHERE id = ?`, version, micros(s.Now()), doorID)
		return err
	})
}
