package store

import (
	"context"
	"strings"
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

// revocationMargin is how long past its property's longest credential
// lifetime a revocation record is kept (PruneDoorRevocations).
const revocationMargin = 24 * time.Hour

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
	return s.deleteInChunks(ctx, op, len(ids), pruneChunk, func(lo, hi int) (string, []any) {
		return del + `(` + placeholders(hi-lo) + `)`, anySlice(ids[lo:hi])
	})
}

// deleteInChunks deletes n candidates size at a time, each chunk in its
// own transaction (the writer is held for one short transaction at a
// time): stmt gives the DELETE and its arguments for candidates [lo, hi).
// It returns the rows deleted.
func (s *Store) deleteInChunks(ctx context.Context, op string, n, size int, stmt func(lo, hi int) (string, []any)) (int, error) {
	deleted := 0
	for lo := 0; lo < n; lo += size {
		q, args := stmt(lo, min(lo+size, n))
		err := s.inTx(ctx, op, func(t *Tx) error {
			res, err := t.exec(ctx, q, args...)
			if err != nil {
				return err
			}
			m, err := res.RowsAffected()
			deleted += int(m)
			return err
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// PruneDoorRevocations deletes door_revocations rows made before before
// that nothing reads any more, at most limit, and returns how many it
// deleted. Every revocation is one row per door and person, kept for ever
// until now: a revoke at 10,000 doors adds 10,000, and the growing primary
// key made every later wide revoke write a leaf per door
// (docs/bench-fleet.md, session 9). A row goes when it is older than
// before and than its property's longest credential lifetime ever
// (credential_lifetime_max_hours) plus revocationMargin, and — at a door
// whose lock acknowledged a state, see below — no unacknowledged change
// of its door was made at its time (all checked again at deletion):
//   - a door's desired state (every bundle, snapshots included) lists the
//     revocations younger than that lifetime: a phone credential issued
//     before an older one has expired, so no lock needs it any more. The
//     margin keeps rows a bundle still lists should the server's clock
//     run ahead (or servers on one database disagree) by up to a day;
//   - exposure (ListExposure) reads a revocation to tell whether the
//     door's lock lacks it: while its change is unacknowledged (kept) or
//     for a lock that acknowledged no state (re-provisioned, or synced
//     through a phone's AckDoor only). In that last case an old row still
//     adds nothing: the credentials issued before it have expired, and
//     exposure knows of no code or card such a lock holds (it has no
//     acknowledged state to read them from; the lock may well hold some,
//     which exposure cannot show with or without the row).
//
// So the unacknowledged-change test applies only to a door whose lock
// acknowledged a state: a door with no DOOR OS lock (not yet installed, a
// Z-Wave lock: neither is read by exposure, and a lock provisioned later
// starts from a snapshot) and a door whose lock acknowledged nothing
// (exposure reads every revocation there, and old ones expose nobody)
// lose their old rows by age alone; until session 13 they kept every row
// for ever. A door whose lock holds an older state and never
// syncs again keeps the rows of the changes it lacks: exposure shows them.
func (s *Store) PruneDoorRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	now := micros(s.Now().Add(-revocationMargin)) // the lifetime is counted back from here
	// past is true of a door_revocations row r that nothing reads any
	// more (joined with its door d and property p).
	const past = `r.at < ? AND r.at < ? - p.credential_lifetime_max_hours * 3600000000
		AND (NOT EXISTS (SELECT 1 FROM door_locks l WHERE l.door_id = r.door_id AND (l.acked_bundle <> '' OR l.acked_state <> ''))
			OR NOT EXISTS (SELECT 1 FROM door_changes c WHERE c.door_id = r.door_id AND c.at = r.at AND c.version > d.acked_version))`
	rows, err := s.query(ctx, `SELECT r.door_id, r.person_id, r.at FROM door_revocations r
		JOIN doors d ON d.id = r.door_id JOIN properties p ON p.id = d.property_id
		WHERE `+past+` LIMIT ?`, micros(before), now, limit)
	if err != nil {
		return 0, err
	}
	type rev struct {
		door, person string
		at           int64
	}
	var revs []rev
	for rows.Next() {
		var r rev
		if err := rows.Scan(&r.door, &r.person, &r.at); err != nil {
			rows.Close()
			return 0, err
		}
		revs = append(revs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	// One key per OR term (SQLite takes a row value IN only over a
	// subquery, and PostgreSQL types the parameters from the
	// comparisons); the conditions are checked again in the statement.
	return s.deleteInChunks(ctx, "prune_door_revocations", len(revs), pruneChunk/5, func(lo, hi int) (string, []any) {
		var args []any
		keys := make([]string, 0, hi-lo)
		for _, r := range revs[lo:hi] {
			keys = append(keys, "(door_id = ? AND person_id = ? AND at = ?)")
			args = append(args, r.door, r.person, r.at)
		}
		return `DELETE FROM door_revocations WHERE (` + strings.Join(keys, " OR ") + `)
			AND EXISTS (SELECT 1 FROM door_revocations r JOIN doors d ON d.id = r.door_id JOIN properties p ON p.id = d.property_id
				WHERE r.door_id = door_revocations.door_id AND r.person_id = door_revocations.person_id AND r.at = door_revocations.at AND ` + past + `)`,
			append(args, micros(before), now)
	})
}
