package store

import (
	"context"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// InstanceLiveFor is how long after its last heartbeat an instance still
// counts as running; instances beat every InstanceHeartbeat.
const (
	InstanceHeartbeat = 10 * time.Second
	InstanceLiveFor   = 3 * InstanceHeartbeat
)

// RegisterInstance records self as running and, on PostgreSQL, applies
// domain.CheckInstances against the other live instances, in one
// transaction; on PostgreSQL an advisory lock serialises registrations,
// so two instances starting together cannot both miss each other. A
// refused instance leaves no row. Rows of instances gone for a day are
// removed.
func (s *Store) RegisterInstance(ctx context.Context, self domain.Instance) error {
	return s.inTx(ctx, "register_instance", func(t *Tx) error {
		if s.dialect == Postgres {
			if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(7210010)`); err != nil {
				return err
			}
		}
		now := s.Now()
		if _, err := t.exec(ctx, `DELETE FROM server_instances WHERE heartbeat_at < ? OR id = ?`, micros(now.Add(-24*time.Hour)), self.ID); err != nil {
			return err
		}
		// A row with this host and listen address is this server's own
		// previous run, stopped without removing it (kill -9, power loss):
		// two processes cannot listen on one address, and if the old one
		// still does, this one fails to listen anyway.
		if !strings.HasSuffix(self.Addr, ":0") {
			if _, err := t.exec(ctx, `DELETE FROM server_instances WHERE host = ? AND addr = ?`, self.Host, self.Addr); err != nil {
				return err
			}
		}
		rows, err := t.query(ctx, `SELECT id, host, addr, embedded_broker, started_at, heartbeat_at FROM server_instances WHERE heartbeat_at >= ?`, micros(now.Add(-InstanceLiveFor)))
		if err != nil {
			return err
		}
		var others []domain.Instance
		for rows.Next() {
			var o domain.Instance
			var started, beat int64
			if err := rows.Scan(&o.ID, &o.Host, &o.Addr, &o.EmbeddedBroker, &started, &beat); err != nil {
				rows.Close()
				return err
			}
			o.StartedAt, o.HeartbeatAt = fromMicros(started), fromMicros(beat)
			others = append(others, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Only on PostgreSQL: several instances on one SQLite file is no
		// deployment (one machine, one writer), and a process restarted
		// there on another port after a crash must not wait for its old
		// heartbeat to go stale.
		if s.dialect == Postgres {
			if err := domain.CheckInstances(self, others); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, `INSERT INTO server_instances (id, host, addr, embedded_broker, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)`,
			self.ID, self.Host, self.Addr, self.EmbeddedBroker, micros(now), micros(now))
		return err
	})
}

// BeatInstance says self is still running (and puts its row back if
// it was removed meanwhile).
func (s *Store) BeatInstance(ctx context.Context, self domain.Instance) error {
	return s.inTx(ctx, "instance_heartbeat", func(t *Tx) error {
		now := micros(s.Now())
		_, err := t.exec(ctx, `INSERT INTO server_instances (id, host, addr, embedded_broker, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
			self.ID, self.Host, self.Addr, self.EmbeddedBroker, now, now)
		return err
	})
}

// RemoveInstance forgets a stopping instance, so another may start at once.
func (s *Store) RemoveInstance(ctx context.Context, id string) error {
	return s.inTx(ctx, "remove_instance", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM server_instances WHERE id = ?`, id)
		return err
	})
}

// AddLoginFailures records one failed login in each bucket.
func (s *Store) AddLoginFailures(ctx context.Context, buckets []string, at time.Time) error {
	return s.inTx(ctx, "add_login_failures", func(t *Tx) error {
		for _, b := range buckets {
			if _, err := t.exec(ctx, `INSERT INTO login_failures (bucket, at) VALUES (?, ?)`, b, micros(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// CountLoginFailures counts a bucket's failures since a time.
func (s *Store) CountLoginFailures(ctx context.Context, bucket string, since time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM login_failures WHERE bucket = ? AND at > ?`, bucket, micros(since)).Scan(&n)
	return n, err
}

// ClearLoginFailures forgets a bucket's failures (after a good login).
func (s *Store) ClearLoginFailures(ctx context.Context, bucket string) error {
	return s.inTx(ctx, "clear_login_failures", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM login_failures WHERE bucket = ?`, bucket)
		return err
	})
}

// PruneLoginFailures removes failures older than before (outside every
// window), so the table stays as small as the recent failures.
func (s *Store) PruneLoginFailures(ctx context.Context, before time.Time) error {
	return s.inTx(ctx, "prune_login_failures", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM login_failures WHERE at < ?`, micros(before))
		return err
	})
}
