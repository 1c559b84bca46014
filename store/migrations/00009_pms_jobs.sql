-- PMS sync runs become background jobs, claimed and resumed like CSV
-- imports (issue 12 items 3 and 4), and the lease statuses a property's
-- sync skips become a setting (item 8).

-- +goose Up

-- A run is queued by the request (Sync Now, roster upload, schedule,
-- watched folder) and applied by the job runner: worker_id/lease_until/
-- attempts claim it as import_jobs are claimed; total_ops is the number of
-- steps of its plan (pms_run_plans), next_op the number of steps committed,
-- moved in the same transaction as those steps.
ALTER TABLE pms_runs ADD COLUMN worker_id TEXT NOT NULL DEFAULT '';
ALTER TABLE pms_runs ADD COLUMN lease_until BIGINT;
ALTER TABLE pms_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pms_runs ADD COLUMN total_ops INTEGER NOT NULL DEFAULT -1; -- -1: not planned yet
ALTER TABLE pms_runs ADD COLUMN next_op INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pms_runs_pending ON pms_runs (property_id, started_at) WHERE status IN ('queued', 'running');
-- At most one queued run per property, also when two instances queue at
-- once (Sync Now on one, a roster on the other).
CREATE UNIQUE INDEX pms_runs_one_queued ON pms_runs (property_id) WHERE status = 'queued';

-- Runs of the request-bound sync that a client or a restart cut short
-- stayed "running" with zero counts; say what happened to them.
UPDATE pms_runs SET status = 'failed', error = 'interrupted: this sync ran inside an HTTP request that ended before it finished; run Sync Now again', finished_at = started_at
    WHERE status = 'running';

-- The plan computed when a run started (gzip+base64 of JSON), so a run
-- resumed after a restart applies the same steps; deleted when the run
-- ends. In its own table: every batch updates pms_runs, and SQLite
-- rewrites a whole row on update (megabytes for a 100,000-resident plan).
CREATE TABLE pms_run_plans (
    run_id TEXT PRIMARY KEY REFERENCES pms_runs (id),
    plan   TEXT NOT NULL
);

-- What each step of a run did (replaces the items JSON of pms_runs for new
-- runs, so a 100,000-resident run writes its items batch by batch).
CREATE TABLE pms_run_items (
    run_id      TEXT NOT NULL REFERENCES pms_runs (id),
    seq         INTEGER NOT NULL,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    person_id   TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
);

-- A CSV import's uploaded file, out of the import_jobs row that every
-- batch updates (SQLite rewrites a whole row on update: a 20 MB file per
-- batch). Deleted when the job ends.
CREATE TABLE import_contents (
    job_id  TEXT PRIMARY KEY REFERENCES import_jobs (id),
    content TEXT NOT NULL -- base64 of the file
);
INSERT INTO import_contents (job_id, content) SELECT id, content FROM import_jobs WHERE content <> '';
UPDATE import_jobs SET content = '';

-- Vendor status words whose records this property's sync skips, besides
-- the words every adapter knows are not residents (JSON array).
ALTER TABLE pms_settings ADD COLUMN skip_statuses TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE pms_settings DROP COLUMN skip_statuses;
UPDATE import_jobs SET content = COALESCE((SELECT c.content FROM import_contents c WHERE c.job_id = import_jobs.id), '');
DROP TABLE import_contents;
DROP TABLE pms_run_items;
DROP TABLE pms_run_plans;
DROP INDEX pms_runs_one_queued;
DROP INDEX pms_runs_pending;
ALTER TABLE pms_runs DROP COLUMN next_op;
ALTER TABLE pms_runs DROP COLUMN total_ops;
ALTER TABLE pms_runs DROP COLUMN attempts;
ALTER TABLE pms_runs DROP COLUMN lease_until;
ALTER TABLE pms_runs DROP COLUMN worker_id;
