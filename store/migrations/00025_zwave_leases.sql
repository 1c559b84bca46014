-- Z-Wave (issue 15): one syncer per gateway across `dooros serve`
-- instances, and the User Code slots a lock held before DOOR OS. Portable
-- SQL (SQLite and PostgreSQL); times BIGINT Unix microseconds.

-- +goose Up
-- The instance that drives a gateway (holder: its syncer's id) until
-- expires_at; it renews the lease while it runs, another instance takes
-- the gateway over once the lease has expired.
CREATE TABLE zwave_leases (
    gateway_id TEXT PRIMARY KEY REFERENCES zwave_gateways (id),
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Slots that held a code DOOR OS did not write when the lock's slots were
-- read (at binding): left alone, never counted as free.
CREATE TABLE zwave_foreign_slots (
    door_id TEXT NOT NULL REFERENCES doors (id),
    slot    INTEGER NOT NULL,
    PRIMARY KEY (door_id, slot)
);

-- +goose Down
DROP TABLE zwave_foreign_slots;
DROP TABLE zwave_leases;
