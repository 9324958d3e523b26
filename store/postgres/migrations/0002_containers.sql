-- Sandbox containers and their files' records: SQLite's schema as of its migration 0010,
-- with PostgreSQL's native types. A row outlives its container when it expires (status
-- 'expired'), so that the ID keeps answering container_expired instead of not found.
-- node is the name of the node that hosts the container ('' on a single server).
CREATE TABLE containers (
    id                    text PRIMARY KEY,
    workspace_id          text        NOT NULL,
    name                  text        NOT NULL DEFAULT '',
    image                 text        NOT NULL DEFAULT '',
    status                text        NOT NULL,
    created_at            timestamptz NOT NULL,
    last_active_at        timestamptz NOT NULL,
    idle_expires_at       timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    -- Created for a Messages request that has not answered yet.
    provisional           boolean     NOT NULL DEFAULT false,
    -- Bytes; 0 is the server's limit.
    memory_limit          bigint      NOT NULL DEFAULT 0,
    -- Seconds after the last activity; 0 keeps the server's idle policy.
    expires_after_seconds bigint      NOT NULL DEFAULT 0,
    -- Allowed domains and domain secrets; NULL is no network.
    network_policy        jsonb,
    node                  text        NOT NULL DEFAULT ''
);

CREATE INDEX containers_workspace_created ON containers (workspace_id, created_at DESC, id DESC);
-- Every start reads the containers that have not expired.
CREATE INDEX containers_live ON containers (created_at) WHERE status <> 'expired';

-- A path of a container gets a durable id: the container's disk stays the source of
-- truth for what exists; source is 'user' for uploads, 'assistant' for files the code
-- wrote.
CREATE TABLE container_files (
    id           text PRIMARY KEY,
    workspace_id text        NOT NULL,
    container_id text        NOT NULL,
    path         text        NOT NULL,
    source       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (container_id, path)
);
