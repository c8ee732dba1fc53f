-- Coverage analysis: where the demand a planner's map shows came from.
-- Every demand import (or dry run that was kept) leaves one row: which source, who
-- ran it, in which coordinate system the file was, and what happened to its rows.

CREATE TABLE demand_imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    actor       text NOT NULL CHECK (btrim(actor) <> '' AND length(actor) <= 200),
    crs         text NOT NULL CHECK (length(crs) <= 32),
    rows_read   integer NOT NULL CHECK (rows_read >= 0),
    inserted    integer NOT NULL CHECK (inserted >= 0),
    updated     integer NOT NULL CHECK (updated >= 0),
    unchanged   integer NOT NULL CHECK (unchanged >= 0),
    rejected    integer NOT NULL CHECK (rejected >= 0),
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX demand_imports_source ON demand_imports (source, imported_at DESC);
