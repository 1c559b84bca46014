-- Residents and guests: property signing keys, day-code secrets, app login
-- codes, resident tokens, enrolled devices, issued phone credentials and
-- computed guest codes. Portable SQL (SQLite and PostgreSQL); secrets are
-- sealed by the keyring (XChaCha20-Poly1305 under the master key) and kept
-- as base64 TEXT.

-- +goose Up
CREATE TABLE property_keys (
    property_id TEXT PRIMARY KEY REFERENCES properties (id),
    public_key  TEXT NOT NULL, -- base64 Ed25519 public key
    private_key TEXT NOT NULL, -- sealed Ed25519 seed
    created_at  BIGINT NOT NULL
);

-- A key's secret for guest codes the locks compute (DESIGN.md §4.6).
-- generation grows on every rotation (a code guest revoked before their day).
CREATE TABLE key_day_secrets (
    key_id     TEXT PRIMARY KEY REFERENCES access_keys (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL, -- sealed 32 random bytes
    generation INTEGER NOT NULL,
    slots      INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

-- One pending login code per email; a new code replaces the old one.
-- sends/window_start rate-limit how many codes an email gets.
CREATE TABLE resident_login_codes (
    email        TEXT PRIMARY KEY,
    code_hash    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    used_at      BIGINT,
    window_start BIGINT NOT NULL,
    sends        INTEGER NOT NULL
);

-- A phone enrolled for a person record (one row per property the login
-- covers, so a manager removing it at one property leaves the others).
CREATE TABLE resident_devices (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES people (id),
    property_id  TEXT NOT NULL REFERENCES properties (id),
    public_key   TEXT NOT NULL, -- base64 Ed25519 public key
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT,
    UNIQUE (person_id, public_key)
);
CREATE INDEX resident_devices_key ON resident_devices (public_key);

-- Resident (app) tokens: a separate kind from manager api_tokens.
CREATE TABLE resident_tokens (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX resident_tokens_email ON resident_tokens (email);

-- Every phone credential issued, so revocations and exposure reports can
-- name serials and know until when a credential may still open a door.
CREATE TABLE issued_credentials (
    serial      BIGINT PRIMARY KEY,
    person_id   TEXT NOT NULL,
    property_id TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    door_ids    TEXT NOT NULL -- JSON array
);
CREATE INDEX issued_credentials_person ON issued_credentials (person_id, not_after);

-- A doorcode guest: a guest person (people.invited_by) whose code the locks
-- compute from the key's day secret, the day and the slot.
CREATE TABLE guest_codes (
    person_id   TEXT PRIMARY KEY REFERENCES people (id),
    key_id      TEXT NOT NULL REFERENCES access_keys (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL, -- day | quarter_hour
    day         BIGINT NOT NULL,
    slot        INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    released_at BIGINT
);
CREATE UNIQUE INDEX guest_codes_slot ON guest_codes (key_id, kind, day, slot) WHERE released_at IS NULL;

-- +goose Down
DROP TABLE guest_codes;
DROP TABLE issued_credentials;
DROP TABLE resident_tokens;
DROP TABLE resident_devices;
DROP TABLE resident_login_codes;
DROP TABLE key_day_secrets;
DROP TABLE property_keys;
