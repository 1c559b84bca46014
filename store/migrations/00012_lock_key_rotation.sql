-- Lock key rotation in the field: the new keys wait here until the lock
-- proves it holds them (an ack or an event batch signed with the new key).
-- Until then every bundle to the door carries them, signed and sealed with
-- the old ones. pending_symmetric_key is sealed like symmetric_key;
-- pending_seed is the new Ed25519 seed sealed by the keyring (AAD
-- store.LockRotationSeedAAD), kept only until the lock has it.

-- +goose Up
ALTER TABLE door_locks ADD COLUMN pending_public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE door_locks ADD COLUMN pending_symmetric_key TEXT NOT NULL DEFAULT '';
ALTER TABLE door_locks ADD COLUMN pending_seed TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE door_locks DROP COLUMN pending_seed;
ALTER TABLE door_locks DROP COLUMN pending_symmetric_key;
ALTER TABLE door_locks DROP COLUMN pending_public_key;
