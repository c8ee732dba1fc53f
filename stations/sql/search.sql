-- Finding stations: the rows behind the in-process nearest index, text/bbox search,
-- one station, its history. Values are always parameters.

-- name: index_chunk
-- Active stations after an id, in id order, shaped for the index: codes and masks for
-- the filters (vocabularies passed as $3 kinds, $4 access rules, $5 amenities, so bit
-- positions follow stations/catalog/vocab.py), and the station's static JSON rendered
-- once by station_hit_head (its opening brace and members up to its WGS84 position), so
-- an answer appends the members that depend on the request and the closing brace.
SELECT s.id, s.version, s.opening_hours, s.time_zone, s.country_code,
       extract(epoch FROM s.verified_at)::float8 AS verified_epoch,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng,
       (array_position($3::text[], s.kind) - 1)::int2 AS kind_code,
       (array_position($4::text[], s.access) - 1)::int2 AS access_code,
       (SELECT coalesce(sum(1::bigint << (array_position($5::text[], a) - 1)), 0)::bigint
          FROM unnest(s.amenities) a) AS amenity_mask,
       station_hit_head(s) AS head
FROM stations s
WHERE s.status = 'active' AND s.id > $1
ORDER BY s.id
LIMIT $2

-- name: index_rows
-- The same shape for some ids, whatever their status (the caller drops inactive ones).
SELECT s.id, s.version, s.status, s.opening_hours, s.time_zone, s.country_code,
       extract(epoch FROM s.verified_at)::float8 AS verified_epoch,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng,
       (array_position($2::text[], s.kind) - 1)::int2 AS kind_code,
       (array_position($3::text[], s.access) - 1)::int2 AS access_code,
       (SELECT coalesce(sum(1::bigint << (array_position($4::text[], a) - 1)), 0)::bigint
          FROM unnest(s.amenities) a) AS amenity_mask,
       station_hit_head(s) AS head
FROM stations s
WHERE s.id = ANY($1::bigint[])

-- name: search
-- Text, bbox and attribute search in id order after a cursor. Run as a one-off prepared
-- statement (custom plan): the planner then drops the conditions whose parameter is
-- NULL and uses the index of the ones that remain.
-- $1 text terms (each must occur in name, name_en or address, both folded as
-- station_grams folds them: NFKC, then lower case; the gram index narrows them by their
-- character pairs, and terms of one character have none),
-- $2 bbox as west, south, east, north (west > east crosses the antimeridian), $3 kinds,
-- $4 amenities (all), $5 statuses, $6 district name or code, $7 after id, $8 limit,
-- $9 only these station ids (NULL: any).
SELECT s.id, s.code, {{fields s}}, s.version, s.created_at, s.updated_at,
       ST_Y(s.geom::geometry) AS lat, ST_X(s.geom::geometry) AS lng
FROM stations s
WHERE ($1::text[] IS NULL
       OR ((cardinality(station_grams(VARIADIC $1::text[])) = 0
            OR station_grams(s.name, s.name_en, s.address) @> station_grams(VARIADIC $1::text[]))
           AND NOT EXISTS (
               SELECT 1 FROM unnest($1::text[]) t
               WHERE strpos(lower(normalize(concat_ws(' ', s.name, s.name_en, s.address), NFKC)),
                            lower(normalize(t, NFKC))) = 0)))
  AND ($2::float8[] IS NULL
       OR (s.geom::geometry && ST_MakeEnvelope($2[1], $2[2],
                                               CASE WHEN $2[1] <= $2[3] THEN $2[3] ELSE 180 END,
                                               $2[4], 4326)
           OR ($2[1] > $2[3]
               AND s.geom::geometry && ST_MakeEnvelope(-180, $2[2], $2[3], $2[4], 4326))))
  AND ($3::text[] IS NULL OR s.kind = ANY($3::text[]))
  AND ($4::text[] IS NULL OR s.amenities @> $4::text[])
  AND s.status = ANY($5::text[])
  AND ($6::text IS NULL OR s.district = $6::text OR s.district_code = $6::text)
  AND ($9::bigint[] IS NULL OR s.id = ANY($9::bigint[]))
  AND s.id > $7
ORDER BY s.id
LIMIT $8

-- name: history
-- Changes of one station, newest first, before a cursor (history id).
SELECT h.id, h.action, h.actor, h.reason, h.changed_at, h.old_values, h.new_values
FROM station_changes h
WHERE h.station_id = $1 AND h.id < $2
ORDER BY h.id DESC
LIMIT $3

-- name: station_known
-- Whether a station exists or ever existed (deleted stations keep their history).
SELECT EXISTS (SELECT 1 FROM stations WHERE id = $1)
    OR EXISTS (SELECT 1 FROM station_history WHERE station_id = $1)

-- name: live_clock
-- The database's clock: change tokens are compared with its timestamps, never ours. On a
-- read replica, the commit time of the last transaction it has replayed (never later
-- than now): it shows the primary as of then, however far behind it is.
SELECT CASE WHEN pg_is_in_recovery()
            THEN least(now(), coalesce(pg_last_xact_replay_timestamp(), now()))
            ELSE now()
       END

-- name: live_rated_stations
-- Stations whose rating summary, recent reports or review changed after $1 (all when NULL).
SELECT station_id FROM station_rating_summary WHERE $1::timestamptz IS NULL OR updated_at > $1
UNION
SELECT station_id FROM ratings WHERE $1::timestamptz IS NOT NULL AND updated_at > $1
UNION
SELECT station_id FROM station_reviews WHERE $1::timestamptz IS NOT NULL AND reviewed_at > $1

-- name: live_stocked_stations
-- Stations whose stock rows or defaults changed after $1; with $1 NULL, every station
-- with stock around today in any time zone (a local day is at most a day off UTC's),
-- and every station that has a default allocation then (its own, or its campaign's).
SELECT station_id FROM water_stock
WHERE ($1::timestamptz IS NULL AND local_day BETWEEN current_date - 1 AND current_date + 1)
   OR updated_at > $1
UNION
SELECT cs.station_id FROM campaign_stations cs JOIN campaigns c ON c.id = cs.campaign_id
LEFT JOIN water_defaults d ON d.station_id = cs.station_id
WHERE c.status = 'active' AND current_date BETWEEN c.starts_on - 1 AND c.ends_on + 1
  AND (c.daily_allocation IS NOT NULL OR d.station_id IS NOT NULL)
  AND ($1::timestamptz IS NULL OR c.updated_at > $1 OR d.updated_at > $1)
