-- Sandbox containers. A row outlives its container when it expires (status 'expired'),
-- so that the ID keeps answering container_expired instead of not found.
CREATE TABLE containers (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_active_at  TEXT NOT NULL,
    idle_expires_at TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

CREATE INDEX containers_workspace_created ON containers (workspace_id, created_at DESC, id DESC);
CREATE INDEX containers_status ON containers (status);
