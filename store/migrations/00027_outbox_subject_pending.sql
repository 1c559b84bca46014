-- Door Sync at fleet scale (issue 14): a lock's acknowledgement completes
-- its door's pending door.state rows (store.Tx.completeDoorPushes), looked
-- up by subject. outbox_subject covers every row a door ever had, so each
-- ack read the whole delivered history of its door, one table page per
-- row: after 20 revocations at 1,000 doors, 20 % of the server's CPU
-- (docs/bench-fleet.md). This index holds only the rows still pending.

-- +goose Up
CREATE INDEX outbox_subject_pending ON outbox (subject_id, topic) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- +goose Down
DROP INDEX outbox_subject_pending;
