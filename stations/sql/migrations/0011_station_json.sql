-- A station's JSON as every search answer shows it, rendered by one function: the
-- in-process index stores it once per station (its opening brace and the members up to
-- the WGS84 position, without the closing brace) and appends what depends on the
-- request. Both index queries called the same 15-line expression before.

CREATE OR REPLACE FUNCTION station_hit_head(s stations) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(concat(
        '{"id":', s.id,
        ',"code":', to_json(s.code),
        ',"name":', to_json(s.name),
        ',"name_en":', coalesce(to_json(s.name_en)::text, 'null'),
        ',"kind":', to_json(s.kind),
        ',"amenities":', to_json(s.amenities),
        ',"access":', to_json(s.access),
        ',"opening_hours":', coalesce(to_json(s.opening_hours)::text, 'null'),
        ',"time_zone":', to_json(s.time_zone),
        ',"address":', coalesce(to_json(s.address)::text, 'null'),
        ',"verified_at":', coalesce(to_json(to_char(s.verified_at AT TIME ZONE 'UTC',
                                                    'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text, 'null'),
        ',"position":{"lat":', ST_Y(s.geom::geometry),
        ',"lng":', ST_X(s.geom::geometry), '}'),
        'UTF8')
$$;
