-- Search indexes a bulk import dropped and has not built again yet.
--
-- An import that adds many stations drops the catalog's search indexes for its insert.
-- It used to build them again before committing, keeping readers waiting for all of
-- it; now it records them here in its own transaction, commits, and builds them after
-- (in parallel sessions, or in the background): answers stay the same, only slower
-- until each index is back. A crash between the commit and the builds leaves the list
-- here, and `stations db up`, `stations db indexes` or the next bulk import build what
-- is left.
CREATE TABLE deferred_indexes (
    index_name  text PRIMARY KEY,
    definition  text NOT NULL CHECK (definition LIKE 'CREATE %INDEX %'),
    queued_at   timestamptz NOT NULL DEFAULT now()
);
