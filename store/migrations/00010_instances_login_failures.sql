-- Several `dooros serve` instances on one database: failed logins counted
-- where every instance sees them, and a heartbeat row per running
-- instance (which broker it runs). Portable SQL; times BIGINT Unix
-- microseconds.

-- +goose Up
-- One row per failed manager login and bucket ("account:EMAIL",
-- "address:IP"); rows older than the longest window are pruned.
CREATE TABLE login_failures (
    bucket TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX login_failures_bucket_at ON login_failures (bucket, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- Running `dooros serve` instances. A row whose heartbeat is older than
-- store.InstanceLiveFor is a stopped (or crashed) instance.
CREATE TABLE server_instances (
    id              TEXT PRIMARY KEY,
    host            TEXT NOT NULL,
    addr            TEXT NOT NULL,
    embedded_broker BOOLEAN NOT NULL,
    started_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_instances;
DROP TABLE login_failures;
