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
INSERT INTO stations (name, name_en, kind, status, amenities, access, opening_hours, time_zone,
                      country_code, address, district, district_code, operator, contact,
                      source, source_id, original_position, attributes, verified_at,
                      geom, h3_r7, h3_r9, h3_r11)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        ST_SetSRID(ST_MakePoint($21, $20), 4326)::geography, $22, $23, $24)
RETURNING id

-- name: update_station
-- Every settable column from the merged values; the triggers bump the version and write
-- history only when something really changed.
UPDATE stations
SET name = $2, name_en = $3, kind = $4, status = $5, amenities = $6, access = $7,
    opening_hours = $8, time_zone = $9, country_code = $10, address = $11, district = $12,
    district_code = $13, operator = $14, contact = $15, attributes = $16, verified_at = $17,
    original_position = $18, geom = ST_SetSRID(ST_MakePoint($20, $19), 4326)::geography,
    h3_r7 = $21, h3_r9 = $22, h3_r11 = $23
WHERE id = $1

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
SELECT s.id, s.code, s.source, s.source_id, s.name, s.name_en, s.kind, s.status, s.amenities,
       s.access, s.opening_hours, s.time_zone, s.country_code, s.address, s.district,
       s.district_code, s.operator, s.contact, s.verified_at, s.attributes,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE ($1::text IS NULL OR s.source = $1)
  AND ($2::float8 IS NULL OR (ST_X(s.geom::geometry) BETWEEN $2 AND $4
                              AND ST_Y(s.geom::geometry) BETWEEN $3 AND $5))
ORDER BY s.id
