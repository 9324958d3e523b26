-- Custom images: each container records the image it runs ('' is the built-in one),
-- and a workspace may name the image its new containers get.
ALTER TABLE containers ADD COLUMN image TEXT NOT NULL DEFAULT '';

CREATE TABLE workspace_images (
    workspace_id TEXT PRIMARY KEY,
    image        TEXT NOT NULL
);
