package store

import (
	"context"
	"time"
)

// Door Sync writes a door.state outbox row and a sealed bundle for every
// door a change touches: a revocation at 10,000 doors is 10,000 of each.
// Without pruning both tables grow with every change for ever. (The
// door's change records go at its ack: Tx.doorAcked.) What is
// kept:
//   - every pending or failed outbox row (failed ones are shown to
//     managers), and delivered door pushes younger than their cutoff;
//   - every bundle a lock can still apply or acknowledge: of its lock's
//     current generation and at or above the version it acknowledged
//     (pending bundles that phones carry to offline doors are above it),
//     and any bundle younger than its cutoff.
//
// A bundle below the acknowledged version can no longer move its lock (a
// lock never goes back a version); an ack naming one is a stale ack and
// is refused as unknown once it is gone, which changes nothing. The
// acknowledged state itself lives in door_locks, not in the bundle.

// pruneChunk is how many rows one pruning transaction deletes: the
// writer is held for one short transaction at a time.
const pruneChunk = 500

// PruneDoorSync deletes delivered door.state and door.refresh outbox rows
// delivered before pushesBefore, and bundles created before
// bundlesBefore that no lock can apply or acknowledge any more (an older
// generation of the door's lock, a version below the one it acknowledged,
// or a door without a lock), at most limit of each. It returns how many
// of each it deleted.
func (s *Store) PruneDoorSync(ctx context.Context, pushesBefore, bundlesBefore time.Time, limit int) (pushes, bundles int, err error) {
	if limit <= 0 {
		return 0, 0, nil
	}
	// The candidates are read outside any write transaction (the scan
	// can be long on a big outbox) and deleted in short chunks.
	rows, err := s.query(ctx, `SELECT id FROM outbox WHERE topic IN (?, ?) AND delivered_at IS NOT NULL AND delivered_at < ? LIMIT ?`,
		TopicDoorState, TopicDoorRefresh, micros(pushesBefore), limit)
	ids, err := collect(rows, err, scanString)
	if err != nil {
		return 0, 0, err
	}
	if pushes, err = s.deleteChunks(ctx, "prune_door_pushes", `DELETE FROM outbox WHERE delivered_at IS NOT NULL AND id IN `, ids); err != nil {
		return pushes, 0, err
	}
	rows, err = s.query(ctx, `SELECT b.digest FROM door_bundles b LEFT JOIN door_locks l ON l.door_id = b.door_id
		WHERE b.created_at < ? AND (l.door_id IS NULL OR b.generation < l.generation OR (b.generation = l.generation AND b.version < l.acked_state_version))
		LIMIT ?`, micros(bundlesBefore), limit)
	digests, err := collect(rows, err, scanString)
	if err != nil {
		return pushes, 0, err
	}
	// Checked again at deletion: a re-provisioning cannot make a bundle
	// useful again (its generation only grows), and the acknowledged
	// version only grows, so a candidate stays one.
	bundles, err = s.deleteChunks(ctx, "prune_door_bundles", `DELETE FROM door_bundles WHERE digest IN `, digests)
	return pushes, bundles, err
}

// deleteChunks runs del (a DELETE ending in "IN ") over ids, pruneChunk
// at a time, each in its own transaction; it returns the rows deleted.
func (s *Store) deleteChunks(ctx context.Context, op, del string, ids []string) (int, error) {
	n := 0
	for len(ids) > 0 {
		chunk := ids[:min(pruneChunk, len(ids))]
		ids = ids[len(chunk):]
		err := s.inTx(ctx, op, func(t *Tx) error {
			res, err := t.exec(ctx, del+`(`+placeholders(len(chunk))+`)`, anySlice(chunk)...)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			n += int(m)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
