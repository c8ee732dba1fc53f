-- One station at a time (the API's write path) and catalog exports.

-- name: get_station
SELECT s.*, ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE s.id = $1

-- name: lock_station
SELECT s.*, ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE s.id = $1
FOR UPDATE

-- name: insert_station
-- $1: the station's fields as a JSON object (every field, defaults applied), typed by
-- the stations row type; $2-$4 source, source id, original position; $5/$6 WGS84
-- lat/lng; $7-$9 the H3 cells.
INSERT INTO stations ({{fields}}, source, source_id, original_position, geom,
                      h3_r7, h3_r9, h3_r11)
SELECT {{fields f}}, $2, $3, $4, ST_SetSRID(ST_MakePoint($6, $5), 4326)::geography, $7, $8, $9
FROM jsonb_populate_record(NULL::stations, $1::jsonb) f
RETURNING id

-- name: update_station
-- Every field from the merged values ($2, as for insert_station) and the position; the
-- triggers bump the version and write history only when something really changed.
UPDATE stations s
SET {{set f}}, original_position = $3,
    geom = ST_SetSRID(ST_MakePoint($5, $4), 4326)::geography,
    h3_r7 = $6, h3_r9 = $7, h3_r11 = $8
FROM jsonb_populate_record(NULL::stations, $2::jsonb) f
WHERE s.id = $1

-- name: set_status
UPDATE stations SET status = $2 WHERE id = $1 RETURNING id

-- name: stations_near
-- Stations within $3 metres of a point (the near-duplicate check of single writes).
SELECT s.id, s.code, s.name, s.source, s.source_id,
       ST_Distance(s.geom, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography) AS metres
FROM stations s
WHERE ST_DWithin(s.geom, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography, $3)
  AND s.id IS DISTINCT FROM $4
ORDER BY metres

-- name: export_stations
-- Stations for an export, optionally of one source ($1) and inside a WGS84 box ($2-$5:
-- min lng, min lat, max lng, max lat), in id order.
SELECT s.id, s.code, s.source, s.source_id, {{fields s}},
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE ($1::text IS NULL OR s.source = $1)
  AND ($2::float8 IS NULL OR (ST_X(s.geom::geometry) BETWEEN $2 AND $4
                              AND ST_Y(s.geom::geometry) BETWEEN $3 AND $5))
ORDER BY s.id
