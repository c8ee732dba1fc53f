-- Coverage analysis: the stations and demand an analysis measures.

-- name: stations_in_box
-- Active stations (optionally having every amenity in $1) inside a lat/lng box;
-- $2..$5 = min_lat, max_lat, min_lng, max_lng, or all NULL for every station.
SELECT id, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng, district,
       opening_hours, time_zone, country_code
FROM stations
WHERE status = 'active'
  AND ($1::text[] IS NULL OR amenities @> $1::text[])
  AND ($2::float8 IS NULL OR ST_Y(geom::geometry) BETWEEN $2 AND $3)
  AND ($4::float8 IS NULL OR ST_X(geom::geometry) BETWEEN $4 AND $5)
ORDER BY id

-- name: demand_in_box
-- The res-11 cells and weights of the demand points inside a lat/lng box (lng/lat
-- order), one row per source with its summary, in one scan; a single row with a NULL
-- source when there are none. Cells and weights come as the binary form of an int8[]
-- and a float8[] (array_send), aggregated together so their orders agree, which numpy
-- reads without making a Python object per point.
SELECT (SELECT token FROM demand_version) AS token, p.*
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT source, count(*) AS points, sum(weight) AS weight, max(observed_at) AS last_observed,
           array_send(array_agg(h3_r11)) AS cells, array_send(array_agg(weight)) AS weights
    FROM demand_points
    WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)::geography
    GROUP BY source
) p ON true
ORDER BY p.source

-- name: demand_token
-- Changes whenever demand points are written (see migration 0004); NULL if unknown.
SELECT token FROM demand_version

-- name: district_hull
-- A district as the convex hull of its open or temporarily closed stations, buffered
-- by $2 metres (geodesic), as WKB; NULL when the district has no station.
SELECT ST_AsBinary(ST_Buffer(ST_ConvexHull(ST_Collect(geom::geometry))::geography, $2)::geometry)
           AS hull,
       count(*) AS stations
FROM stations
WHERE district = $1 AND status <> 'closed'

-- name: district_names
SELECT district, count(*) AS stations
FROM stations
WHERE district IS NOT NULL AND status <> 'closed'
GROUP BY district
ORDER BY district

-- name: stations_for_map
-- What a map popup shows for each station in a lat/lng box (min_lat, max_lat, min_lng, max_lng).
SELECT id, code, name, name_en, kind, status, amenities, access, opening_hours, time_zone,
       country_code, address, district, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng
FROM stations
WHERE status = 'active'
  AND ST_Y(geom::geometry) BETWEEN $1 AND $2
  AND ST_X(geom::geometry) BETWEEN $3 AND $4
ORDER BY id

-- name: visit_demand_cells
-- Claims and check-ins of the last $1 as observed demand: visits per coarsened cell.
SELECT h3_cell, count(*)::float8 AS visits
FROM (SELECT h3_cell FROM claims WHERE claimed_at > now() - $1::interval
      UNION ALL
      SELECT h3_cell FROM checkins WHERE checked_in_at > now() - $1::interval) v
GROUP BY h3_cell

-- name: districts_in_branch
-- The districts named by open or paused stations whose stations all lie under branch
-- $1 (NULL: every district), with their district code and station count: what a
-- planner of the branch may analyse by district.
SELECT district, min(district_code) AS district_code, count(*) AS stations
FROM stations
WHERE district IS NOT NULL AND status <> 'closed'
GROUP BY district
HAVING bool_and(in_branch(district_code, $1))
ORDER BY min(district_code) NULLS LAST, district
