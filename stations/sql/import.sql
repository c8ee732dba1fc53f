-- The importer's writes: rows are COPYed into a temporary table, checked, then merged
-- into stations with set-based statements inside the import's one transaction.

-- name: lock_source
-- Two imports of the same source wait for each other instead of racing on its ids.
SELECT pg_advisory_xact_lock(7340010, hashtext($1))

-- name: drop_rows_table
DROP TABLE IF EXISTS pg_temp.import_rows

-- name: create_rows_table
-- The rows that passed the per-row checks, already in catalog form (WGS84, H3 cells,
-- original position as jsonb). row_no is the record number in the file.
CREATE TEMP TABLE import_rows (
    {{staging_columns}}
) ON COMMIT DROP

-- name: drop_rejected_rows
DELETE FROM import_rows WHERE row_no = ANY($1::integer[])

-- name: analyze_rows
-- Statistics for the joins on source_id (a temporary table has none); sampling the
-- other columns would cost more than it helps.
ANALYZE import_rows (source_id)

-- name: catalog_neighbours
-- Stations near the import (its box, widened by $6 degrees) that this import does not
-- itself write: candidates for near-duplicates. $1 is the import's source; stations
-- with ids above $7 are the ones a bulk import has just inserted (the pkey skips them).
SELECT s.id, s.code, s.source, s.source_id, s.name,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
LEFT JOIN import_rows r ON s.source = $1 AND r.source_id = s.source_id
WHERE s.geom && ST_MakeEnvelope($2::float8 - $6::float8, $3::float8 - $6::float8,
                                 $4::float8 + $6::float8, $5::float8 + $6::float8, 4326)::geography
  AND r.row_no IS NULL AND s.id <= $7

-- name: count_plan
-- How many rows are new and how many match a station of the same source that was in
-- the catalog before the import ($2: the largest id then; a bulk import has already
-- inserted its new stations, with larger ids).
SELECT count(*) FILTER (WHERE s.id IS NULL) AS new,
       count(*) FILTER (WHERE s.id IS NOT NULL) AS existing
FROM import_rows r
LEFT JOIN stations s ON s.source = $1 AND s.source_id = r.source_id AND s.id <= $2

-- name: insert_new_stations
-- Rows whose (source, source_id) is not in the catalog yet, in H3 order so the indexes
-- are filled where their pages already are. The ids are drawn here, after the sort (in
-- H3 order too), so that the codes can be given with them and the per-row BEFORE
-- INSERT trigger does not run (migration 0010).
INSERT INTO stations (id, code, {{fields}}, source, source_id, original_position,
                      geom, h3_r7, h3_r9, h3_r11)
SELECT r.id, station_code(r.id), {{fields r}}, $1, r.source_id, r.original_position,
       ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326)::geography, r.h3_r7, r.h3_r9, r.h3_r11
FROM (SELECT nextval('stations_id_seq') AS id, n.*
      FROM import_rows n
      WHERE NOT EXISTS (SELECT 1 FROM stations s
                        WHERE s.source = $1 AND s.source_id = n.source_id)
      ORDER BY n.h3_r11) r

-- name: source_ids
-- The source ids of the source's stations before a bulk import: its rows with these ids
-- are staged and compared, the others are new.
SELECT source_id FROM stations WHERE source = $1

-- name: id_block_start
-- Under the bulk path's exclusive lock no other session adds stations: every station
-- with an id above last_id is one this import writes, numbered from next_id on (past
-- the catalog's largest id and past every id the sequence has given out). The writer
-- named in their history, asked once (the trigger asks once per statement).
SELECT coalesce(max(s.id), 0) AS last_id,
       greatest(coalesce(max(s.id), 0),
                (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                 FROM stations_id_seq)) + 1 AS next_id,
       station_actor() AS actor,
       nullif(current_setting('stations.reason', true), '') AS reason
FROM stations s

-- name: id_block_end
-- The id sequence goes on after the last id a bulk import drew ($1).
SELECT setval('stations_id_seq', $1::bigint)

-- name: delete_new_stations
-- Stations a bulk import inserted from rows the whole-file checks then refused
-- (near-duplicates): bad rows never land. No 'delete' history: the trigger is paused.
DELETE FROM stations WHERE id = ANY($1::bigint[])

-- name: delete_new_history
-- ... and the 'create' history the import wrote for them.
DELETE FROM station_history WHERE station_id = ANY($1::bigint[]) AND action = 'create'

-- name: notify_new
-- The notice stations_history_insert sends for an insert: the in-process indexes of
-- every worker reload what a bulk import added ($1: up to 501 of its ids).
SELECT notify_stations_changed($1::bigint[])

-- name: pause_delete_history
ALTER TABLE stations DISABLE TRIGGER stations_history_delete

-- name: resume_delete_history
ALTER TABLE stations ENABLE TRIGGER stations_history_delete

-- name: count_source
SELECT count(*) FROM stations WHERE source = $1

-- name: drop_changes_table
DROP TABLE IF EXISTS pg_temp.import_changes

-- name: plan_updates
-- Existing stations of this source whose row says something different. $2 lists the
-- optional fields the import provides; the others keep their stored values. A position
-- that moved less than a centimetre is unchanged (conversions round-trip to well under
-- a millimetre, but floats differ in their last digits) and keeps its stored
-- original_position; so is a verified_at less than a millisecond off (GeoPackage).
-- $3: the largest station id before the import; $4 false: only the empty table (a
-- source's first load has nothing to compare).
CREATE TEMP TABLE import_changes ON COMMIT DROP AS
SELECT s.id, r.row_no, n.*,
       NOT ST_DWithin(s.geom, ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326)::geography,
                      0.01, false) AS moved,
       r.lat, r.lng, r.original_position, r.h3_r7, r.h3_r9, r.h3_r11
FROM import_rows r
JOIN stations s ON s.source = $1 AND s.source_id = r.source_id AND s.id <= $3
CROSS JOIN LATERAL (
    SELECT {{provided r s $2}}
) n
WHERE $4::boolean
  AND (NOT ST_DWithin(s.geom, ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326)::geography, 0.01, false)
       OR {{differs n s}})

-- name: count_changes
SELECT count(*) FROM import_changes

-- name: apply_updates
UPDATE stations s
SET {{set c}},
    geom = CASE WHEN c.moved THEN ST_SetSRID(ST_MakePoint(c.lng, c.lat), 4326)::geography
                ELSE s.geom END,
    original_position = CASE WHEN c.moved THEN c.original_position ELSE s.original_position END,
    h3_r7 = CASE WHEN c.moved THEN c.h3_r7 ELSE s.h3_r7 END,
    h3_r9 = CASE WHEN c.moved THEN c.h3_r9 ELSE s.h3_r9 END,
    h3_r11 = CASE WHEN c.moved THEN c.h3_r11 ELSE s.h3_r11 END
FROM import_changes c
WHERE s.id = c.id

-- name: raise_work_mem
-- insert_new_stations sorts its rows by H3 cell; let that sort stay in memory (a million
-- staged rows take about 400 MB: 256 MB sorted them on disk, 3 s slower). No JIT:
-- compiling the import's statements cost more than it saved.
SELECT set_config('work_mem', '1GB', true), set_config('jit', 'off', true)

-- name: pause_create_history
-- A bulk import COPYes its 'create' history rows itself (stations.importer.bulk): the
-- trigger would first copy every inserted row into its transition table, which took
-- longer than the insert's own work. Inside the import's transaction, under its lock.
ALTER TABLE stations DISABLE TRIGGER stations_history_insert

-- name: resume_create_history
ALTER TABLE stations ENABLE TRIGGER stations_history_insert

-- name: catalog_size
SELECT count(*) FROM stations

-- name: rebuilt_after_bulk_insert
-- What an import that adds many stations drops before its insert and builds again after
-- it, with the statements for both (names quoted by format): building over all rows at
-- once is several times faster than updating row by row.
-- - every index that backs no constraint: built again after the import commits
--   (deferred_indexes, migration 0013);
-- - every unique constraint that no foreign key relies on: codes and source ids do not
--   follow the H3 order of the insert, so each new row would be checked at a random
--   place in its index; adding the constraint back, before the commit, checks every row
--   just the same.
-- The primary key stays (foreign keys rely on it). Constraints come first.
SELECT 'add constraint ' || k.conname AS step, 'constraint' AS kind, k.conname::text AS name,
       format('ALTER TABLE stations DROP CONSTRAINT %I', k.conname) AS drop,
       format('ALTER TABLE stations ADD CONSTRAINT %I %s', k.conname,
              pg_get_constraintdef(k.oid)) AS build
FROM pg_constraint k
WHERE k.conrelid = 'stations'::regclass
  AND k.contype = 'u'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)
UNION ALL
SELECT format('build index %I.%I', n.nspname, c.relname), 'index', c.relname::text,
       format('DROP INDEX %I.%I', n.nspname, c.relname),
       pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = 'stations'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY kind, step

-- name: raise_maintenance_mem
-- Index builds sort in memory and use a parallel worker where the index type can.
SELECT set_config('maintenance_work_mem', '1GB', true),
       set_config('max_parallel_maintenance_workers', '2', true)

