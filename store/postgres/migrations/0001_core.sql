-- Workspaces, API keys, files (the Files API), usage metering and workspace images:
-- SQLite's schema as of its migration 0010, with PostgreSQL's native types.

CREATE TABLE workspaces (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL
);

-- Keys are stored as the SHA-256 of the secret; prefix is a short, non-secret hint for listings.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id),
    hash         text NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);

-- Each row's bytes live in the blob store under the file's id. A row exists only once
-- its blob is durable. checksum names its algorithm ("crc32c:1a2b3c4d").
CREATE TABLE files (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL,
    filename     text NOT NULL,
    mime_type    text NOT NULL,
    size_bytes   bigint NOT NULL,
    checksum     text NOT NULL,
    downloadable boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz
);

-- Listing is newest first with (created_at, id) as the stable key.
CREATE INDEX files_by_workspace ON files (workspace_id, created_at DESC, id DESC);
CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
-- The quota check sums a workspace's sizes at every upload; this makes it an index-only scan.
CREATE INDEX files_usage ON files (workspace_id, size_bytes);

-- Usage metering: one row per Messages request, and each container's billed window.
CREATE TABLE usage_records (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id                text   NOT NULL,
    message_id                  text   NOT NULL,
    model                       text   NOT NULL,
    input_tokens                bigint NOT NULL DEFAULT 0,
    output_tokens               bigint NOT NULL DEFAULT 0,
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
    code_execution_requests     bigint NOT NULL DEFAULT 0,
    container_id                text   NOT NULL DEFAULT '',
    container_ms                bigint NOT NULL DEFAULT 0,
    container_billed_ms         bigint NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL
);
CREATE INDEX usage_records_workspace_time ON usage_records (workspace_id, created_at);

-- container_billing holds the end of each container's billed window, so that requests
-- joining a running container session are not billed the 5-minute minimum again.
CREATE TABLE container_billing (
    container_id text PRIMARY KEY,
    workspace_id text NOT NULL,
    billed_until timestamptz NOT NULL
);

-- The image a workspace's new containers get.
CREATE TABLE workspace_images (
    workspace_id text PRIMARY KEY,
    image        text NOT NULL
);
