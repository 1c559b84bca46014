-- Remote unlock (issue 16): the counter of the last remote unlock command
-- the cloud signed for a lock. Each command carries the next value; the
-- lock refuses any counter at or below the highest it took (a replay).

-- +goose Up
ALTER TABLE door_locks ADD COLUMN remote_counter BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE door_locks DROP COLUMN remote_counter;
