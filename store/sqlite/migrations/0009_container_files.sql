-- OpenAI-shaped containers. A container may ask for its own memory limit (bytes; 0 is
-- the server's) and for an idle expiry (seconds after its last activity; 0 keeps the
-- server's policy of stopping idle containers and destroying them at the hard expiry).
ALTER TABLE containers ADD COLUMN memory_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE containers ADD COLUMN expires_after_seconds INTEGER NOT NULL DEFAULT 0;

-- Container files get durable ids: the container's disk stays the source of truth for
-- what exists, and a row gives a path its id, its source ('user' for uploads,
-- 'assistant' for files the code wrote) and the time it was first seen.
CREATE TABLE container_files (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    path         TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (container_id, path)
);
