-- Living definitions of the coverage analysis: its functions and triggers as a migrated
-- database has them today.
--
-- The numbered migrations in ../migrations/ are the schema's history and are never
-- edited. To change one of these definitions, edit it here and add a numbered migration
-- that carries the same CREATE OR REPLACE; tests/db/test_living_sql.py checks that a
-- migrated database equals these files. Every statement here can run again.

-- A token that changes with every statement that writes demand points, so analyses can
-- reuse the demand they loaded for an area until the data changes (demand_version).
CREATE OR REPLACE FUNCTION demand_points_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO demand_version (id, token, changed_at) VALUES (true, gen_random_uuid(), now())
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, changed_at = EXCLUDED.changed_at;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER demand_points_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON demand_points
    FOR EACH STATEMENT EXECUTE FUNCTION demand_points_changed();
