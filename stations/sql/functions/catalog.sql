-- Living definitions of the catalog: its functions, triggers and views as a migrated
-- database has them today.
--
-- The numbered migrations in ../migrations/ are the schema's history and are never
-- edited. To change one of these definitions, edit it here and add a numbered migration
-- that carries the same CREATE OR REPLACE; tests/db/test_living_sql.py checks that a
-- migrated database equals these files. Every statement here can run again.

-- Short public codes printed on posters: Crockford base32 (no I, L, O, U), six characters.
-- A fixed odd multiplier modulo 32^6 spreads consecutive ids over the code space, so
-- neighbouring stations do not get guessable neighbouring codes. One SQL expression, so
-- the planner inlines it where its argument is a column.
CREATE OR REPLACE FUNCTION station_code(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 25)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 20 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 15 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 10 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 5 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 & 31)::int + 1, 1)
$$;

-- Union branches own districts by district code prefix (GB/T 2260: province 34, city
-- 3406, district 340603); a branch's own code is that prefix, so the branches under a
-- branch are found the same way. The national root is NULL and owns everything, also
-- records without a district code or branch. Every query that a branch's administrator
-- or planner reaches filters with this one predicate.
CREATE OR REPLACE FUNCTION in_branch(p_code text, p_branch text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_branch IS NULL OR coalesce(starts_with(p_code, p_branch), false)
$$;

-- Codes default from the id (assigned before BEFORE triggers run) when a row brings none
-- (the importer numbers its new stations and gives their codes); version and updated_at
-- move only when something other than them changed.
CREATE OR REPLACE FUNCTION stations_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.code IS NULL THEN
            NEW.code := station_code(NEW.id);
        END IF;
    ELSE
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
        NEW.created_at := OLD.created_at;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER stations_before_insert BEFORE INSERT ON stations
    FOR EACH ROW WHEN (NEW.code IS NULL) EXECUTE FUNCTION stations_before_write();
CREATE OR REPLACE TRIGGER stations_before_update BEFORE UPDATE ON stations
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION stations_before_write();

-- History: every change to a station, from any path (API, importer, psql), is written to
-- station_history by the statement-level triggers below: who, why, when, and the changed
-- columns' old and new values. A create's values are not copied (that copy was most of a
-- bulk import's cost): station_changes derives them on read.

-- A station row as history sees it: geometry as lat/lng, bookkeeping columns left out.
CREATE OR REPLACE FUNCTION station_history_json(s stations) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT (to_jsonb(s) - 'geom' - 'version' - 'updated_at' - 'created_at'
                        - 'h3_r7' - 'h3_r9' - 'h3_r11')
           || jsonb_build_object('lat', ST_Y(s.geom::geometry), 'lng', ST_X(s.geom::geometry))
$$;

-- Writers name themselves with SET LOCAL stations.actor / stations.reason.
CREATE OR REPLACE FUNCTION station_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('stations.actor', true), ''), 'db:' || session_user)
$$;

-- In-process indexes (the nearest-station search) listen on 'stations_changed': the
-- payload lists the changed ids, or '*' when too many changed to list.
CREATE OR REPLACE FUNCTION notify_stations_changed(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    ELSIF cardinality(ids) > 500 THEN
        PERFORM pg_notify('stations_changed', '*');
    ELSE
        PERFORM pg_notify('stations_changed', array_to_string(ids, ','));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION stations_history_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    WITH written AS (
        INSERT INTO station_history (station_id, action, actor, reason)
        SELECT n.id, 'create', station_actor(), nullif(current_setting('stations.reason', true), '')
        FROM new_rows n
        RETURNING station_id
    )
    SELECT array_agg(station_id) INTO ids FROM (SELECT station_id FROM written LIMIT 501) w;
    PERFORM notify_stations_changed(coalesce(ids, '{}'));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION stations_history_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    WITH diffs AS (
        SELECT n.id,
               station_history_json(o) AS old_j,
               station_history_json(n) AS new_j
        FROM new_rows n JOIN old_rows o USING (id)
        WHERE o.version IS DISTINCT FROM n.version
    ), written AS (
        INSERT INTO station_history (station_id, action, actor, reason, old_values, new_values)
        SELECT d.id, 'update', station_actor(), nullif(current_setting('stations.reason', true), ''),
               (SELECT jsonb_object_agg(k, d.old_j -> k) FROM jsonb_object_keys(d.new_j) k
                 WHERE d.old_j -> k IS DISTINCT FROM d.new_j -> k),
               (SELECT jsonb_object_agg(k, d.new_j -> k) FROM jsonb_object_keys(d.new_j) k
                 WHERE d.old_j -> k IS DISTINCT FROM d.new_j -> k)
        FROM diffs d
        WHERE d.old_j IS DISTINCT FROM d.new_j
        RETURNING station_id
    )
    SELECT array_agg(station_id) INTO ids FROM (SELECT station_id FROM written LIMIT 501) w;
    PERFORM notify_stations_changed(coalesce(ids, '{}'));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION stations_history_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    WITH written AS (
        INSERT INTO station_history (station_id, action, actor, reason, old_values)
        SELECT o.id, 'delete', station_actor(), nullif(current_setting('stations.reason', true), ''),
               station_history_json(o)
        FROM old_rows o
        RETURNING station_id
    )
    SELECT array_agg(station_id) INTO ids FROM (SELECT station_id FROM written LIMIT 501) w;
    PERFORM notify_stations_changed(coalesce(ids, '{}'));
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER stations_history_insert AFTER INSERT ON stations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stations_history_insert();
CREATE OR REPLACE TRIGGER stations_history_update AFTER UPDATE ON stations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stations_history_update();
CREATE OR REPLACE TRIGGER stations_history_delete AFTER DELETE ON stations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stations_history_delete();

-- The values a station was created with, from its history row of the create ($2): the
-- station as it is now (or as its 'delete' row left it) with the later updates' old
-- values laid back over it. Creates recorded before migration 0007 keep their copy.
CREATE OR REPLACE FUNCTION station_first_values(station bigint, created bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    ended bigint;
    j jsonb;
    old jsonb;
BEGIN
    -- The station's life that began at this create ends at its next delete, if any.
    SELECT min(id) INTO ended FROM station_history
    WHERE station_id = station AND action = 'delete' AND id > created;
    IF ended IS NULL THEN
        SELECT station_history_json(s) INTO j FROM stations s WHERE s.id = station;
    ELSE
        SELECT old_values INTO j FROM station_history WHERE id = ended;
    END IF;
    FOR old IN
        SELECT old_values FROM station_history
        WHERE station_id = station AND action = 'update'
          AND id > created AND id < coalesce(ended, 9223372036854775807)
        ORDER BY id DESC
    LOOP
        j := j || old;
    END LOOP;
    RETURN j;
END $$;

-- station_history with every create's values filled in: what readers use.
CREATE OR REPLACE VIEW station_changes AS
SELECT h.id, h.station_id, h.action, h.actor, h.reason, h.changed_at, h.old_values,
       CASE WHEN h.action = 'create' AND h.new_values IS NULL
            THEN station_first_values(h.station_id, h.id)
            ELSE h.new_values END AS new_values
FROM station_history h;
