-- Property signing-key rotation (issue 10, cloud side). The next key waits
-- beside the current one, sealed like it (keyring AAD
-- property_keys/<property>/<public key>), until every provisioned lock of
-- the property applied a bundle carrying it; then it becomes the current
-- key and the old one is dropped (only its public key is kept, for the
-- record). rotation_started_at is the EffectiveAt the bundles carry:
-- credentials the old key signed before it stay valid until they expire.
--
-- door_locks.property_rotation_version is the first door version whose
-- bundle carries the rotation (0: this lock is not being rotated);
-- property_key_next says the lock trusts the property's next key (it
-- acknowledged such a version, or was provisioned during the rotation).

-- +goose Up
ALTER TABLE property_keys ADD COLUMN next_public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE property_keys ADD COLUMN next_private_key TEXT NOT NULL DEFAULT '';
ALTER TABLE property_keys ADD COLUMN rotation_started_at BIGINT;
ALTER TABLE property_keys ADD COLUMN previous_public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE property_keys ADD COLUMN rotated_at BIGINT;
ALTER TABLE door_locks ADD COLUMN property_rotation_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE door_locks ADD COLUMN property_key_next BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE door_locks DROP COLUMN property_key_next;
ALTER TABLE door_locks DROP COLUMN property_rotation_version;
ALTER TABLE property_keys DROP COLUMN rotated_at;
ALTER TABLE property_keys DROP COLUMN previous_public_key;
ALTER TABLE property_keys DROP COLUMN rotation_started_at;
ALTER TABLE property_keys DROP COLUMN next_private_key;
ALTER TABLE property_keys DROP COLUMN next_public_key;
