-- Door Sync at fleet scale (issue 14): an ack copied the acknowledged
-- bundle's state, a few kilobytes holding every entry and revocation of the
-- door, into the lock's row: one page (or more) of door_locks written per
-- ack, 1,000 of the 3,223 pages a sync of 1,000 locks changed
-- (docs/bench-fleet.md, session 9). The row now names the bundle; the
-- state is read through it (store.ackedStateJoin). acked_state keeps the
-- state of locks acknowledged before this migration until their next ack.

-- +goose Up
ALTER TABLE door_locks ADD COLUMN acked_bundle TEXT NOT NULL DEFAULT '';

-- +goose Down
UPDATE door_locks SET acked_state = COALESCE((SELECT state FROM door_bundles b WHERE b.digest = door_locks.acked_bundle), acked_state) WHERE acked_bundle <> '';
ALTER TABLE door_locks DROP COLUMN acked_bundle;
