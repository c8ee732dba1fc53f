-- A stored outside_geofence refusal keeps a coarse distance: rounded up to the next 100 m
-- (coarse_distance_m). The answer names the member, and with the station an exact
-- distance would put them on a circle a metre wide; the rider only needs to know to walk
-- closer. Stored answers expire with the claim log (stations campaigns expire-claim-log).
-- claim_water_batch is today's definition (stations/sql/functions/visits.sql) with that
-- one change.
CREATE OR REPLACE FUNCTION coarse_distance_m(metres double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ceil(metres / 100.0) * 100)::integer;

-- Refusals stored before keep their exact distance until they expire; round them now.
UPDATE claim_requests
SET response = jsonb_set(response, '{distance_m}',
                         to_jsonb(coarse_distance_m((response ->> 'distance_m')::double precision)))
WHERE outcome = 'outside_geofence' AND response ? 'distance_m';

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
