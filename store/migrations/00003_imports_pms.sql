-- Bulk CSV import jobs and PMS User Sync. Portable SQL (SQLite and
-- PostgreSQL): times are BIGINT Unix microseconds, uploaded files are base64
-- TEXT, JSON documents are TEXT.

-- +goose Up

-- One CSV upload. A worker claims a queued job (or a running one whose lease
-- ran out: its worker died) and processes rows in batches; each batch commits
-- the rows' changes together with their results and next_row, so a job
-- resumed after a restart starts after the last committed row and never
-- applies a row twice.
CREATE TABLE import_jobs (
    id              TEXT PRIMARY KEY,
    property_id     TEXT NOT NULL REFERENCES properties (id),
    actor_id        TEXT NOT NULL,
    actor_name      TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    content         TEXT NOT NULL, -- base64 of the file; emptied when the job ends
    dry_run         BOOLEAN NOT NULL,
    status          TEXT NOT NULL, -- queued | running | done | failed
    total_rows      INTEGER NOT NULL,
    processed_rows  INTEGER NOT NULL DEFAULT 0,
    next_row        INTEGER NOT NULL DEFAULT 1, -- last spreadsheet row done (1 = header)
    created_count   INTEGER NOT NULL DEFAULT 0,
    changed_count   INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    refused_count   INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    worker_id       TEXT NOT NULL DEFAULT '',
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT
);
CREATE INDEX import_jobs_property ON import_jobs (property_id, created_at, id);
CREATE INDEX import_jobs_pending ON import_jobs (created_at) WHERE status IN ('queued', 'running');

-- Row results; a refused row has one line per reason (seq).
CREATE TABLE import_rows (
    job_id      TEXT NOT NULL REFERENCES import_jobs (id),
    row_num     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    email       TEXT NOT NULL,
    outcome     TEXT NOT NULL, -- created | changed | unchanged | refused
    column_name TEXT NOT NULL,
    reason      TEXT NOT NULL,
    person_id   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, row_num, seq)
);

-- PMS User Sync settings per property. worker_id/lease_until claim a run so
-- several `dooros serve` instances never sync one property at once.
CREATE TABLE pms_settings (
    property_id      TEXT PRIMARY KEY REFERENCES properties (id),
    provider         TEXT NOT NULL,
    access           TEXT NOT NULL, -- approval_required | automatic
    key_ids          TEXT NOT NULL, -- JSON array
    may_share        BOOLEAN NOT NULL,
    unit_map         TEXT NOT NULL, -- JSON object: PMS unit → DOOR OS unit id
    interval_minutes INTEGER NOT NULL,
    next_run_at      BIGINT NOT NULL,
    worker_id        TEXT NOT NULL DEFAULT '',
    lease_until      BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX pms_settings_due ON pms_settings (next_run_at);

-- Rosters as received (the file, so a later Sync Now re-reads the latest).
CREATE TABLE pms_rosters (
    id          TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties (id),
    provider    TEXT NOT NULL,
    source      TEXT NOT NULL, -- api | folder:NAME
    content     TEXT NOT NULL, -- base64 of the vendor export
    residents   INTEGER NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX pms_rosters_latest ON pms_rosters (property_id, received_at);

-- A person linked to a PMS resident.
CREATE TABLE pms_links (
    property_id TEXT NOT NULL REFERENCES properties (id),
    provider    TEXT NOT NULL,
    person_id   TEXT NOT NULL REFERENCES people (id),
    external_id TEXT NOT NULL,
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (property_id, provider, person_id),
    UNIQUE (property_id, provider, external_id)
);

-- Every sync: what changed, what waits for review, what failed.
CREATE TABLE pms_runs (
    id          TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties (id),
    provider    TEXT NOT NULL,
    roster_id   TEXT NOT NULL,
    cause       TEXT NOT NULL, -- roster | sync_now | schedule | folder
    status      TEXT NOT NULL, -- running | done | failed
    summary     TEXT NOT NULL, -- JSON counts
    items       TEXT NOT NULL, -- JSON list of what happened
    error       TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX pms_runs_property ON pms_runs (property_id, started_at, id);

-- The review queue. One open item per (property, dedupe_key): a later run
-- refreshes it instead of adding another.
CREATE TABLE pms_reviews (
    id          TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties (id),
    provider    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    person_id   TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    proposal    TEXT NOT NULL, -- JSON: the change approving applies
    dedupe_key  TEXT NOT NULL,
    status      TEXT NOT NULL, -- open | approved | rejected
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX pms_reviews_open ON pms_reviews (property_id, dedupe_key) WHERE status = 'open';
CREATE INDEX pms_reviews_property ON pms_reviews (property_id, status, created_at, id);

-- +goose Down
DROP TABLE pms_reviews;
DROP TABLE pms_runs;
DROP TABLE pms_links;
DROP TABLE pms_rosters;
DROP TABLE pms_settings;
DROP TABLE import_rows;
DROP TABLE import_jobs;
