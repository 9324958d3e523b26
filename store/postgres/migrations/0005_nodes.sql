-- The nodes of a cluster: each codebox node upserts its row at every heartbeat. A node
-- whose heartbeat_at is older than the cluster's node timeout is dead; a node that
-- shuts down cleanly sets it to the epoch so that nobody forwards to it meanwhile.
CREATE TABLE nodes (
    name         text PRIMARY KEY,
    url          text NOT NULL,
    capacity     integer NOT NULL,
    running      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
