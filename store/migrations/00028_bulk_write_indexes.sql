-- Invites on SQLite (issue 14): every index entry an invite writes lands
-- on a leaf page its commit writes to the WAL (about 50 pages an invite).
-- Two indexes held entries nothing reads:
--
-- outbox_subject indexed every outbox row by subject, door.state pushes
-- included (one per door per transaction: an invite on a key of three
-- doors wrote three entries, on three leaf pages). Door pushes are looked
-- up through outbox_subject_pending (migration 00027) only; outbox_subject
-- now serves the delivery history of a person (store.OutboxForSubject:
-- welcome emails and the like) and leaves door pushes out.
--
-- people_invited_by indexed every person, the NULL invited_by of everyone
-- who is not a guest included; it is read only for a host's guests
-- (invited_by = ?, which implies IS NOT NULL, so the partial index serves
-- it, and the foreign key's check of a deleted host).

-- +goose Up
DROP INDEX outbox_subject;
CREATE INDEX outbox_subject ON outbox (subject_id) WHERE topic <> 'door.state';
DROP INDEX people_invited_by;
CREATE INDEX people_invited_by ON people (invited_by) WHERE invited_by IS NOT NULL;

-- +goose Down
DROP INDEX outbox_subject;
CREATE INDEX outbox_subject ON outbox (subject_id);
DROP INDEX people_invited_by;
CREATE INDEX people_invited_by ON people (invited_by);
