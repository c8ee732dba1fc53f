-- Leaner water claims: fewer writes and locks per claim, the same guarantees.
--
-- * The Idempotency-Key guard becomes a transaction-scoped advisory lock on (member, key)
--   instead of inserting the key's row first and updating it with the answer at the end:
--   one write to claim_requests per claim instead of two. A concurrent duplicate still
--   waits for the first to commit and then replays its answer; the primary key still
--   refuses a second answer for a key.
-- * claim_requests loses its foreign key to members: the member id comes from the token
--   joined to members in the same transaction, and members are suspended, never deleted.
--   The check cost a row lock on the member in every claim. claims keeps its keys.
-- * claims_member_time goes: a member's claims are found through
--   claims_idempotency_key_unique (member_id first) and sorted; a member has at most a
--   few hundred.

ALTER TABLE claim_requests DROP CONSTRAINT claim_requests_member_id_fkey;
DROP INDEX claims_member_time;

CREATE OR REPLACE FUNCTION claim_water(
    p_token_hash      bytea,
    p_idempotency_key text,
    p_request_hash    bytea,
    p_station_code    text,
    p_lat             double precision,
    p_lng             double precision,
    p_h3_cell         bigint
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_member_id bigint;
    v_role      text;
    v_member_status text;
    v_prev      record;
    v_station   record;
    v_camp      record;
    v_pool      record;
    v_prize_id  bigint;
    v_prize     text;
    v_local     timestamp;
    v_day       date;
    v_time      time;
    v_point     geography;
    v_distance  double precision;
    v_used      integer;
    v_remaining integer;
    v_claim_id  bigint;
    v_slot      integer;
    v_outcome   text;
    v_response  jsonb;
BEGIN
    -- The bearer token, checked in the claim's own transaction: a token revoked a
    -- moment ago cannot claim, whatever a worker's principal cache still holds.
    SELECT t.member_id, a.role, m.status INTO v_member_id, v_role, v_member_status
    FROM api_tokens t
    LEFT JOIN accounts a ON a.id = t.account_id
    LEFT JOIN members m ON m.id = t.member_id
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL AND t.expires_at > now()
      AND a.disabled_at IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'token_invalid', 'replayed', false,
                                  'response', '{}'::jsonb);
    ELSIF v_member_id IS NULL THEN
        RETURN jsonb_build_object('outcome', 'not_a_member', 'replayed', false,
                                  'response', jsonb_build_object('role', v_role));
    END IF;

    -- The key: a transaction-scoped lock on (member, key) makes a concurrent duplicate
    -- wait here until the first commits; it then finds and replays the stored answer.
    -- (A hash collision with another key only makes one of them wait a moment.)
    PERFORM pg_advisory_xact_lock(
        hashtextextended(v_member_id::text || ':' || p_idempotency_key, 7340020));
    SELECT r.request_hash, r.outcome, r.response INTO v_prev
    FROM claim_requests r
    WHERE r.member_id = v_member_id AND r.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        IF v_prev.request_hash <> p_request_hash THEN
            RETURN jsonb_build_object('outcome', 'idempotency_key_reused', 'replayed', false,
                                      'response', '{}'::jsonb);
        END IF;
        RETURN jsonb_build_object('outcome', v_prev.outcome, 'replayed', true,
                                  'response', v_prev.response);
    END IF;

    <<rules>>
    BEGIN
        SELECT s.id, s.code, s.name, s.status, s.time_zone, s.geom INTO v_station
        FROM stations s WHERE s.code = p_station_code;
        IF NOT FOUND THEN
            v_outcome := 'unknown_station';
            v_response := jsonb_build_object('station_code', p_station_code);
            EXIT rules;
        END IF;
        v_local := now() AT TIME ZONE v_station.time_zone;
        v_day := v_local::date;
        v_time := v_local::time;
        v_response := jsonb_build_object(
            'station', jsonb_build_object('id', v_station.id, 'code', v_station.code,
                                          'name', v_station.name),
            'local_day', v_day);

        IF v_member_status <> 'active' THEN
            v_outcome := 'member_suspended';
            EXIT rules;
        END IF;

        IF v_station.status <> 'active' THEN
            v_outcome := 'station_closed';
            v_response := v_response || jsonb_build_object('station_status', v_station.status);
            EXIT rules;
        END IF;

        -- The campaign running here today; the lowest id wins when several overlap.
        SELECT c.id, c.name, c.daily_start, c.daily_end, c.daily_quota, c.geofence_m
        INTO v_camp
        FROM campaign_stations cs JOIN campaigns c ON c.id = cs.campaign_id
        WHERE cs.station_id = v_station.id AND c.status = 'active'
          AND v_day BETWEEN c.starts_on AND c.ends_on
        ORDER BY (v_time >= c.daily_start AND v_time < c.daily_end) DESC, c.id
        LIMIT 1;
        IF NOT FOUND THEN
            v_outcome := CASE WHEN EXISTS (
                SELECT 1 FROM campaigns c WHERE c.status = 'active'
                  AND v_day BETWEEN c.starts_on AND c.ends_on)
                THEN 'station_not_in_campaign' ELSE 'campaign_closed' END;
            EXIT rules;
        END IF;
        v_response := v_response || jsonb_build_object(
            'campaign', jsonb_build_object('id', v_camp.id, 'name', v_camp.name));
        IF NOT (v_time >= v_camp.daily_start AND v_time < v_camp.daily_end) THEN
            v_outcome := 'campaign_closed';
            v_response := v_response || jsonb_build_object(
                'daily_start', to_char(v_camp.daily_start, 'HH24:MI'),
                'daily_end', to_char(v_camp.daily_end, 'HH24:MI'));
            EXIT rules;
        END IF;

        -- On the sphere: within a geofence's few hundred metres it differs from the
        -- spheroid by well under a metre, at a fraction of the cost.
        v_point := ST_SetSRID(ST_MakePoint(p_lng, p_lat), 4326)::geography;
        IF NOT ST_DWithin(v_station.geom, v_point, v_camp.geofence_m, false) THEN
            v_distance := ST_Distance(v_station.geom, v_point, false);
            v_outcome := 'outside_geofence';
            v_response := v_response || jsonb_build_object(
                'distance_m', round(v_distance), 'geofence_m', v_camp.geofence_m);
            EXIT rules;
        END IF;

        SELECT count(*) INTO v_used FROM claims c
        WHERE c.campaign_id = v_camp.id AND c.member_id = v_member_id AND c.local_day = v_day;
        IF v_used >= v_camp.daily_quota THEN
            v_outcome := 'quota_used';
            v_response := v_response || jsonb_build_object('daily_quota', v_camp.daily_quota);
            EXIT rules;
        END IF;

        -- The bottle: a conditional decrement; its row lock is held until commit, so
        -- concurrent claims at this station queue here and see each other's decrements.
        UPDATE water_stock w SET remaining = w.remaining - 1, updated_at = now()
        WHERE w.station_id = v_station.id AND w.local_day = v_day AND w.remaining > 0
        RETURNING w.remaining INTO v_remaining;
        IF NOT FOUND THEN
            v_outcome := 'out_of_stock';
            v_response := v_response || jsonb_build_object('stock_set', EXISTS (
                SELECT 1 FROM water_stock w
                WHERE w.station_id = v_station.id AND w.local_day = v_day));
            EXIT rules;
        END IF;

        -- The claim takes the member's next free quota slot. Two concurrent claims of
        -- one member both counted the same slots as used; the unique slot makes the
        -- later one wait and move on, and when no slot is left it is refused.
        v_claim_id := nextval('claims_id_seq');
        FOR s IN v_used + 1 .. v_camp.daily_quota LOOP
            INSERT INTO claims (id, member_id, station_id, campaign_id, local_day, slot,
                                daily_quota, idempotency_key, h3_cell)
            VALUES (v_claim_id, v_member_id, v_station.id, v_camp.id,
                    v_day, s, v_camp.daily_quota, p_idempotency_key, p_h3_cell)
            ON CONFLICT ON CONSTRAINT claims_quota_slot DO NOTHING;
            IF FOUND THEN
                v_slot := s;
                EXIT;
            END IF;
        END LOOP;
        IF v_slot IS NULL THEN
            -- Give back the bottle this transaction took; nobody else could see it.
            UPDATE water_stock w SET remaining = w.remaining + 1
            WHERE w.station_id = v_station.id AND w.local_day = v_day;
            v_outcome := 'quota_used';
            v_response := v_response || jsonb_build_object('daily_quota', v_camp.daily_quota);
            EXIT rules;
        END IF;

        -- The prize: at most one per claim; a pool is decremented only while it has any.
        -- Drawn after the slot is taken, so a transaction that holds a pool's row never
        -- waits for another one's slot (no lock cycle between two claims of one member).
        FOR v_pool IN
            SELECT p.id, p.name, p.probability FROM prize_pools p
            WHERE p.campaign_id = v_camp.id AND p.remaining > 0 ORDER BY p.id
        LOOP
            IF random() < v_pool.probability THEN
                UPDATE prize_pools p SET remaining = p.remaining - 1
                WHERE p.id = v_pool.id AND p.remaining > 0
                RETURNING p.id, p.name INTO v_prize_id, v_prize;
                IF FOUND THEN
                    UPDATE claims c SET prize_pool_id = v_prize_id WHERE c.id = v_claim_id;
                    EXIT;
                END IF;
            END IF;
        END LOOP;

        v_outcome := 'granted';
        v_response := v_response || jsonb_build_object(
            'claim_code', claim_code(v_claim_id),
            'claimed_at', now(),
            'prize', v_prize,
            'remaining_stock', v_remaining,
            'daily_quota', v_camp.daily_quota,
            'claims_today', v_slot);
    END rules;

    -- The answer, stored once, before the same commit as the claim it describes. The
    -- primary key still refuses a second answer for a key, whatever happened above.
    INSERT INTO claim_requests (member_id, idempotency_key, request_hash, outcome, response)
    VALUES (v_member_id, p_idempotency_key, p_request_hash, v_outcome, v_response);
    RETURN jsonb_build_object('outcome', v_outcome, 'replayed', false, 'response', v_response);
END $$;

