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
				rows, err := t.query(ctx, `SELECT door_id, log_next FROM door_locks WHERE door_id IN (`+placeholders(len(courier))+`)`, anySlice(courier)...)
				if err != nil {
					return err
				}
				for rows.Next() {
					var id string
					var next int64
					if err := rows.Scan(&id, &next); err != nil {
						rows.Close()
						return err
					}
					out[id] = next
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return err
				}
			}
			if !rp.Status(now).HoldsAccess() {
				continue
			}
			rows, err := t.query(ctx, `SELECT DISTINCT d.id, l.log_next FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id JOIN doors d ON d.id = kd.door_id
				JOIN door_locks l ON l.door_id = d.id WHERE g.person_id = ?`, rp.ID)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var next int64
				if err := rows.Scan(&id, &next); err != nil {
					rows.Close()
					return err
				}
				out[id] = next
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
