-- Cheaper station inserts and search-index builds, for imports of a whole country.
-- Measured on bench/import.py's million stations, where the gram index build and the
-- insert were each about a third of the import.
--
-- * Text-search grams are now bigint codes of adjacent character pairs within a word
--   (first code point * 2^21 + second; code points are below 2^21, so a code names
--   exactly one pair). Integer keys make the GIN build several times cheaper than text
--   keys, and single characters are no longer indexed: they halved the keys and only
--   served one-character queries, which match most of a catalog anyway. The search
--   re-checks every term as a substring, so a query with no pair (all its words are
--   one character) uses no gram condition at all.
-- * station_code() is one SQL expression instead of a PL/pgSQL loop (same codes), and
--   the BEFORE INSERT trigger only runs when a row brings no code: the importer numbers
--   its new stations itself and gives their codes.
-- * code, source and source_id compare bytewise (COLLATE "C"). They are only ever
--   matched for equality or listed in code order, and codes and sources are ASCII;
--   locale-aware comparison made each of their unique-index inserts several times
--   dearer.
-- * The pattern checks on code, source and country_code test character sets (btrim
--   removes every allowed character; nothing may be left) instead of running a regular
--   expression per row, which cost more than every other check of the table together
--   (2.2 s against 1.1 s per million rows). They accept exactly what the patterns did.

DROP INDEX stations_search_grams;
DROP FUNCTION station_grams(VARIADIC text[]);

-- Words are split on spaces and punctuation after lower-casing, as before; a word of
-- one character gives no pair. NULL arguments are skipped.
CREATE FUNCTION station_grams(VARIADIC parts text[]) RETURNS bigint[]
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

CREATE INDEX stations_search_grams ON stations
    USING gin (station_grams(name, name_en, address));

-- Inlined by the planner where its argument is a column; codes as before.
CREATE OR REPLACE FUNCTION station_code(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 25)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 20 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 15 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 10 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 >> 5 & 31)::int + 1, 1)
        || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((n * 387420489) % 1073741824 & 31)::int + 1, 1)
$$;

ALTER TABLE stations
    ALTER COLUMN code TYPE text COLLATE "C",
    ALTER COLUMN source TYPE text COLLATE "C",
    ALTER COLUMN source_id TYPE text COLLATE "C";

DROP TRIGGER stations_before_insert ON stations;
CREATE TRIGGER stations_before_insert BEFORE INSERT ON stations
    FOR EACH ROW WHEN (NEW.code IS NULL) EXECUTE FUNCTION stations_before_write();

ALTER TABLE stations
    DROP CONSTRAINT stations_code_check,
    ADD CONSTRAINT stations_code_check
        CHECK (length(code) BETWEEN 4 AND 12
               AND btrim(code, '0123456789ABCDEFGHJKMNPQRSTVWXYZ') = ''),
    DROP CONSTRAINT stations_source_check,
    ADD CONSTRAINT stations_source_check
        CHECK (length(source) BETWEEN 1 AND 64
               AND btrim(source, 'abcdefghijklmnopqrstuvwxyz0123456789_.-') = ''
               AND btrim(left(source, 1), 'abcdefghijklmnopqrstuvwxyz0123456789') = ''),
    DROP CONSTRAINT stations_country_code_check,
    ADD CONSTRAINT stations_country_code_check
        CHECK (length(country_code) = 2 AND btrim(country_code, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') = '');
