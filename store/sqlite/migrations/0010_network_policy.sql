-- A container's network policy as JSON (allowed domains and domain secrets); '' is
-- no network. The proxy needs the secrets' values whenever the container starts.
ALTER TABLE containers ADD COLUMN network_policy TEXT NOT NULL DEFAULT '';
