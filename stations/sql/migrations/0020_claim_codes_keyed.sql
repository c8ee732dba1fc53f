-- Claim codes that cannot be computed from another claim's code (issue 16).
--
-- Codes were an affine bijection of the claim id: from one's own code the next member's
-- could be computed, and the station's hand-over accepted it. They are now a keyed
-- pseudo-random permutation of the id (four Feistel rounds of SHA-256), under a key
-- drawn once per database from PostgreSQL's strong random source (gen_random_uuid()
-- reads pg_strong_random). Codes keep their form (seven Crockford base32 characters,
-- read aloud) and stay the id in disguise: no stored column, no new index. A code shown
-- before this migration no longer reads back; claims are good on their own day only.

CREATE TABLE claim_code_key (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    k    bytea NOT NULL CHECK (octet_length(k) = 32)
);
INSERT INTO claim_code_key (k)
VALUES (sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())));

-- Short codes staff read out: seven Crockford base32 characters of a keyed pseudo-random
-- permutation of the claim id modulo 32^7. A code is still the id in disguise (unique by
-- construction, claim_id() turns it back, no stored column and no extra index on the
-- hottest table), but without the key, drawn once per database from PostgreSQL's strong
-- random source (claim_code_key), nobody can compute another claim's code from their own:
-- four Feistel rounds over 36 bits, each round SHA-256 of the key, the round and the
-- half, walked until the value falls below 32^7.
CREATE OR REPLACE FUNCTION claim_code(n bigint) RETURNS text
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    key bytea := (SELECT k FROM claim_code_key);
    v bigint := n % 34359738368;
    l bigint;
    r bigint;
    h bytea;
    out text := '';
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'claim_code_key is empty: the claim code key is part of the schema';
    END IF;
    LOOP
        l := v >> 18;
        r := v & 262143;
        FOR round IN 0..3 LOOP
            h := sha256(key || int2send(round::smallint) || int4send(r::int));
            v := l # ((get_byte(h, 0)::bigint << 16 | get_byte(h, 1) << 8 | get_byte(h, 2)) & 262143);
            l := r;
            r := v;
        END LOOP;
        v := l << 18 | r;
        EXIT WHEN v < 34359738368;
    END LOOP;
    FOR i IN 1..7 LOOP
        out := substr(alphabet, (v % 32)::int + 1, 1) || out;
        v := v / 32;
    END LOOP;
    RETURN out;
END $$;

-- The inverse of claim_code (the rounds backwards, walked the same way); NULL for text
-- that is not a code. Lower case and the usual misreadings (O, I, L) are accepted.
CREATE OR REPLACE FUNCTION claim_id(code text) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    clean text := translate(upper(btrim(code)), 'OIL', '011');
    key bytea;
    v bigint := 0;
    l bigint;
    r bigint;
    h bytea;
BEGIN
    IF clean !~ '^[0-9A-HJKMNP-TV-Z]{7}$' THEN
        RETURN NULL;
    END IF;
    FOR i IN 1..7 LOOP
        v := v * 32 + strpos(alphabet, substr(clean, i, 1)) - 1;
    END LOOP;
    key := (SELECT k FROM claim_code_key);
    IF key IS NULL THEN
        RAISE EXCEPTION 'claim_code_key is empty: the claim code key is part of the schema';
    END IF;
    LOOP
        l := v >> 18;
        r := v & 262143;
        FOR round IN REVERSE 3..0 LOOP
            h := sha256(key || int2send(round::smallint) || int4send(l::int));
            v := r # ((get_byte(h, 0)::bigint << 16 | get_byte(h, 1) << 8 | get_byte(h, 2)) & 262143);
            r := l;
            l := v;
        END LOOP;
        v := l << 18 | r;
        EXIT WHEN v < 34359738368;
    END LOOP;
    RETURN v;
END $$;
