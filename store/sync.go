package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dooros/dooros/domain"
)

// ListSyncTasks lists the doors whose lock has not acknowledged the latest
// desired-state version and needs someone to act: every such offline door,
// and online doors whose lock is disconnected or never connected. Oldest
// pending change first.
//
// pending_changes counts the door's change records since the version its
// lock acknowledged. A transaction writes one record per door it changed
// (Tx.flushDoors merges its changes: reasons, revocation, revoked people),
// so the count is of committed changes — one request, one import batch
// (up to 100 rows), one PMS run — not of individual grants; a revocation
// anywhere in a merged change marks includes_revocation.
func (s *Store) ListSyncTasks(ctx context.Context, a domain.Actor, propertyID string) ([]domain.SyncTask, error) {
	var out []domain.SyncTask
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		// Sync state is device management's; managers who change access
		// (any Key Management) must also see which doors still need a sync.
		if err := a.CanPeopleOrDevices(propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT d.id, d.name, d.connectivity, d.version, d.acked_version, d.last_synced_at,
				COUNT(c.version), MIN(c.at), MAX(CASE WHEN c.revocation THEN 1 ELSE 0 END),
				COALESCE(MAX(l.status), ''), MAX(l.last_seen_at), COUNT(l.door_id), COALESCE(MAX(z.status), ''), COUNT(z.door_id)
			FROM doors d JOIN door_changes c ON c.door_id = d.id AND c.version > d.acked_version
			LEFT JOIN door_locks l ON l.door_id = d.id
			LEFT JOIN zwave_locks z ON z.door_id = d.id
			WHERE d.property_id = ? AND d.version > d.acked_version
			GROUP BY d.id, d.name, d.connectivity, d.version, d.acked_version, d.last_synced_at
			ORDER BY MIN(c.at), d.name`, propertyID)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []domain.SyncTask{}
		now := s.Now()
		for rows.Next() {
			var st domain.SyncTask
			var conn domain.Connectivity
			var last, seen sql.NullInt64
			var oldest int64
			var rev, locks, zwave int
			var status, zstatus string
			if err := rows.Scan(&st.DoorID, &st.DoorName, &conn, &st.Version, &st.AckedVersion, &last, &st.PendingChanges, &oldest, &rev,
				&status, &seen, &locks, &zstatus, &zwave); err != nil {
				return err
			}
			st.LastSyncedAt, st.OldestChangeAt, st.IncludesRevocation = timePtr(last), fromMicros(oldest), rev == 1
			st.LastSeenAt = timePtr(seen)
			if zwave > 0 {
				// A Z-Wave lock: the zwave adapter is on it while the node
				// is awake; asleep or unreachable, the task shows it.
				switch zstatus {
				case "alive":
					continue
				case "asleep":
					st.Connection = ConnAsleep
				case "":
					st.Connection = ConnNever
				default:
					st.Connection = ConnUnreachable
				}
				out = append(out, st)
				continue
			}
			st.Connection = lockConnection(conn, locks > 0, status, st.LastSeenAt, &st.OldestChangeAt, now)
			if conn == domain.Online && (locks == 0 || st.Connection == ConnOnline) {
				continue // no lock to reach yet, or the pusher is on it
			}
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
		return t.doorAcked(ctx, doorID, version, s.Now())
	})
}
