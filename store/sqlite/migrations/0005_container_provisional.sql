-- A container created for a Messages request is provisional until the request answers:
-- the client learns its ID only from the answer, so one whose request never answered
-- (the server died first) is reclaimed at the next start instead of living 30 days.
ALTER TABLE containers ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
