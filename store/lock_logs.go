package store

import "context"

// LogFrom tells a phone where to start fetching each lock's log: for every
// provisioned door the resident's active records can open, the first event
// the cloud lacks, and for every door it may courier (courierDoors). The
// phone never guesses (an offset back from the lock's
// newest event is what junk requests could push past an intrusion).
func (s *Store) LogFrom(ctx context.Context, r Resident) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.read(ctx, func(t *Tx) error {
		now := s.Now()
		for _, rp := range r.People {
			courier, err := t.courierDoors(ctx, rp, now, true)
			if err != nil {
				return err
			}
			if len(courier) > 0 {
				if err := t.logNexts(ctx, out, `SELECT door_id, log_next FROM door_locks WHERE door_id IN (`+placeholders(len(courier))+`)`, anySlice(courier)...); err != nil {
					return err
				}
			}
			if !rp.Status(now).HoldsAccess() {
				continue
			}
			if err := t.logNexts(ctx, out, `SELECT DISTINCT d.id, l.log_next FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id JOIN doors d ON d.id = kd.door_id
				JOIN door_locks l ON l.door_id = d.id WHERE g.person_id = ?`, rp.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// logNexts adds the (door id, log_next) rows of query to out.
func (t *Tx) logNexts(ctx context.Context, out map[string]int64, query string, args ...any) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var next int64
		if err := rows.Scan(&id, &next); err != nil {
			return err
		}
		out[id] = next
	}
	return rows.Err()
}
