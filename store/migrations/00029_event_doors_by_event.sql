-- Door Sync at fleet scale (issue 14): an event at many doors (a resident
-- revoked at 1,000 doors) writes one event_doors row per door. Its primary
-- key (event_id, door_id) keeps them together, but event_doors_door put
-- each in its door's own leaf: 1,097 of the 1,972 pages a revoke at 1,000
-- doors changed after 20 rounds (docs/bench-fleet.md, session 9), written
-- to the WAL and copied again by the checkpoint. Activity filtered by door
-- walks the property's events newest first anyway (events_property) and
-- now probes the primary key for each (store.ListActivity), which also
-- stops it reading a door's whole history to show one page.

-- +goose Up
DROP INDEX event_doors_door;

-- +goose Down
CREATE INDEX event_doors_door ON event_doors (door_id, event_id);
