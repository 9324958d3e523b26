-- Message Batches: one row per batch, with its request counts kept in the same
-- transactions that move its requests, and one row per request. A request's id orders
-- the queue (first created, first run); claimed_by and lease_until make the claim a
-- lease that a restarted or another server can take over once it runs out, and
-- attempts, bumped by every claim, is the token a finish must present, so a result is
-- written once.
CREATE TABLE message_batches (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT    NOT NULL,
    processing_status    TEXT    NOT NULL,
    processing           INTEGER NOT NULL DEFAULT 0,
    succeeded            INTEGER NOT NULL DEFAULT 0,
    errored              INTEGER NOT NULL DEFAULT 0,
    canceled             INTEGER NOT NULL DEFAULT 0,
    expired              INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT    NOT NULL,
    expires_at           TEXT    NOT NULL,
    ended_at             TEXT,
    cancel_initiated_at  TEXT,
    archived_at          TEXT
);
CREATE INDEX message_batches_workspace ON message_batches (workspace_id, created_at);
CREATE INDEX message_batches_ended ON message_batches (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE message_batch_requests (
    id           INTEGER PRIMARY KEY,
    batch_id     TEXT    NOT NULL REFERENCES message_batches (id) ON DELETE CASCADE,
    custom_id    TEXT    NOT NULL,
    params       BLOB    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    result       BLOB,
    claimed_by   TEXT    NOT NULL DEFAULT '',
    lease_until  TEXT    NOT NULL DEFAULT '',
    not_before   TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (batch_id, custom_id)
);
CREATE INDEX message_batch_requests_open ON message_batch_requests (id) WHERE state IN ('pending', 'running');
CREATE INDEX message_batch_requests_batch ON message_batch_requests (batch_id, state);
