-- Living definitions of the station search: its functions as a migrated database has
-- them today.
--
-- The numbered migrations in ../migrations/ are the schema's history and are never
-- edited. To change one of these definitions, edit it here and add a numbered migration
-- that carries the same CREATE OR REPLACE; tests/db/test_living_sql.py checks that a
-- migrated database equals these files. Every statement here can run again.

-- pg_trgm cannot use an index for patterns shorter than three characters, and most
-- Chinese queries are two (驿站, 公园, 相山). station_grams() lists the bigint code of every
-- pair of adjacent characters within the words of its arguments (first code point * 2^21
-- + second; code points are below 2^21, so a code names exactly one pair). The GIN index
-- stations_search_grams over it answers "has all the pairs of the query"; the search then
-- re-checks every term as a substring, so pairs that occur apart do not match, and a query
-- with no pair (all its words are one character) uses no gram condition at all. Integer
-- keys make the index several times cheaper to build than text keys.
-- Text is folded before it is split: NFKC (full-width letters and digits, which Chinese
-- keyboards type, become ASCII: ＥＭＳ → EMS, １号 → 1号) then lower case; the search
-- folds the query the same way (lower(normalize(…, NFKC)) in stations/sql/search.sql), so
-- case and width never matter. Most text is already in NFKC, and the quick check costs a
-- third of normalising it. Words are split on spaces and punctuation; a word of one
-- character gives no pair. NULL arguments are skipped (hence not STRICT). A plain loop:
-- written as one SQL query over set-returning functions, the planner's row estimates made
-- every call pay for JIT compilation (~100 ms).
CREATE OR REPLACE FUNCTION station_grams(VARIADIC parts text[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    whole text := array_to_string(parts, ' ');
    word text;
    c text[];
    grams bigint[] := '{}';
BEGIN
    IF whole IS NOT NFKC NORMALIZED THEN
        whole := normalize(whole, NFKC);
    END IF;
    FOREACH word IN ARRAY regexp_split_to_array(lower(whole), '[[:space:][:punct:]]+') LOOP
        c := string_to_array(word, NULL);
        FOR i IN 2..cardinality(c) LOOP
            grams := grams || (ascii(c[i - 1])::bigint << 21 | ascii(c[i]));
        END LOOP;
    END LOOP;
    RETURN grams;
END $$;

-- A station's JSON as every search answer shows it, rendered once per station by the
-- in-process index (its opening brace and the members up to the WGS84 position, without
-- the closing brace); an answer appends what depends on the request (migration 0011).
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
