-- OGC API – Features (stations/ogc): the features of a collection, one feature, and a
-- collection's extent. A collection is the catalog narrowed to some kinds ($1); every
-- other condition is a query parameter, NULL when it was not given. Values are always
-- parameters; pages are keyed on the station id (no OFFSET: page 1,000 costs what page 1
-- costs).
--
-- The conditions shared by `items` and `matched`:
-- $1 kinds (the collection's, narrowed by `kind`), $2 amenities (a station has all),
-- $3 statuses, $4 district name or code, $5 bbox as WGS84 west, south, east, north
-- (west > east crosses the antimeridian), $6/$7 updated_at from/to (inclusive),
-- $8/$9 verified_at from/to (inclusive; a station never verified matches no interval).

-- name: items
-- One page of features in id order after $10, at most $11.
SELECT s.id, s.code, {{fields s}}, s.version, s.created_at, s.updated_at,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE ($1::text[] IS NULL OR s.kind = ANY($1::text[]))
  AND ($2::text[] IS NULL OR s.amenities @> $2::text[])
  AND ($3::text[] IS NULL OR s.status = ANY($3::text[]))
  AND ($4::text IS NULL OR s.district = $4::text OR s.district_code = $4::text)
  AND ($5::float8[] IS NULL
       OR s.geom::geometry && ST_MakeEnvelope($5[1], $5[2],
                                              CASE WHEN $5[1] <= $5[3] THEN $5[3] ELSE 180 END,
                                              $5[4], 4326)
       OR ($5[1] > $5[3]
           AND s.geom::geometry && ST_MakeEnvelope(-180, $5[2], $5[3], $5[4], 4326)))
  AND ($6::timestamptz IS NULL OR s.updated_at >= $6::timestamptz)
  AND ($7::timestamptz IS NULL OR s.updated_at <= $7::timestamptz)
  AND ($8::timestamptz IS NULL OR s.verified_at >= $8::timestamptz)
  AND ($9::timestamptz IS NULL OR s.verified_at <= $9::timestamptz)
  AND s.id > $10
ORDER BY s.id
LIMIT $11

-- name: matched
-- How many features the same conditions match (numberMatched).
SELECT count(*)
FROM stations s
WHERE ($1::text[] IS NULL OR s.kind = ANY($1::text[]))
  AND ($2::text[] IS NULL OR s.amenities @> $2::text[])
  AND ($3::text[] IS NULL OR s.status = ANY($3::text[]))
  AND ($4::text IS NULL OR s.district = $4::text OR s.district_code = $4::text)
  AND ($5::float8[] IS NULL
       OR s.geom::geometry && ST_MakeEnvelope($5[1], $5[2],
                                              CASE WHEN $5[1] <= $5[3] THEN $5[3] ELSE 180 END,
                                              $5[4], 4326)
       OR ($5[1] > $5[3]
           AND s.geom::geometry && ST_MakeEnvelope(-180, $5[2], $5[3], $5[4], 4326)))
  AND ($6::timestamptz IS NULL OR s.updated_at >= $6::timestamptz)
  AND ($7::timestamptz IS NULL OR s.updated_at <= $7::timestamptz)
  AND ($8::timestamptz IS NULL OR s.verified_at >= $8::timestamptz)
  AND ($9::timestamptz IS NULL OR s.verified_at <= $9::timestamptz)

-- name: feature
-- One station by id, when it belongs to the collection ($2 kinds; NULL: any).
SELECT s.id, s.code, {{fields s}}, s.version, s.created_at, s.updated_at,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE s.id = $1 AND ($2::text[] IS NULL OR s.kind = ANY($2::text[]))

-- name: extent
-- The collection's extent: WGS84 bounds of its stations and the span of their
-- updated_at (NULLs when it is empty).
SELECT ST_XMin(e.box) AS west, ST_YMin(e.box) AS south,
       ST_XMax(e.box) AS east, ST_YMax(e.box) AS north, e.first_update, e.last_update
FROM (SELECT ST_Extent(s.geom::geometry) AS box, min(s.updated_at) AS first_update,
             max(s.updated_at) AS last_update
      FROM stations s
      WHERE $1::text[] IS NULL OR s.kind = ANY($1::text[])) e
