-- Usage metering: one row per Messages request, and each container's billed window.
CREATE TABLE usage_records (
    id                           INTEGER PRIMARY KEY,
    workspace_id                 TEXT    NOT NULL,
    message_id                   TEXT    NOT NULL,
    model                        TEXT    NOT NULL,
    input_tokens                 INTEGER NOT NULL DEFAULT 0,
    output_tokens                INTEGER NOT NULL DEFAULT 0,
    cache_creation_input_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_read_input_tokens      INTEGER NOT NULL DEFAULT 0,
    code_execution_requests      INTEGER NOT NULL DEFAULT 0,
    container_id                 TEXT    NOT NULL DEFAULT '',
    container_ms                 INTEGER NOT NULL DEFAULT 0,
    container_billed_ms          INTEGER NOT NULL DEFAULT 0,
    created_at                   TEXT    NOT NULL
);
CREATE INDEX usage_records_workspace_time ON usage_records (workspace_id, created_at);

-- container_billing holds the end of each container's billed window, so that requests
-- joining a running container session are not billed the 5-minute minimum again.
CREATE TABLE container_billing (
    container_id  TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    billed_until  TEXT NOT NULL
);
