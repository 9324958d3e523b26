-- Agent Skills: custom skills of a workspace and their immutable versions. A version's
-- files are one zip archive in the skills blobs directory, under the version's id.

CREATE TABLE skills (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    latest_version_id TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE INDEX skills_by_workspace ON skills (workspace_id, created_at DESC, id DESC);

CREATE TABLE skill_versions (
    id           TEXT PRIMARY KEY,
    skill_id     TEXT NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    directory    TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    archive_size INTEGER NOT NULL,
    checksum     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE INDEX skill_versions_by_skill ON skill_versions (skill_id, created_at DESC, id DESC);
