-- Finding stations: text search that works for two-character Chinese queries, and
-- indexes shaped for the filters of GET /v1/stations.

-- pg_trgm cannot use an index for patterns shorter than three characters, and most
-- Chinese queries are two (驿站, 公园, 相山). station_grams() lists every character and
-- every pair of adjacent characters of the words of its arguments (lower-cased; words
-- split on spaces and punctuation). A GIN index over it answers "has all the grams of
-- the query"; the search then re-checks the exact substring, so grams that occur
-- apart do not match. NULL arguments are skipped (hence not STRICT); repeated grams
-- are harmless to GIN and to @>.
-- A plain loop: written as one SQL query over set-returning functions, the planner's
-- row estimates made every call pay for JIT compilation (~100 ms).
CREATE FUNCTION station_grams(VARIADIC parts text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    part text;
    word text;
    grams text[] := '{}';
    n integer;
BEGIN
    FOREACH part IN ARRAY parts LOOP
        CONTINUE WHEN part IS NULL;
        FOREACH word IN ARRAY regexp_split_to_array(lower(part), '[[:space:][:punct:]]+') LOOP
            n := char_length(word);
            FOR i IN 1..n LOOP
                grams := grams || substr(word, i, 1);
                IF i < n THEN
                    grams := grams || substr(word, i, 2);
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    RETURN grams;
END $$;

CREATE INDEX stations_search_grams ON stations
    USING gin (station_grams(name, name_en, address));

-- bbox filters compare longitude/latitude rectangles, i.e. planar geometry.
CREATE INDEX stations_geom_geometry_gist ON stations USING gist ((geom::geometry));

-- "has all these amenities" (amenities @> '{…}').
CREATE INDEX stations_amenities_gin ON stations USING gin (amenities);

CREATE INDEX stations_district ON stations (district);
CREATE INDEX stations_district_code ON stations (district_code);
