-- One organisation per database, enforced by the database: the first-run
-- page and `dooros init` may race (two browsers submitting the install
-- page at once, on PostgreSQL under READ COMMITTED both would see no
-- organisation). Every row has singleton = 1 and the unique index lets
-- only one in; the loser's insert fails and Init answers a conflict.

-- +goose Up
ALTER TABLE organisations ADD COLUMN singleton INTEGER NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX organisations_singleton ON organisations (singleton);

-- +goose Down
DROP INDEX organisations_singleton;
ALTER TABLE organisations DROP COLUMN singleton;
