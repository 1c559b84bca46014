-- Lock event logs received out of order, and secure keycards.
-- Portable SQL (SQLite and PostgreSQL).

-- +goose Up
-- Lock events the cloud holds beyond its contiguous log position
-- (door_locks.log_next): a batch a phone delivered before the one it
-- follows. Each row is one stored event with its chain hash, so later
-- batches skip what is already in Activity and must chain with it. Rows
-- below log_next - 1 are pruned as the position advances.
CREATE TABLE lock_log_events (
    door_id TEXT NOT NULL REFERENCES doors (id),
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL, -- base64 chain hash after this event
    PRIMARY KEY (door_id, seq)
);

-- A secure card holds a key diversified from its property's card master key
-- and must answer the lock's challenge; others are serial-only (cloneable).
ALTER TABLE keycards ADD COLUMN secure BOOLEAN NOT NULL DEFAULT FALSE;

-- Each property's card master key, sealed by the keyring.
CREATE TABLE property_card_keys (
    property_id TEXT PRIMARY KEY REFERENCES properties (id),
    sealed_key  TEXT NOT NULL
);

-- +goose Down
DROP TABLE property_card_keys;
ALTER TABLE keycards DROP COLUMN secure;
DROP TABLE lock_log_events;
