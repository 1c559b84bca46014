-- Invites on SQLite (issue 14): outbox_subject indexed every outbox row by
-- subject, door.state pushes included (one per door per transaction: an
-- invite on a key of three doors wrote three entries, on three leaf pages,
-- into an index nothing reads them through). Door pushes are looked up
-- through outbox_subject_pending (migration 00027) only; outbox_subject
-- now serves the delivery history of a person (store.OutboxForSubject:
-- welcome emails and the like) and leaves door pushes out.

-- +goose Up
DROP INDEX outbox_subject;
CREATE INDEX outbox_subject ON outbox (subject_id) WHERE topic <> 'door.state';

-- +goose Down
DROP INDEX outbox_subject;
CREATE INDEX outbox_subject ON outbox (subject_id);
