-- People search by phone (prefix) and by unit: each alternative of the
-- search condition is served by its own partial index, as the name and email
-- ones are (store.searchTerms).

-- +goose Up
CREATE INDEX people_phone ON people (property_id, phone) WHERE deleted_at IS NULL;
CREATE INDEX people_unit ON people (property_id, unit_id) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX people_unit;
DROP INDEX people_phone;
