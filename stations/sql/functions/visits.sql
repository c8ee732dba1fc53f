-- Living definitions of water claims, check-ins and ratings: their functions and
-- triggers as a migrated database has them today.
--
-- The numbered migrations in ../migrations/ are the schema's history and are never
-- edited. To change one of these definitions, edit it here and add a numbered migration
-- that carries the same CREATE OR REPLACE; tests/db/test_living_sql.py checks that a
-- migrated database equals these files. Every statement here can run again.

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

-- What a claim points to is kept valid without foreign keys, which would take a KEY SHARE
-- lock on the campaign's, the member's and the station's rows in every claim: campaigns
-- and prize pools are cancelled or exhausted, members suspended and stations closed, never
-- deleted or renumbered. A campaign's or a member's row, and a prize pool, refuse it always.
CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted or renumbered (claims refer to them); %',
        TG_TABLE_NAME,
        CASE TG_TABLE_NAME WHEN 'campaigns' THEN 'set status to cancelled instead'
                           WHEN 'members' THEN 'suspend the member instead'
                           ELSE 'cancel the campaign instead' END
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE OR REPLACE TRIGGER campaigns_never_deleted BEFORE DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE OR REPLACE TRIGGER prize_pools_never_deleted BEFORE DELETE ON prize_pools
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE OR REPLACE TRIGGER campaigns_id_fixed BEFORE UPDATE OF id ON campaigns
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE OR REPLACE TRIGGER members_never_deleted BEFORE DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE OR REPLACE TRIGGER members_id_fixed BEFORE UPDATE OF id ON members
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();

-- A station refuses it only once it has water claims.
CREATE OR REPLACE FUNCTION stations_keep_claimed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM claims WHERE station_id = OLD.id) THEN
        RAISE EXCEPTION 'station % has water claims and cannot be deleted or renumbered; '
                        'close it instead', OLD.code
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE OR REPLACE TRIGGER stations_keep_claimed BEFORE DELETE ON stations
    FOR EACH ROW EXECUTE FUNCTION stations_keep_claimed();
CREATE OR REPLACE TRIGGER stations_keep_claimed_id BEFORE UPDATE OF id ON stations
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION stations_keep_claimed();

-- The default daily allocation of a station on a local day: the station's own default
-- (water_defaults) or else that of the campaign running there that day (the lowest id
-- when several overlap, as for claims); NULL on a day without an active campaign at the
-- station, or when neither has a default. An operator's allocation for a day (a
-- water_stock row) always wins over it: the default only fills a day nobody set.
CREATE OR REPLACE FUNCTION water_default(p_station_id bigint, p_day date) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(d.daily_allocation, c.daily_allocation)
    FROM (SELECT c.daily_allocation FROM campaign_stations cs
          JOIN campaigns c ON c.id = cs.campaign_id
          WHERE cs.station_id = p_station_id AND c.status = 'active'
            AND p_day BETWEEN c.starts_on AND c.ends_on
          ORDER BY c.id LIMIT 1) c
    LEFT JOIN water_defaults d ON d.station_id = p_station_id
$$;

-- One bottle from a station's stock of a local day: the bottles left after it, or NULL
-- when there is none. A day nobody set gets its row from the default allocation on its
-- first claim, in the claim's own transaction: claims work in the morning without anyone
-- setting stock. Two first claims at once both insert; the second waits on the row's
-- key, does nothing, and takes its bottle from the row the first created, like any claim
-- queueing on the row lock. Only this station's row of this day is locked here, which is
-- the stock class of claim_water_batch's lock order.
CREATE OR REPLACE FUNCTION take_bottle(p_station_id bigint, p_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_remaining integer;
    v_default   integer;
BEGIN
    UPDATE water_stock w SET remaining = w.remaining - 1, updated_at = now()
    WHERE w.station_id = p_station_id AND w.local_day = p_day AND w.remaining > 0
    RETURNING w.remaining INTO v_remaining;
    IF FOUND THEN
        RETURN v_remaining;
    END IF;
    IF EXISTS (SELECT 1 FROM water_stock w
               WHERE w.station_id = p_station_id AND w.local_day = p_day) THEN
        RETURN NULL;  -- the day's bottles are all handed out
    END IF;
    v_default := water_default(p_station_id, p_day);
    IF v_default IS NULL THEN
        RETURN NULL;  -- nobody set the day and there is no default
    END IF;
    INSERT INTO water_stock (station_id, local_day, allocated, remaining)
    VALUES (p_station_id, p_day, v_default, v_default)
    ON CONFLICT (station_id, local_day) DO NOTHING;
    UPDATE water_stock w SET remaining = w.remaining - 1, updated_at = now()
    WHERE w.station_id = p_station_id AND w.local_day = p_day AND w.remaining > 0
    RETURNING w.remaining INTO v_remaining;
    RETURN v_remaining;
END $$;

-- How far a member stood from a station, as a refusal says and keeps it: rounded up to
-- the next 100 m. Enough for the rider to know to walk closer; together with the
-- station, an exact figure would put the member on a circle a metre wide (migration 0029).
CREATE OR REPLACE FUNCTION coarse_distance_m(metres double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ceil(metres / 100.0) * 100)::integer;

-- Water claims decided several to a transaction.
--
-- A server worker sends the claims that arrived while its previous batch was in the
-- database as one call of claim_water_batch: one transaction and one commit (one WAL
-- flush) for all of them. Each claim gets exactly the rules, refusals and stored answer
-- it got alone; a batch of one is the single claim. Deciding claims eight to a
-- transaction took about half the database CPU per granted claim that one per
-- transaction did (interleaved runs on the benchmark's data).
--
-- Several claims in one transaction hold several locks until its commit, so every
-- batch takes them in one global order, class by class:
--   1. advisory locks on (member, Idempotency-Key), in lock-key order;
--   2. stock rows, in station-code order (one station's rows are one local day; the
--      day's first claim at a station creates its row there, see take_bottle);
--   3. quota slots, in member order;
--   4. prize pools, in pool-id order.
-- A batch waiting in one class holds locks of that class and of earlier classes only,
-- and a lock of a later class is held only by a batch that has finished the earlier
-- classes, so no two batches can wait for each other in a cycle.
--
-- Within a batch, claims are decided in station-code order and each sees the bottles
-- the batch's earlier claims took, as if they had committed; the unique quota slot
-- still decides between concurrent transactions.
-- The same member and key twice in one batch is decided once and the repeat gets the
-- first answer (or idempotency_key_reused for a different request), as a retry would.
-- A granted claim reports the stock left after it, counted as if the batch's claims
-- had been decided one by one in station-code order.
--
-- A station's opening hours are OpenStreetMap expressions that only the server
-- evaluates (stations/visits/opening.py): each claim brings whether its station is
-- closed by them now (p_closed) and when it opens next (p_next_open, ISO 8601 in the
-- station's zone, NULL when they name no next opening). They are applied as the rule
-- station_not_open, after a retried claim found its stored answer and after the
-- station's own status (migration 0012).
--
-- Proof of presence (migration 0025): a campaign with presence_required grants water
-- only to a claim that carried the station's current rotating presence code. The code
-- is checked in Python before the batch (stations/visits/presence.py: it is derived
-- from a server key the database never sees); each claim brings whether it carried a
-- valid one (p_presence). Without one, the rule presence_code_required refuses it once
-- the campaign is known to be open, before the geofence.
CREATE OR REPLACE FUNCTION claim_water_batch(
    p_token_hashes   bytea[],
    p_keys           text[],
    p_request_hashes bytea[],
    p_station_codes  text[],
    p_lats           double precision[],
    p_lngs           double precision[],
    p_h3_cells       bigint[],
    p_closed         boolean[],
    p_next_open      text[],
    p_presence       boolean[]
) RETURNS jsonb
LANGUAGE plpgsql
-- Its lookups all have their index; plan them with it: a new campaign's claims tables are
-- empty, and once analysed empty the planner reads them by sequential scans, which cached
-- plans then keep while the day's claims pile up. And plan each statement once per
-- connection: with array arguments the planner's estimate for a generic plan is above that
-- of a plan for the call's own arrays, so PostgreSQL would otherwise plan every statement
-- again on every call, about a millisecond per call. Every statement that reads a table
-- looks up one claim's row by its key, so its cached plan is that index lookup whatever
-- the table's size was when it was planned.
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    n           constant integer := cardinality(p_token_hashes);
    v_member    bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_status    text[] := array_fill(NULL::text, ARRAY[n]);
    v_outcome   text[] := array_fill(NULL::text, ARRAY[n]);  -- NULL: not decided yet
    v_replayed  boolean[] := array_fill(false, ARRAY[n]);
    v_response  jsonb[] := array_fill(NULL::jsonb, ARRAY[n]);
    v_first     integer[] := array_fill(NULL::integer, ARRAY[n]);  -- repeat of that claim
    v_station   bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_camp      bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_quota     integer[] := array_fill(NULL::integer, ARRAY[n]);
    v_day       date[] := array_fill(NULL::date, ARRAY[n]);
    v_used      integer[] := array_fill(NULL::integer, ARRAY[n]);
    v_claim     bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_slot      integer[] := array_fill(NULL::integer, ARRAY[n]);
    v_prize     text[] := array_fill(NULL::text, ARRAY[n]);
    v_decided   integer[] := '{}';   -- claims decided by the rules, in station-code order
    v_stock     jsonb := '{}';       -- station id -> its remaining stock after the batch
    v_after     jsonb := '{}';       -- station id -> granted claims after this one
    v_taken     jsonb := '{}';       -- member:campaign:day -> bottles taken in this batch
    v_quota_key text;
    v_in_batch  integer;
    v_lock      bigint;
    v_token     record;
    v_prev      record;
    v_repeat    record;
    v_s         record;
    v_c         record;
    v_pool      record;
    v_local     timestamp;
    v_time      time;
    v_point     geography;
    v_remaining integer;
    v_later     integer;
    i           integer;
    s           integer;
BEGIN
    -- The bearer tokens, checked in the claims' own transaction: a token revoked a
    -- moment ago cannot claim, whatever a worker's principal cache still holds. (One
    -- lookup per claim, here and below: a statement over the whole array would keep, in
    -- its cached plan, whatever join the tables' sizes suggested when it was planned.)
    FOR i IN 1 .. n LOOP
        SELECT t.member_id, a.role, m.status INTO v_token
        FROM api_tokens t
        LEFT JOIN accounts a ON a.id = t.account_id
        LEFT JOIN members m ON m.id = t.member_id
        WHERE t.token_hash = p_token_hashes[i] AND t.revoked_at IS NULL
          AND t.expires_at > now() AND a.disabled_at IS NULL;
        IF NOT FOUND THEN
            v_outcome[i] := 'token_invalid';
            v_response[i] := '{}';
        ELSIF v_token.member_id IS NULL THEN
            v_outcome[i] := 'not_a_member';
            v_response[i] := jsonb_build_object('role', v_token.role);
        ELSE
            v_member[i] := v_token.member_id;
            v_status[i] := v_token.status;
        END IF;
    END LOOP;

    -- 1. The keys: a lock on (member, key) makes a concurrent duplicate in another
    -- transaction wait until the first commits; it then finds and replays the stored
    -- answer. (A hash collision with another key only makes one of them wait a moment.)
    FOR v_lock IN
        SELECT DISTINCT hashtextextended(u.m::text || ':' || u.k, 7340020) AS lock_key
        FROM unnest(v_member, p_keys) AS u(m, k) WHERE u.m IS NOT NULL
        ORDER BY lock_key
    LOOP
        PERFORM pg_advisory_xact_lock(v_lock);
    END LOOP;
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN v_member[i] IS NULL;
        SELECT r.request_hash, r.outcome, r.response INTO v_prev
        FROM claim_requests r
        WHERE r.member_id = v_member[i] AND r.idempotency_key = p_keys[i];
        CONTINUE WHEN NOT FOUND;
        IF v_prev.request_hash <> p_request_hashes[i] THEN
            v_outcome[i] := 'idempotency_key_reused';
            v_response[i] := '{}';
        ELSE
            v_outcome[i] := v_prev.outcome;
            v_replayed[i] := true;
            v_response[i] := v_prev.response;
        END IF;
    END LOOP;
    FOR v_repeat IN
        SELECT q.i, q.first FROM (
            SELECT u.i, min(u.i) OVER (PARTITION BY u.m, u.k) AS first
            FROM unnest(v_member, p_keys, v_outcome) WITH ORDINALITY AS u(m, k, o, i)
            WHERE u.m IS NOT NULL AND u.o IS NULL) q
        WHERE q.i <> q.first
    LOOP
        v_first[v_repeat.i] := v_repeat.first;
    END LOOP;

    -- 2. The rules and the bottle, claim by claim in station-code order.
    FOR i IN
        SELECT u.i FROM unnest(p_station_codes, v_outcome, v_first) WITH ORDINALITY AS u(c, o, f, i)
        WHERE u.o IS NULL AND u.f IS NULL
        ORDER BY u.c, u.i
    LOOP
        v_decided := v_decided || i;
        <<rules>>
        BEGIN
            SELECT st.id, st.code, st.name, st.status, st.time_zone, st.geom INTO v_s
            FROM stations st WHERE st.code = p_station_codes[i];
            IF NOT FOUND THEN
                v_outcome[i] := 'unknown_station';
                v_response[i] := jsonb_build_object('station_code', p_station_codes[i]);
                EXIT rules;
            END IF;
            v_local := now() AT TIME ZONE v_s.time_zone;
            v_day[i] := v_local::date;
            v_time := v_local::time;
            v_response[i] := jsonb_build_object(
                'station', jsonb_build_object('id', v_s.id, 'code', v_s.code, 'name', v_s.name),
                'local_day', v_day[i]);

            IF v_status[i] <> 'active' THEN
                v_outcome[i] := 'member_suspended';
                EXIT rules;
            END IF;

            IF v_s.status <> 'active' THEN
                v_outcome[i] := 'station_closed';
                v_response[i] := v_response[i] || jsonb_build_object('station_status', v_s.status);
                EXIT rules;
            END IF;

            IF coalesce(p_closed[i], false) THEN
                v_outcome[i] := 'station_not_open';
                v_response[i] := v_response[i] || jsonb_build_object('next_open', p_next_open[i]);
                EXIT rules;
            END IF;

            -- The campaign running here today; the lowest id wins when several overlap.
            SELECT c.id, c.name, c.daily_start, c.daily_end, c.daily_quota, c.geofence_m,
                   c.presence_required
            INTO v_c
            FROM campaign_stations cs JOIN campaigns c ON c.id = cs.campaign_id
            WHERE cs.station_id = v_s.id AND c.status = 'active'
              AND v_day[i] BETWEEN c.starts_on AND c.ends_on
            ORDER BY (v_time >= c.daily_start AND v_time < c.daily_end) DESC, c.id
            LIMIT 1;
            IF NOT FOUND THEN
                v_outcome[i] := CASE WHEN EXISTS (
                    SELECT 1 FROM campaigns c WHERE c.status = 'active'
                      AND v_day[i] BETWEEN c.starts_on AND c.ends_on)
                    THEN 'station_not_in_campaign' ELSE 'campaign_closed' END;
                EXIT rules;
            END IF;
            v_response[i] := v_response[i] || jsonb_build_object(
                'campaign', jsonb_build_object('id', v_c.id, 'name', v_c.name));
            IF NOT (v_time >= v_c.daily_start AND v_time < v_c.daily_end) THEN
                v_outcome[i] := 'campaign_closed';
                v_response[i] := v_response[i] || jsonb_build_object(
                    'daily_start', to_char(v_c.daily_start, 'HH24:MI'),
                    'daily_end', to_char(v_c.daily_end, 'HH24:MI'));
                EXIT rules;
            END IF;

            IF v_c.presence_required AND NOT coalesce(p_presence[i], false) THEN
                v_outcome[i] := 'presence_code_required';
                EXIT rules;
            END IF;

            -- On the sphere: within a geofence's few hundred metres it differs from the
            -- spheroid by well under a metre, at a fraction of the cost.
            v_point := ST_SetSRID(ST_MakePoint(p_lngs[i], p_lats[i]), 4326)::geography;
            IF NOT ST_DWithin(v_s.geom, v_point, v_c.geofence_m, false) THEN
                v_outcome[i] := 'outside_geofence';
                v_response[i] := v_response[i] || jsonb_build_object(
                    'distance_m', coarse_distance_m(ST_Distance(v_s.geom, v_point, false)),
                    'geofence_m', v_c.geofence_m);
                EXIT rules;
            END IF;

            SELECT count(*) INTO s FROM claims c
            WHERE c.campaign_id = v_c.id AND c.member_id = v_member[i]
              AND c.local_day = v_day[i];
            v_used[i] := s;
            -- The member's bottles taken by this batch's earlier claims count as well.
            v_quota_key := v_member[i] || ':' || v_c.id || ':' || v_day[i];
            v_in_batch := coalesce((v_taken ->> v_quota_key)::integer, 0);
            IF s + v_in_batch >= v_c.daily_quota THEN
                v_outcome[i] := 'quota_used';
                v_response[i] := v_response[i] || jsonb_build_object('daily_quota', v_c.daily_quota);
                EXIT rules;
            END IF;

            -- The bottle: a conditional decrement; its row lock is held until commit, so
            -- concurrent claims at this station queue here and see each other's decrements.
            v_remaining := take_bottle(v_s.id, v_day[i]);
            IF v_remaining IS NULL THEN
                v_outcome[i] := 'out_of_stock';
                v_response[i] := v_response[i] || jsonb_build_object('stock_set', EXISTS (
                    SELECT 1 FROM water_stock w
                    WHERE w.station_id = v_s.id AND w.local_day = v_day[i]));
                EXIT rules;
            END IF;
            v_stock := v_stock || jsonb_build_object(v_s.id::text, v_remaining);
            v_taken := v_taken || jsonb_build_object(v_quota_key, v_in_batch + 1);
            v_station[i] := v_s.id;
            v_camp[i] := v_c.id;
            v_quota[i] := v_c.daily_quota;
            v_response[i] := v_response[i] || jsonb_build_object('daily_quota', v_c.daily_quota);
        END rules;
    END LOOP;

    -- 3. The quota slots, in member order. Each claim takes its member's next free
    -- slot; a slot taken by a concurrent transaction (or by this batch's earlier claim
    -- of the same member) makes it move on, and with no slot left it is refused.
    FOR i IN
        SELECT u.i FROM unnest(v_member, v_station, v_outcome) WITH ORDINALITY AS u(m, st, o, i)
        WHERE u.st IS NOT NULL AND u.o IS NULL
        ORDER BY u.m, u.i
    LOOP
        v_claim[i] := nextval('claims_id_seq');
        FOR s IN v_used[i] + 1 .. v_quota[i] LOOP
            INSERT INTO claims (id, member_id, station_id, campaign_id, local_day, slot,
                                daily_quota, idempotency_key, h3_cell)
            VALUES (v_claim[i], v_member[i], v_station[i], v_camp[i], v_day[i], s,
                    v_quota[i], p_keys[i], p_h3_cells[i])
            ON CONFLICT ON CONSTRAINT claims_quota_slot DO NOTHING;
            IF FOUND THEN
                v_slot[i] := s;
                EXIT;
            END IF;
        END LOOP;
        IF v_slot[i] IS NULL THEN
            -- Give back the bottle this transaction took; nobody else could see it.
            UPDATE water_stock w SET remaining = w.remaining + 1
            WHERE w.station_id = v_station[i] AND w.local_day = v_day[i]
            RETURNING w.remaining INTO v_remaining;
            v_stock := v_stock || jsonb_build_object(v_station[i]::text, v_remaining);
            v_outcome[i] := 'quota_used';
        ELSE
            v_outcome[i] := 'granted';
        END IF;
    END LOOP;

    -- 4. The prizes, pool by pool: at most one per claim, a claim trying the pools in id
    -- order, each with its probability; a pool is decremented only while it has any.
    FOR v_pool IN
        SELECT p.id, p.name, p.probability, p.campaign_id FROM prize_pools p
        WHERE p.campaign_id = ANY (v_camp) AND p.remaining > 0 ORDER BY p.id
    LOOP
        FOR i IN 1 .. n LOOP
            CONTINUE WHEN v_replayed[i] OR v_outcome[i] IS DISTINCT FROM 'granted'
                OR v_prize[i] IS NOT NULL OR v_camp[i] IS DISTINCT FROM v_pool.campaign_id;
            IF random() < v_pool.probability THEN
                UPDATE prize_pools p SET remaining = p.remaining - 1
                WHERE p.id = v_pool.id AND p.remaining > 0;
                EXIT WHEN NOT FOUND;
                UPDATE claims c SET prize_pool_id = v_pool.id WHERE c.id = v_claim[i];
                v_prize[i] := v_pool.name;
            END IF;
        END LOOP;
    END LOOP;

    -- The answers of granted claims, last first: each reports the stock its station has
    -- after the batch plus the bottles of the station's granted claims decided after it.
    FOR s IN REVERSE cardinality(v_decided) .. 1 LOOP
        i := v_decided[s];
        CONTINUE WHEN v_outcome[i] <> 'granted';
        v_later := coalesce((v_after ->> v_station[i]::text)::integer, 0);
        v_after := v_after || jsonb_build_object(v_station[i]::text, v_later + 1);
        v_response[i] := v_response[i] || jsonb_build_object(
            'claim_code', claim_code(v_claim[i]),
            'claimed_at', now(),
            'prize', v_prize[i],
            'remaining_stock', (v_stock ->> v_station[i]::text)::integer + v_later,
            'claims_today', v_slot[i]);
    END LOOP;

    -- Repeats within the batch get their first claim's answer, as a retry would.
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN v_first[i] IS NULL;
        IF p_request_hashes[i] = p_request_hashes[v_first[i]] THEN
            v_outcome[i] := v_outcome[v_first[i]];
            v_response[i] := v_response[v_first[i]];
            v_replayed[i] := true;
        ELSE
            v_outcome[i] := 'idempotency_key_reused';
            v_response[i] := '{}';
        END IF;
    END LOOP;

    -- The answers, stored once, before the same commit as the claims they describe. The
    -- primary key still refuses a second answer for a key, whatever happened above.
    INSERT INTO claim_requests (member_id, idempotency_key, request_hash, outcome, response)
    SELECT v_member[d.i], p_keys[d.i], p_request_hashes[d.i], v_outcome[d.i], v_response[d.i]
    FROM unnest(v_decided) AS d(i);

    RETURN (SELECT jsonb_agg(jsonb_build_object('outcome', v_outcome[k],
                                                'replayed', v_replayed[k],
                                                'response', v_response[k]) ORDER BY k)
            FROM generate_series(1, n) AS k);
END $$;

-- A rating, with the station's aggregates (station_rating_summary) updated in the same
-- transaction. Writers of one station's ratings queue on its summary row, so the deltas
-- never interleave. The score is the Bayesian average (C*m + stars_sum) / (C + ratings);
-- m and C are passed by stations/visits/ratings.py (PRIOR_MEAN, PRIOR_WEIGHT).
-- Returns {"outcome": "rated" | "unknown_station" | "member_suspended" | "no_recent_visit", ...}.
-- A rating records whether the member's visits of the last 24 hours include a verified
-- one (visit_verified, migration 0025): a granted claim (its campaign's geofence, and
-- its presence code when the campaign requires one, were checked) or a check-in that
-- carried the station's valid presence code. Only such ratings' reports that the
-- listing is wrong put the station on the review queue.
CREATE OR REPLACE FUNCTION rate_station(
    p_member_id    bigint,
    p_station_id   bigint,
    p_stars        integer,
    p_tags         text[],
    p_comment      text,
    p_prior_mean   numeric,
    p_prior_weight numeric
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_tz       text;
    v_day      date;
    v_visit    record;
    v_verified boolean;
    v_old      record;
    v_replaced boolean;
    v_rating   record;
    v_summary  record;
    v_count    integer;
    v_sum      integer;
BEGIN
    SELECT s.time_zone INTO v_tz FROM stations s WHERE s.id = p_station_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unknown_station');
    END IF;
    v_day := (now() AT TIME ZONE v_tz)::date;
    IF (SELECT m.status FROM members m WHERE m.id = p_member_id) <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'member_suspended');
    END IF;

    SELECT v.kind, v.at INTO v_visit FROM (
        (SELECT 'claim' AS kind, c.claimed_at AS at FROM claims c
         WHERE c.member_id = p_member_id AND c.station_id = p_station_id
           AND c.claimed_at > now() - interval '24 hours'
         ORDER BY c.claimed_at DESC LIMIT 1)
        UNION ALL
        (SELECT 'checkin', k.checked_in_at FROM checkins k
         WHERE k.member_id = p_member_id AND k.station_id = p_station_id
           AND k.checked_in_at > now() - interval '24 hours'
         ORDER BY k.checked_in_at DESC LIMIT 1)
    ) v ORDER BY v.at DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'no_recent_visit');
    END IF;
    v_verified := EXISTS (
            SELECT 1 FROM claims c
            WHERE c.member_id = p_member_id AND c.station_id = p_station_id
              AND c.claimed_at > now() - interval '24 hours')
        OR EXISTS (
            SELECT 1 FROM checkins k
            WHERE k.member_id = p_member_id AND k.station_id = p_station_id
              AND k.presence_verified AND k.checked_in_at > now() - interval '24 hours');

    INSERT INTO station_rating_summary (station_id, score)
    VALUES (p_station_id, p_prior_mean) ON CONFLICT DO NOTHING;
    SELECT s.ratings, s.stars_sum INTO v_summary
    FROM station_rating_summary s WHERE s.station_id = p_station_id FOR UPDATE;

    SELECT r.stars, r.tags INTO v_old FROM ratings r
    WHERE r.member_id = p_member_id AND r.station_id = p_station_id AND r.local_day = v_day;
    v_replaced := FOUND;

    INSERT INTO ratings AS r (member_id, station_id, local_day, stars, tags, comment,
                              visit_kind, visited_at, visit_verified)
    VALUES (p_member_id, p_station_id, v_day, p_stars, p_tags, p_comment,
            v_visit.kind, v_visit.at, v_verified)
    ON CONFLICT ON CONSTRAINT ratings_one_per_member_station_day DO UPDATE
        SET stars = EXCLUDED.stars, tags = EXCLUDED.tags, comment = EXCLUDED.comment,
            visit_kind = EXCLUDED.visit_kind, visited_at = EXCLUDED.visited_at,
            visit_verified = EXCLUDED.visit_verified, updated_at = now()
    RETURNING r.id, r.local_day, r.stars, r.tags, r.comment, r.created_at, r.updated_at
    INTO v_rating;

    v_count := v_summary.ratings + CASE WHEN v_replaced THEN 0 ELSE 1 END;
    v_sum := v_summary.stars_sum + p_stars - coalesce(v_old.stars, 0);
    UPDATE station_rating_summary s SET
        ratings = v_count,
        stars_sum = v_sum,
        mean_stars = round(v_sum::numeric / v_count, 3),
        score = round((p_prior_weight * p_prior_mean + v_sum) / (p_prior_weight + v_count), 3),
        tag_counts = (
            SELECT coalesce(jsonb_object_agg(t.tag, t.n ORDER BY t.tag), '{}'::jsonb)
            FROM (
                SELECT d.tag, sum(d.n)::int AS n FROM (
                    SELECT e.key AS tag, e.value::int AS n FROM jsonb_each_text(s.tag_counts) e
                    UNION ALL SELECT unnest(p_tags), 1
                    UNION ALL SELECT unnest(coalesce(v_old.tags, '{}'::text[])), -1
                ) d GROUP BY d.tag HAVING sum(d.n) > 0
            ) t),
        updated_at = now()
    WHERE s.station_id = p_station_id
    RETURNING s.ratings, s.mean_stars, s.score, s.tag_counts INTO v_summary;

    RETURN jsonb_build_object(
        'outcome', 'rated',
        'replaced', v_replaced,
        'rating', jsonb_build_object(
            'id', v_rating.id, 'station_id', p_station_id, 'local_day', v_rating.local_day,
            'stars', v_rating.stars, 'tags', to_jsonb(v_rating.tags),
            'comment', v_rating.comment, 'visit', v_visit.kind,
            'visit_verified', v_verified,
            'created_at', v_rating.created_at, 'updated_at', v_rating.updated_at),
        'summary', jsonb_build_object(
            'ratings', v_summary.ratings, 'mean_stars', v_summary.mean_stars,
            'score', v_summary.score, 'tag_counts', v_summary.tag_counts));
END $$;
