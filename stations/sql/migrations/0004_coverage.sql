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

-- A token that changes with every statement that writes demand points, so analyses
-- can reuse the demand they loaded for an area until the data changes. Readers take
-- the token in the same statement as the data, so a cached copy is never newer or
-- older than its token. A random token (not a counter) stays unique even after the
-- table is truncated and refilled.
CREATE TABLE demand_version (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    token      uuid NOT NULL DEFAULT gen_random_uuid(),
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO demand_version DEFAULT VALUES;

CREATE FUNCTION demand_points_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO demand_version (id, token, changed_at) VALUES (true, gen_random_uuid(), now())
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, changed_at = EXCLUDED.changed_at;
    RETURN NULL;
END $$;

CREATE TRIGGER demand_points_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON demand_points
    FOR EACH STATEMENT EXECUTE FUNCTION demand_points_changed();
