-- The latest archive of a container's disk in the object store (0: none), so that any
-- node can tell whether its local copy is current (SQLite's migration 0012).
ALTER TABLE containers ADD COLUMN disk_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE containers ADD COLUMN disk_checksum text NOT NULL DEFAULT '';
