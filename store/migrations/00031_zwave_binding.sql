-- A Z-Wave lock's binding generation: BindZWaveLock adds one each time a
-- door is bound (again). The syncer reads it with the target and every
-- record of a sync (slots written, foreign slots read, the sync finished)
-- is refused once the lock was bound again meanwhile: a sync that began
-- before a re-binding would otherwise restore the old capacity, so the
-- new binding's slot scan never ran and an installer's code could be
-- overwritten (issue 14 notes, session 12).

-- +goose Up
ALTER TABLE zwave_locks ADD COLUMN binding BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE zwave_locks DROP COLUMN binding;
