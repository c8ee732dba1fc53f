-- Vector tiles of the catalog (stations/tiles/build.py), built by PostGIS.
-- Every tile query takes: $1 zoom, $2 column (x), $3 row (y); $4, $5, $6 the opening-hours
-- triples (expression, time zone, country) open now, as parallel arrays; $7, $8 the
-- stations with water left today and how many bottles (the search index's live data,
-- which the claims keep current within seconds). A station is open now when it is
-- active and its triple is among those open now: the same rule as nearest's open_now.

-- name: stations_in_tile
-- How many stations tile ($1, $2, $3) would draw, counting no further than $4.
SELECT count(*)::integer FROM (
    SELECT 1 FROM stations s
    WHERE s.geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326)::geography
      AND s.status <> 'closed'
    LIMIT $4
) inside

-- name: station_tile
-- The stations of tile ($1, $2, $3), with what a map's popup shows, at most $9 of them
-- (stations_in_tile told the caller there are no more). Geometry in the tile's own
-- 4096 grid with a 64-unit buffer, so symbols at the edge are drawn whole.
WITH env AS (
    SELECT ST_TileEnvelope($1, $2, $3) AS tile,
           ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096), 4326) AS area
), open_now AS (
    SELECT * FROM unnest($4::text[], $5::text[], $6::text[]) AS o(hours, zone, country)
), water AS (
    SELECT * FROM unnest($7::bigint[], $8::integer[]) AS w(station_id, bottles)
), hits AS (
    SELECT s.id, s.code, s.name, s.name_en, s.kind, s.status,
           array_to_string(s.amenities, ',') AS amenities,
           s.status = 'active' AND EXISTS (
               SELECT 1 FROM open_now o
               WHERE o.hours = s.opening_hours AND o.zone = s.time_zone
                 AND o.country IS NOT DISTINCT FROM s.country_code) AS open_now,
           w.bottles AS water_left,
           ST_AsMVTGeom(ST_Transform(s.geom::geometry, 3857), env.tile, 4096, 64, true) AS geom
    FROM stations s
    CROSS JOIN env
    LEFT JOIN water w ON w.station_id = s.id
    WHERE s.geom && env.area::geography AND s.status <> 'closed'
    ORDER BY s.id
    LIMIT $9
)
SELECT ST_AsMVT(hits, 'stations', 4096, 'geom', 'id'), count(*)::integer FROM hits

-- name: dense_tile
-- A street tile too dense for its stations: one feature per res-11 H3 cell (the stored
-- column h3_r11) whose stations' centre lies in tile ($1, $2, $3). Every station of the
-- cell is counted, also those outside the tile, and a cell is drawn in exactly one tile
-- (its centre's), so counts never split or repeat at tile edges. The cells are found
-- through the stations in the tile with a margin $9 wide enough for a cell's stations,
-- then counted by h3_r11 and its index.
WITH env AS (
    SELECT ST_TileEnvelope($1, $2, $3) AS tile,
           ST_Transform(ST_TileEnvelope($1, $2, $3, margin => $9), 4326) AS area
), open_now AS (
    SELECT * FROM unnest($4::text[], $5::text[], $6::text[]) AS o(hours, zone, country)
), water AS (
    SELECT * FROM unnest($7::bigint[], $8::integer[]) AS w(station_id, bottles)
), cells AS (
    SELECT DISTINCT s.h3_r11 AS cell FROM stations s CROSS JOIN env
    WHERE s.geom && env.area::geography AND s.status <> 'closed'
), counted AS (
    SELECT s.h3_r11 AS cell,
           count(*)::integer AS stations,
           count(*) FILTER (WHERE s.kind = 'water_point')::integer AS water_points,
           count(*) FILTER (WHERE s.status = 'active' AND EXISTS (
               SELECT 1 FROM open_now o
               WHERE o.hours = s.opening_hours AND o.zone = s.time_zone
                 AND o.country IS NOT DISTINCT FROM s.country_code))::integer AS open_now,
           coalesce(sum(w.bottles), 0)::integer AS water_left,
           ST_Centroid(ST_Collect(s.geom::geometry)) AS centre
    FROM stations s
    LEFT JOIN water w ON w.station_id = s.id
    WHERE s.h3_r11 IN (SELECT cell FROM cells) AND s.status <> 'closed'
    GROUP BY s.h3_r11
), features AS (
    SELECT lower(to_hex(c.cell)) AS h3, 11 AS resolution, c.stations, c.water_points,
           c.open_now, c.water_left,
           ST_AsMVTGeom(ST_Transform(c.centre, 3857), env.tile, 4096, 0, true) AS geom
    FROM counted c CROSS JOIN env
)
SELECT ST_AsMVT(f, 'cells', 4096, 'geom'), count(*)::integer
FROM features f WHERE f.geom IS NOT NULL

-- name: cell_summary
-- The catalog by H3 cell of the stored column h3_r{{res}} and opening-hours triple, for
-- the national and city zooms: stations, water points, active stations and the sums of
-- their coordinates (a cell is drawn at the mean position of its stations). Read once
-- per catalog change (stations/tiles/cells.py); stations closed for good are not drawn.
SELECT s.h3_r{{res}} AS cell, s.opening_hours AS hours, s.time_zone AS zone,
       s.country_code AS country,
       count(*)::integer AS stations,
       count(*) FILTER (WHERE s.kind = 'water_point')::integer AS water_points,
       count(*) FILTER (WHERE s.status = 'active')::integer AS active,
       sum(ST_Y(s.geom::geometry)) AS lat_sum,
       sum(ST_X(s.geom::geometry)) AS lng_sum
FROM stations s
WHERE s.status <> 'closed'
GROUP BY 1, 2, 3, 4

-- name: cells_of_stations
-- The res-7 and res-9 cells of the stations with water left today.
SELECT id, h3_r7, h3_r9 FROM stations WHERE id = ANY($1::bigint[]) AND status <> 'closed'

-- name: cells_mvt
-- Tile ($1, $2, $3) of the cells chosen in Python (their centre in the tile), layer
-- 'cells', built by PostGIS from the arrays: resolution $4, then per cell its id, centre
-- and counts.
SELECT ST_AsMVT(f, 'cells', 4096, 'geom')
FROM (
    SELECT lower(to_hex(c.cell)) AS h3, $4::integer AS resolution, c.stations,
           c.water_points, c.open_now, c.water_left,
           ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(c.lng, c.lat), 4326), 3857),
                        ST_TileEnvelope($1, $2, $3), 4096, 0, true) AS geom
    FROM unnest($5::bigint[], $6::float8[], $7::float8[], $8::integer[], $9::integer[],
                $10::integer[], $11::integer[])
         AS c(cell, lat, lng, stations, water_points, open_now, water_left)
) f
WHERE f.geom IS NOT NULL
