-- Agent Skills: SQLite's schema as of its migration 0010, with PostgreSQL's native types.
-- Custom skills of a workspace and their immutable versions; a version's files are one
-- zip archive in the skills blob store, under the version's id.
CREATE TABLE skills (
    id                text PRIMARY KEY,
    workspace_id      text        NOT NULL,
    display_name      text        NOT NULL,
    latest_version_id text        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX skills_by_workspace ON skills (workspace_id, created_at DESC, id DESC);

CREATE TABLE skill_versions (
    id           text PRIMARY KEY,
    skill_id     text        NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    workspace_id text        NOT NULL,
    name         text        NOT NULL,
    description  text        NOT NULL,
    directory    text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    archive_size bigint      NOT NULL,
    checksum     text        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX skill_versions_by_skill ON skill_versions (skill_id, created_at DESC, id DESC);
