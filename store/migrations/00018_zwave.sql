-- Z-Wave locks reached through a Z-Wave JS server (issue 15). Portable SQL
-- (SQLite and PostgreSQL); times BIGINT Unix microseconds.

-- +goose Up
-- A Z-Wave JS server (its WebSocket API) registered for a property. token
-- is sealed by the keyring ('' when the gateway needs none).
CREATE TABLE zwave_gateways (
    id          TEXT PRIMARY KEY,
    property_id TEXT NOT NULL REFERENCES properties (id),
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    token       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX zwave_gateways_property ON zwave_gateways (property_id);

-- A door whose lock is a Z-Wave node. capacity is the node's User Code
-- slot count as it reported it (0: not read yet); over_full how many codes
-- that should be at the lock did not fit at the last sync; status is the
-- node's as the gateway last said (alive, asleep, dead, unreachable when
-- the gateway itself is down); battery in percent (NULL: not reported).
CREATE TABLE zwave_locks (
    door_id      TEXT PRIMARY KEY REFERENCES doors (id),
    gateway_id   TEXT NOT NULL REFERENCES zwave_gateways (id),
    node_id      INTEGER NOT NULL,
    capacity     INTEGER NOT NULL DEFAULT 0,
    over_full    INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT '',
    battery      INTEGER,
    battery_at   BIGINT,
    last_seen_at BIGINT,
    bound_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX zwave_locks_node ON zwave_locks (gateway_id, node_id);

-- What each User Code slot of a Z-Wave lock holds, as the node confirmed
-- it: whose code (digest of person and code, never the code itself).
CREATE TABLE zwave_slots (
    door_id   TEXT NOT NULL REFERENCES doors (id),
    slot      INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    digest    TEXT NOT NULL,
    PRIMARY KEY (door_id, slot)
);

-- +goose Down
DROP TABLE zwave_slots;
DROP TABLE zwave_locks;
DROP TABLE zwave_gateways;
