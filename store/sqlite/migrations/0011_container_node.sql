-- The node that hosts a container: its disk and its processes live there. '' on a
-- single machine; in a cluster the name of the codebox node that created (or adopted)
-- it, so that each node reconciles, sweeps and evicts only its own containers.
ALTER TABLE containers ADD COLUMN node TEXT NOT NULL DEFAULT '';
