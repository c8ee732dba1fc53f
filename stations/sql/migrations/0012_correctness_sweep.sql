-- The correctness sweep of issue 15: search ignores case and width.
--
-- * Text search found nothing when the query had a capital letter (q=Fontaine, q=EMS):
--   station_grams lowered the catalog's text, but the substring re-check compared the
--   query as typed. Both sides are now folded the same way, NFKC then lower case, which
--   also makes full-width letters and digits (ＥＭＳ, １号, typed by Chinese keyboards)
--   match their ASCII forms. The gram index is built over station_grams, so it is
--   dropped before the function changes and built again after (the importer's bulk path
--   reads index definitions from pg_index, so it rebuilds this one as before).

DROP INDEX stations_search_grams;

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

CREATE INDEX stations_search_grams ON stations
    USING gin (station_grams(name, name_en, address));
