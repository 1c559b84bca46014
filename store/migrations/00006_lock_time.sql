-- Lock protocol v2, time and revocation (issue 10). Portable SQL.

-- +goose Up
-- The longest phone-credential lifetime the property ever issued: locks keep
-- a revocation that long after it takes effect, and snapshots leave out only
-- revocations older than that, because lowering the lifetime does not
-- shorten credentials already on phones. Existing properties' history is
-- unknown: they start at the longest lifetime the product allows (168 h).
ALTER TABLE properties ADD COLUMN credential_lifetime_max_hours INTEGER NOT NULL DEFAULT 168;
-- time_epoch numbers the cloud's corrections of its signed time (bundles,
-- time tokens): a higher epoch lets a lock undo a bad forward time.
ALTER TABLE properties ADD COLUMN time_epoch BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE properties DROP COLUMN time_epoch;
ALTER TABLE properties DROP COLUMN credential_lifetime_max_hours;
