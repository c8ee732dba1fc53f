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
-- Words are split on spaces and punctuation after lower-casing; a word of one character
-- gives no pair. NULL arguments are skipped (hence not STRICT). A plain loop: written as
-- one SQL query over set-returning functions, the planner's row estimates made every call
-- pay for JIT compilation (~100 ms).
CREATE OR REPLACE FUNCTION station_grams(VARIADIC parts text[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    word text;
    c text[];
    grams bigint[] := '{}';
BEGIN
    FOREACH word IN ARRAY regexp_split_to_array(lower(array_to_string(parts, ' ')),
                                                 '[[:space:][:punct:]]+') LOOP
        c := string_to_array(word, NULL);
        FOR i IN 2..cardinality(c) LOOP
            grams := grams || (ascii(c[i - 1])::bigint << 21 | ascii(c[i]));
        END LOOP;
    END LOOP;
    RETURN grams;
END $$;
