-- Chunked bundle transfer over BLE (docs/lock-protocol.md): a sealed bundle
-- larger than lockproto.ChunkThreshold is stored with the manifest the cloud
-- signed for it (base64 COSE_Sign1; empty for a small bundle, or one stored
-- before this migration, which phones deliver in one message).

-- +goose Up
ALTER TABLE door_bundles ADD COLUMN manifest TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE door_bundles DROP COLUMN manifest;
