-- Message Batches: SQLite's schema as of its migration 0010, with PostgreSQL's native
-- types. One row per batch, its request counts kept in the same transactions that move
-- its requests, and one row per request. A request's id orders the queue (first created,
-- first run); claimed_by and lease_until make a claim a lease that a restarted or another
-- node takes over once it runs out, and attempts, bumped by every claim, is the token a
-- finish must present, so that a result is written once.
CREATE TABLE message_batches (
    id                  text PRIMARY KEY,
    workspace_id        text        NOT NULL,
    processing_status   text        NOT NULL,
    processing          bigint      NOT NULL DEFAULT 0,
    succeeded           bigint      NOT NULL DEFAULT 0,
    errored             bigint      NOT NULL DEFAULT 0,
    canceled            bigint      NOT NULL DEFAULT 0,
    expired             bigint      NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    cancel_initiated_at timestamptz,
    archived_at         timestamptz
);
CREATE INDEX message_batches_workspace ON message_batches (workspace_id, created_at, id);
CREATE INDEX message_batches_ended ON message_batches (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX message_batches_open ON message_batches (expires_at) WHERE processing_status <> 'ended';

-- params and result are the JSON as sent and as answered, kept byte for byte.
-- not_before NULL is due at once; lease_until is set while running.
CREATE TABLE message_batch_requests (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id    text   NOT NULL REFERENCES message_batches (id) ON DELETE CASCADE,
    custom_id   text   NOT NULL,
    params      bytea  NOT NULL,
    state       text   NOT NULL DEFAULT 'pending',
    result      bytea,
    claimed_by  text   NOT NULL DEFAULT '',
    lease_until timestamptz,
    not_before  timestamptz,
    attempts    bigint NOT NULL DEFAULT 0,
    UNIQUE (batch_id, custom_id)
);
CREATE INDEX message_batch_requests_open ON message_batch_requests (id) WHERE state IN ('pending', 'running');
CREATE INDEX message_batch_requests_batch ON message_batch_requests (batch_id, state);
CREATE INDEX message_batch_requests_owner ON message_batch_requests (claimed_by) WHERE state = 'running';
