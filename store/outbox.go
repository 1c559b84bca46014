package store

import (
	"context"
	"database/sql"
	"time"
)

// OutboxItem is one claimed outbox row.
type OutboxItem struct {
	ID        string
	Topic     string
	SubjectID string
	Payload   string
	Attempts  int
	CreatedAt time.Time
}

// OutboxLease is how long a claimed row stays invisible to other workers;
// a worker that dies mid-delivery releases it by timing out.
const OutboxLease = 2 * time.Minute

// ClaimOutbox claims up to n due rows of a topic for this worker. On
// PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED so several
// `dooros serve` instances never deliver the same row at once.
func (s *Store) ClaimOutbox(ctx context.Context, topic string, n int) ([]OutboxItem, error) {
	return s.ClaimOutboxLease(ctx, topic, n, OutboxLease)
}

// ClaimOutboxLease is ClaimOutbox with a lease of its own: a worker whose
// deliveries take seconds (Door Sync's pusher) takes a short lease, so
// rows claimed by a server that was killed are claimed again by another
// within that bound instead of OutboxLease.
func (s *Store) ClaimOutboxLease(ctx context.Context, topic string, n int, lease time.Duration) ([]OutboxItem, error) {
	if lease <= 0 {
		lease = OutboxLease
	}
	var out []OutboxItem
	err := s.inTx(ctx, "claim_outbox", func(t *Tx) error {
		now := s.Now()
		q := `SELECT id, topic, subject_id, payload, attempts, created_at FROM outbox
			WHERE topic = ? AND delivered_at IS NULL AND failed_at IS NULL AND available_at <= ?
			ORDER BY available_at, id LIMIT ?`
		q += t.skipLocked()
		rows, err := t.query(ctx, q, topic, micros(now), n)
		out, err = collect(rows, err, func(sc rowScanner) (OutboxItem, error) {
			var it OutboxItem
			var created int64
			err := sc.Scan(&it.ID, &it.Topic, &it.SubjectID, &it.Payload, &it.Attempts, &created)
			it.CreatedAt = fromMicros(created)
			return it, err
		})
		if err != nil {
			return err
		}
		for i := range out {
			out[i].Attempts++
			if _, err := t.exec(ctx, `UPDATE outbox SET available_at = ?, attempts = ? WHERE id = ?`,
				micros(now.Add(lease)), out[i].Attempts, out[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// CompleteOutbox marks a row delivered.
func (s *Store) CompleteOutbox(ctx context.Context, id string) error {
	return s.inTx(ctx, "complete_outbox", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE outbox SET delivered_at = ?, last_error = '' WHERE id = ?`, micros(s.Now()), id)
		return err
	})
}

// RetryOutbox puts a row back after a temporary failure, due after backoff.
func (s *Store) RetryOutbox(ctx context.Context, id string, cause error, backoff time.Duration) error {
	return s.inTx(ctx, "retry_outbox", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE outbox SET available_at = ?, last_error = ? WHERE id = ?`, micros(s.Now().Add(backoff)), truncate(cause.Error(), 500), id)
		return err
	})
}

// FailOutbox marks a row permanently failed; it stays visible to managers.
func (s *Store) FailOutbox(ctx context.Context, id string, cause error) error {
	return s.inTx(ctx, "fail_outbox", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ?`, micros(s.Now()), truncate(cause.Error(), 500), id)
		return err
	})
}

// OutboxStatus describes deliveries about one subject (a person's emails).
type OutboxStatus struct {
	ID          string     `json:"id"`
	Topic       string     `json:"topic"`
	CreatedAt   time.Time  `json:"created_at"`
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at"`
	FailedAt    *time.Time `json:"failed_at"`
	LastError   string     `json:"last_error"`
}

// outboxForSubject reads through the partial index outbox_subject
// (migration 00028), which leaves door pushes out: the literal topic
// condition lets both databases use it.
const outboxForSubject = `SELECT id, topic, created_at, attempts, delivered_at, failed_at, last_error FROM outbox
	WHERE subject_id = ? AND topic <> 'door.state' ORDER BY created_at DESC, id`

// OutboxForSubject lists deliveries about one subject (a person's emails),
// newest first; door pushes (door.state, whose subject is a door) are not
// listed.
func (s *Store) OutboxForSubject(ctx context.Context, subjectID string) ([]OutboxStatus, error) {
	rows, err := s.query(ctx, outboxForSubject, subjectID)
	return collect(rows, err, func(sc rowScanner) (OutboxStatus, error) {
		var o OutboxStatus
		var created int64
		var del, fail sql.NullInt64
		if err := sc.Scan(&o.ID, &o.Topic, &created, &o.Attempts, &del, &fail, &o.LastError); err != nil {
			return o, err
		}
		o.CreatedAt, o.DeliveredAt, o.FailedAt = fromMicros(created), timePtr(del), timePtr(fail)
		return o, nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
