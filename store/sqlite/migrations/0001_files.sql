-- Workspaces, API keys and files (the Files API).

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- Keys are stored as the SHA-256 of the secret; prefix is a short, non-secret hint for listings.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);

-- Each row's bytes live in the blobs directory under the file's id. A row exists only once
-- its blob is durable on disk.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    filename     TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    downloadable INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT
);

-- Listing is newest first with (created_at, id) as the stable key.
CREATE INDEX files_by_workspace ON files (workspace_id, created_at DESC, id DESC);
CREATE INDEX files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
-- The quota check sums a workspace's sizes at every upload; this makes it an index-only scan.
CREATE INDEX files_usage ON files (workspace_id, size_bytes);
