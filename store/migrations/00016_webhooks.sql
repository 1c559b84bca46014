-- Signed webhooks (issue 17): endpoints per organisation or property, and
-- one delivery row per (endpoint, Activity entry), queued in the same
-- transaction as the entry. Portable SQL; times BIGINT Unix microseconds.

-- +goose Up
-- secret and previous_secret are sealed by the keyring (AAD
-- store.WebhookSecretAAD); previous_secret signs too until
-- previous_expires_at (a rolled secret's grace period).
CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL,
    property_id         TEXT NOT NULL DEFAULT '',
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    kinds               TEXT NOT NULL,
    status              TEXT NOT NULL,
    disabled_reason     TEXT NOT NULL DEFAULT '',
    secret              TEXT NOT NULL,
    previous_secret     TEXT NOT NULL DEFAULT '',
    previous_expires_at BIGINT,
    created_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    secret_rolled_at    BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, status);
CREATE INDEX webhook_endpoints_property ON webhook_endpoints (property_id, status);

-- One delivery of one event to one endpoint (a resend is a new row with
-- resend_of). (seq_at, seq_n) orders deliveries: a delivery waits while an
-- earlier one to the same endpoint about the same person or door is still
-- pending. state: pending, delivered, failed, skipped.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    property_id      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    person_id        TEXT NOT NULL DEFAULT '',
    door_id          TEXT NOT NULL DEFAULT '',
    seq_at           BIGINT NOT NULL,
    seq_n            INTEGER NOT NULL,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    available_at     BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  BIGINT,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    last_response    TEXT NOT NULL DEFAULT '',
    last_duration_ms INTEGER NOT NULL DEFAULT 0,
    delivered_at     BIGINT,
    resend_of        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, available_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, state, seq_at, seq_n);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_person ON webhook_deliveries (person_id, seq_at);
CREATE INDEX webhook_deliveries_door ON webhook_deliveries (door_id, seq_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
