-- Door Sync: provisioned locks, the bundles sealed for them, keycards and
-- private activity. Portable SQL (SQLite and PostgreSQL); bytes are base64
-- TEXT, times BIGINT Unix microseconds.

-- +goose Up
-- The lock provisioned for a door (lock id = door id). generation grows on
-- every re-provisioning: bundles and acks of an older generation no longer
-- count. acked_state is what the lock holds (JSON digests of its entries,
-- never secrets), so a delta is diff(acked_state, desired); '' means unknown
-- (the next bundle is a snapshot).
CREATE TABLE door_locks (
    door_id          TEXT PRIMARY KEY REFERENCES doors (id),
    generation       INTEGER NOT NULL,
    public_key       TEXT NOT NULL, -- base64 Ed25519 public key of the lock
    symmetric_key    TEXT NOT NULL, -- sealed by the keyring
    mqtt_secret_hash TEXT NOT NULL DEFAULT '', -- hex SHA-256 of the MQTT password
    provisioned_at   BIGINT NOT NULL,
    acked_state      TEXT NOT NULL DEFAULT '',
    acked_state_version BIGINT NOT NULL DEFAULT 0,
    need_snapshot    BOOLEAN NOT NULL DEFAULT FALSE,
    log_next         BIGINT NOT NULL DEFAULT 1,
    log_head         TEXT NOT NULL DEFAULT '', -- base64 chain hash after log_next-1
    status           TEXT NOT NULL DEFAULT '', -- last MQTT status: online | offline
    last_seen_at     BIGINT
);

-- Every bundle sealed for a lock, by the SHA-256 of its bytes: an ack names
-- the bundle it answers, and state is what the lock holds once it applied it.
CREATE TABLE door_bundles (
    digest     TEXT PRIMARY KEY, -- hex SHA-256 of sealed
    door_id    TEXT NOT NULL REFERENCES doors (id),
    generation INTEGER NOT NULL,
    base       BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    snapshot   BOOLEAN NOT NULL,
    sealed     TEXT NOT NULL, -- base64
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX door_bundles_door ON door_bundles (door_id, generation, version);

-- Keycards: one active card per person and per serial at a property.
CREATE TABLE keycards (
    id             TEXT PRIMARY KEY,
    property_id    TEXT NOT NULL REFERENCES properties (id),
    person_id      TEXT NOT NULL REFERENCES people (id),
    serial         TEXT NOT NULL,
    activated_at   BIGINT NOT NULL,
    activated_by   TEXT NOT NULL,
    deactivated_at BIGINT,
    deactivated_by TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX keycards_active_person ON keycards (person_id) WHERE deactivated_at IS NULL;
CREATE UNIQUE INDEX keycards_active_serial ON keycards (property_id, serial) WHERE deactivated_at IS NULL;

-- A resident's own entries at their own residence door: private to them,
-- never in the managers' Activity.
CREATE TABLE private_events (
    id          TEXT PRIMARY KEY,
    property_id TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    door_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX private_events_person ON private_events (person_id, at);

-- +goose Down
DROP TABLE private_events;
DROP TABLE keycards;
DROP TABLE door_bundles;
DROP TABLE door_locks;
