-- OGC API – Features (stations/ogc): the features of a collection, one feature, and a
-- collection's extent. Pages of features are `features` or `matched` followed by a
-- WHERE clause that stations/ogc/features.py writes from the request: conditions over
-- an allow-list of columns, every value a $n parameter (stations/ogc/filter.py for
-- CQL2). Pages are keyed on the sort key and the station id (no OFFSET: page 1,000
-- costs what page 1 costs).

-- name: features
-- The head of a page of features.
SELECT s.id, s.code, {{fields s}}, s.version, s.created_at, s.updated_at,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s

-- name: matched
-- The head of the count of every feature the same conditions match (numberMatched).
SELECT count(*) FROM stations s

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
