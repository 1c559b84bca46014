package store

import (
	"context"

	"github.com/dooros/dooros/domain"
)

// OperatorStats is what /metrics samples from the database on each scrape:
// a few aggregate queries over partial indexes and small tables.
type OperatorStats struct {
	// OutboxPending counts undelivered, not failed rows by topic (the
	// backlog of emails, door pushes, refreshes); OutboxFailed the rows
	// given up on (an email that failed permanently).
	OutboxPending, OutboxFailed map[string]int
	// SyncTasks counts the Door Sync tasks of every property (doors whose
	// lock has not acknowledged the latest version and that no connected
	// lock is receiving by MQTT); SyncTasksRevocation those with a pending
	// revocation — someone may still get in there.
	SyncTasks, SyncTasksRevocation int
	// OnlineLocks counts provisioned locks of online doors; Connected those
	// whose last MQTT status is online.
	OnlineLocks, OnlineLocksConnected int
}

// OperatorStats samples the numbers an operator watches.
func (s *Store) OperatorStats(ctx context.Context) (OperatorStats, error) {
	out := OperatorStats{OutboxPending: map[string]int{}, OutboxFailed: map[string]int{}}
	err := s.read(ctx, func(t *Tx) error {
		rows, err := t.query(ctx, `SELECT topic, SUM(CASE WHEN failed_at IS NULL THEN 1 ELSE 0 END), SUM(CASE WHEN failed_at IS NULL THEN 0 ELSE 1 END)
			FROM outbox WHERE delivered_at IS NULL GROUP BY topic`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var topic string
			var pending, failed int
			if err := rows.Scan(&topic, &pending, &failed); err != nil {
				rows.Close()
				return err
			}
			out.OutboxPending[topic], out.OutboxFailed[topic] = pending, failed
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(ctx, `SELECT d.connectivity, COALESCE(MAX(l.status), ''), COUNT(DISTINCT l.door_id), MAX(CASE WHEN c.revocation THEN 1 ELSE 0 END)
			FROM doors d JOIN door_changes c ON c.door_id = d.id AND c.version > d.acked_version
			LEFT JOIN door_locks l ON l.door_id = d.id
			WHERE d.version > d.acked_version GROUP BY d.id, d.connectivity`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var conn domain.Connectivity
			var status string
			var locks, rev int
			if err := rows.Scan(&conn, &status, &locks, &rev); err != nil {
				rows.Close()
				return err
			}
			if conn == domain.Online && (locks == 0 || status == "online") {
				continue // as ListSyncTasks: no lock yet, or the pusher is on it
			}
			out.SyncTasks++
			out.SyncTasksRevocation += rev
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN l.status = 'online' THEN 1 ELSE 0 END), 0)
			FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE d.connectivity = 'online'`).Scan(&out.OnlineLocks, &out.OnlineLocksConnected)
	})
	return out, err
}
