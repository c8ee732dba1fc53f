-- Campaigns, water stock, claims, check-ins, ratings and the review queue.
-- A station's "today" is always its local date: now() AT TIME ZONE stations.time_zone.

-- name: claim_water_batch
SELECT claim_water_batch($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: claim_for_handover
SELECT c.id, c.station_id, c.local_day, c.handed_over_at, s.district_code,
       (now() AT TIME ZONE s.time_zone)::date AS station_today
FROM claims c JOIN stations s ON s.id = c.station_id
WHERE c.id = claim_id($1)
FOR UPDATE OF c

-- name: mark_handed_over
UPDATE claims SET handed_over_at = now(), handed_over_by = $2
WHERE id = $1 AND handed_over_at IS NULL

-- name: claim_view
SELECT claim_code(c.id) AS claim_code, c.local_day, c.claimed_at, c.handed_over_at, c.slot,
       c.daily_quota,
       jsonb_build_object('id', s.id, 'code', s.code, 'name', s.name) AS station,
       jsonb_build_object('id', k.id, 'name', k.name) AS campaign,
       p.name AS prize
FROM claims c
JOIN stations s ON s.id = c.station_id
JOIN campaigns k ON k.id = c.campaign_id
LEFT JOIN prize_pools p ON p.id = c.prize_pool_id
WHERE c.id = $1

-- name: claim_owner
SELECT claim_code(c.id) AS claim_code, c.member_id, c.station_id
FROM claims c WHERE c.id = claim_id($1)

-- name: member_claims
SELECT claim_code(c.id) AS claim_code, c.local_day, c.claimed_at, c.handed_over_at,
       jsonb_build_object('id', s.id, 'code', s.code, 'name', s.name) AS station,
       jsonb_build_object('id', k.id, 'name', k.name) AS campaign,
       p.name AS prize
FROM claims c
JOIN stations s ON s.id = c.station_id
JOIN campaigns k ON k.id = c.campaign_id
LEFT JOIN prize_pools p ON p.id = c.prize_pool_id
WHERE c.member_id = $1
ORDER BY c.claimed_at DESC
LIMIT $2

-- name: station_hours
-- The opening hours of stations by code, evaluated in Python before their claims are
-- decided (stations/visits/opening.py).
SELECT code, opening_hours, time_zone, country_code FROM stations WHERE code = ANY($1::text[])

-- name: stored_claim_answer
-- The answer stored under a member's Idempotency-Key, found by the claimant's token as
-- claim_water_batch finds it (a valid token of an enabled account); same_request tells
-- whether the request matches the one that key answered.
SELECT r.outcome, r.response, r.request_hash = $3 AS same_request
FROM api_tokens t
LEFT JOIN accounts a ON a.id = t.account_id
JOIN claim_requests r ON r.member_id = t.member_id AND r.idempotency_key = $2
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
  AND a.disabled_at IS NULL

-- name: station_claims_today
-- Today's claims at the given stations (each station's own local day).
SELECT claim_code(c.id) AS claim_code, c.local_day, c.claimed_at, c.handed_over_at,
       jsonb_build_object('id', s.id, 'code', s.code, 'name', s.name) AS station,
       jsonb_build_object('id', k.id, 'name', k.name) AS campaign,
       p.name AS prize
FROM stations s
JOIN claims c ON c.station_id = s.id AND c.local_day = (now() AT TIME ZONE s.time_zone)::date
JOIN campaigns k ON k.id = c.campaign_id
LEFT JOIN prize_pools p ON p.id = c.prize_pool_id
WHERE s.id = ANY($1::bigint[])
ORDER BY c.claimed_at DESC
LIMIT $2

-- name: check_in
-- The visit is recorded only for an active member within the radius of the station.
WITH st AS (
    SELECT s.id, s.code, s.name, s.time_zone,
           ST_Distance(s.geom, ST_SetSRID(ST_MakePoint($3, $2), 4326)::geography) AS distance_m
    FROM stations s WHERE s.code = $1
), member AS (
    SELECT m.status FROM members m WHERE m.id = $4
), visit AS (
    INSERT INTO checkins (member_id, station_id, local_day, h3_cell)
    SELECT $4, st.id, (now() AT TIME ZONE st.time_zone)::date, $5
    FROM st, member
    WHERE st.distance_m <= $6 AND member.status = 'active'
    RETURNING id, local_day, checked_in_at
)
SELECT st.id AS station_id, st.code AS station_code, st.name AS station_name,
       st.distance_m, (SELECT status FROM member) AS member_status,
       visit.id, visit.local_day, visit.checked_in_at
FROM st LEFT JOIN visit ON true

-- name: station_for_stock
SELECT s.id, s.time_zone, (now() AT TIME ZONE s.time_zone)::date AS today
FROM stations s WHERE s.id = $1

-- name: set_stock
-- A new allocation keeps what was already handed out: remaining = new - handed out.
INSERT INTO water_stock AS w (station_id, local_day, allocated, remaining)
VALUES ($1, $2, $3, $3)
ON CONFLICT (station_id, local_day) DO UPDATE
    SET allocated = EXCLUDED.allocated,
        remaining = EXCLUDED.allocated - (w.allocated - w.remaining),
        updated_at = now()
RETURNING station_id, local_day, allocated, remaining, allocated - remaining AS handed_out,
          updated_at

-- name: top_up_stock
-- A day nobody set starts from its default allocation (as a claim would start it); a day
-- that has its row gets the $3 bottles only.
INSERT INTO water_stock AS w (station_id, local_day, allocated, remaining)
VALUES ($1, $2, coalesce(water_default($1, $2), 0) + $3, coalesce(water_default($1, $2), 0) + $3)
ON CONFLICT (station_id, local_day) DO UPDATE
    SET allocated = w.allocated + $3,
        remaining = w.remaining + $3,
        updated_at = now()
RETURNING station_id, local_day, allocated, remaining, allocated - remaining AS handed_out,
          updated_at

-- name: get_stock
SELECT station_id, local_day, allocated, remaining, allocated - remaining AS handed_out,
       updated_at
FROM water_stock WHERE station_id = $1 AND local_day = $2

-- name: water_today
-- Each station's stock on its own local date at $2; a day nobody set shows its default
-- allocation, which the day's first claim will start from.
SELECT s.id AS station_id, d.day AS local_day,
       coalesce(w.allocated, d.fallback) AS allocated,
       coalesce(w.remaining, d.fallback) AS remaining
FROM stations s
CROSS JOIN LATERAL (
    SELECT day, CASE WHEN NOT EXISTS (SELECT 1 FROM water_stock x
                                      WHERE x.station_id = s.id AND x.local_day = day)
                     THEN water_default(s.id, day) END AS fallback
    FROM (SELECT (($2::timestamptz) AT TIME ZONE s.time_zone)::date AS day) t
) d
LEFT JOIN water_stock w ON w.station_id = s.id AND w.local_day = d.day
WHERE s.id = ANY($1::bigint[])

-- name: stock_defaults
-- Where a station's default allocation on day $2 comes from: its own, and the campaign
-- running there that day (the one water_default takes).
SELECT (SELECT d.daily_allocation FROM water_defaults d WHERE d.station_id = $1)
           AS station_default,
       (SELECT jsonb_build_object('id', c.id, 'name', c.name,
                                  'daily_allocation', c.daily_allocation)
        FROM campaign_stations cs JOIN campaigns c ON c.id = cs.campaign_id
        WHERE cs.station_id = $1 AND c.status = 'active'
          AND $2::date BETWEEN c.starts_on AND c.ends_on
        ORDER BY c.id LIMIT 1) AS campaign,
       water_default($1, $2) AS default_allocation

-- name: set_water_default
INSERT INTO water_defaults AS d (station_id, daily_allocation, updated_by)
VALUES ($1, $2, $3)
ON CONFLICT (station_id) DO UPDATE
    SET daily_allocation = EXCLUDED.daily_allocation, updated_by = EXCLUDED.updated_by,
        updated_at = now()

-- name: clear_water_default
DELETE FROM water_defaults WHERE station_id = $1

-- name: insert_campaign
INSERT INTO campaigns (name, starts_on, ends_on, daily_start, daily_end, daily_quota, geofence_m,
                       daily_allocation, branch)
VALUES ($1, $2, $3, $4::text::time, $5::text::time, $6, $7, $8, $9)
RETURNING id

-- name: update_campaign
UPDATE campaigns SET
    name = coalesce($2, name),
    starts_on = coalesce($3, starts_on),
    ends_on = coalesce($4, ends_on),
    daily_start = coalesce($5::text::time, daily_start),
    daily_end = coalesce($6::text::time, daily_end),
    daily_quota = coalesce($7, daily_quota),
    geofence_m = coalesce($8, geofence_m),
    status = coalesce($9, status),
    daily_allocation = CASE WHEN $10 THEN $11 ELSE daily_allocation END,
    updated_at = now()
WHERE id = $1
RETURNING id

-- name: insert_prize_pools
INSERT INTO prize_pools (campaign_id, name, total, remaining, probability)
SELECT $1, n, t, t, p FROM unnest($2::text[], $3::int[], $4::float8[]) AS x(n, t, p)

-- name: add_campaign_stations
INSERT INTO campaign_stations (campaign_id, station_id)
SELECT $1, unnest($2::bigint[])
ON CONFLICT DO NOTHING

-- name: remove_campaign_stations
DELETE FROM campaign_stations WHERE campaign_id = $1 AND station_id = ANY($2::bigint[])

-- name: all_water_station_ids
-- Stations that hand out water: water points and love stations with drinking water, of
-- union branch $1 (NULL: all).
SELECT id FROM stations
WHERE status <> 'closed' AND (kind = 'water_point' OR 'drinking_water' = ANY(amenities))
  AND in_branch(district_code, $1)
ORDER BY id

-- name: campaign_view
-- One campaign ($1) or all, of union branch $2 (NULL: all branches), with a station of
-- $3 (NULL: any; operators see the campaigns their stations take part in).
SELECT c.id, c.name, c.starts_on, c.ends_on,
       to_char(c.daily_start, 'HH24:MI') AS daily_start,
       to_char(c.daily_end, 'HH24:MI') AS daily_end,
       c.daily_quota, c.geofence_m, c.daily_allocation, c.branch, c.status,
       c.created_at, c.updated_at,
       (SELECT count(*) FROM campaign_stations cs WHERE cs.campaign_id = c.id) AS stations,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'id', p.id, 'name', p.name, 'total', p.total, 'remaining', p.remaining,
                    'probability', p.probability) ORDER BY p.id)
                 FROM prize_pools p WHERE p.campaign_id = c.id), '[]'::jsonb) AS prizes
FROM campaigns c
WHERE ($1::bigint IS NULL OR c.id = $1)
  AND in_branch(c.branch, $2)
  AND ($3::bigint[] IS NULL OR EXISTS (
          SELECT 1 FROM campaign_stations cs
          WHERE cs.campaign_id = c.id AND cs.station_id = ANY($3::bigint[])))
ORDER BY c.starts_on DESC, c.id

-- name: campaign_station_ids
SELECT station_id FROM campaign_stations WHERE campaign_id = $1 ORDER BY station_id

-- name: rate_station
SELECT rate_station($1, $2, $3, $4, $5, $6, $7)

-- name: rating_eligibility
-- What rate_station() would find now, without writing: the member's status, their
-- latest visit (claim or check-in) at the station within $3, and today's rating.
SELECT m.status AS member_status, v.kind AS visit_kind, v.at AS visited_at,
       r.stars, r.tags
FROM stations s
JOIN members m ON m.id = $1
LEFT JOIN LATERAL (
    SELECT x.kind, x.at FROM (
        (SELECT 'claim' AS kind, c.claimed_at AS at FROM claims c
         WHERE c.member_id = m.id AND c.station_id = s.id AND c.claimed_at > now() - $3::interval
         ORDER BY c.claimed_at DESC LIMIT 1)
        UNION ALL
        (SELECT 'checkin', k.checked_in_at FROM checkins k
         WHERE k.member_id = m.id AND k.station_id = s.id
           AND k.checked_in_at > now() - $3::interval
         ORDER BY k.checked_in_at DESC LIMIT 1)
    ) x ORDER BY x.at DESC LIMIT 1
) v ON true
LEFT JOIN ratings r
    ON r.member_id = m.id AND r.station_id = s.id
   AND r.local_day = (now() AT TIME ZONE s.time_zone)::date
WHERE s.id = $2

-- name: rating_summaries
SELECT s.id AS station_id, coalesce(r.ratings, 0) AS ratings, r.mean_stars,
       r.score, coalesce(r.tag_counts, '{}'::jsonb) AS tag_counts
FROM stations s
LEFT JOIN station_rating_summary r ON r.station_id = s.id
WHERE s.id = ANY($1::bigint[])

-- name: recent_reports
-- Distinct members who reported a listing as wrong within the window, since the last
-- review of the station, by station.
SELECT r.station_id, count(DISTINCT r.member_id) AS reporters,
       max(r.updated_at) AS last_report_at,
       (SELECT jsonb_object_agg(t.tag, t.n) FROM (
            SELECT tag, count(DISTINCT r2.member_id) AS n
            FROM ratings r2, unnest(r2.tags) AS tag
            WHERE r2.station_id = r.station_id AND tag = ANY($4::text[])
              AND r2.updated_at > $2::timestamptz - $3::interval
              AND r2.updated_at > coalesce(v.reviewed_at, '-infinity')
            GROUP BY tag) t) AS tags
FROM ratings r
LEFT JOIN station_reviews v ON v.station_id = r.station_id
WHERE r.station_id = ANY($1::bigint[])
  AND r.tags && $4::text[]
  AND r.updated_at > $2::timestamptz - $3::interval
  AND r.updated_at <= $2::timestamptz
  AND r.updated_at > coalesce(v.reviewed_at, '-infinity')
GROUP BY r.station_id, v.reviewed_at

-- name: review_queue
-- Stations (all, or the given ones $1, of union branch $5) with at least $4 distinct
-- recent reporters.
SELECT r.station_id, s.code, s.name, s.status, s.operator,
       count(DISTINCT r.member_id) AS reporters,
       max(r.updated_at) AS last_report_at,
       (SELECT jsonb_object_agg(t.tag, t.n) FROM (
            SELECT tag, count(DISTINCT r2.member_id) AS n
            FROM ratings r2, unnest(r2.tags) AS tag
            WHERE r2.station_id = r.station_id AND tag = ANY($3::text[])
              AND r2.updated_at > now() - $2::interval
              AND r2.updated_at > coalesce(v.reviewed_at, '-infinity')
            GROUP BY tag) t) AS tags
FROM ratings r
JOIN stations s ON s.id = r.station_id
LEFT JOIN station_reviews v ON v.station_id = r.station_id
WHERE ($1::bigint[] IS NULL OR r.station_id = ANY($1::bigint[]))
  AND in_branch(s.district_code, $5)
  AND r.tags && $3::text[]
  AND r.updated_at > now() - $2::interval
  AND r.updated_at > coalesce(v.reviewed_at, '-infinity')
GROUP BY r.station_id, s.code, s.name, s.status, s.operator, v.reviewed_at
HAVING count(DISTINCT r.member_id) >= $4
ORDER BY count(DISTINCT r.member_id) DESC, max(r.updated_at) DESC

-- name: mark_reviewed
-- The review, and the station verified at the same instant (its history records who and
-- why through the transaction's actor). Run in stations.db.connection.transaction.
WITH review AS (
    INSERT INTO station_reviews (station_id, reviewed_at, reviewed_by, note)
    VALUES ($1, now(), $2, $3)
    ON CONFLICT (station_id) DO UPDATE
        SET reviewed_at = now(), reviewed_by = EXCLUDED.reviewed_by, note = EXCLUDED.note
    RETURNING station_id, reviewed_at, reviewed_by, note
), verified AS (
    UPDATE stations s SET verified_at = r.reviewed_at
    FROM review r WHERE s.id = r.station_id
)
SELECT station_id, reviewed_at, reviewed_by, note FROM review

-- name: station_exists
SELECT id, code, name FROM stations WHERE id = $1

-- name: stations_for_posters
SELECT id, code, name, name_en, kind, address FROM stations
WHERE ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))
  AND status <> 'closed'
ORDER BY code

-- name: station_for_poster
SELECT id, code, name, name_en, kind, address FROM stations WHERE id = $1

-- name: station_by_code
SELECT id, code, name, name_en, kind, address FROM stations WHERE code = $1

-- name: station_glance
SELECT s.id, s.code, s.name, s.name_en, s.kind, s.status, s.opening_hours, s.time_zone,
       s.country_code, s.amenities, s.contact, s.address, s.version,
       (now() AT TIME ZONE s.time_zone)::date AS local_day
FROM stations s WHERE s.id = $1

-- name: claims_today_counts
-- The station's claims of its local today: granted, waiting for the bottle, handed over.
SELECT count(*) AS granted,
       count(*) FILTER (WHERE c.handed_over_at IS NULL) AS waiting,
       count(*) FILTER (WHERE c.handed_over_at IS NOT NULL) AS handed_over
FROM stations s
JOIN claims c ON c.station_id = s.id AND c.local_day = (now() AT TIME ZONE s.time_zone)::date
WHERE s.id = $1

-- name: campaign_station_choices
-- The stations a campaign of union branch $1 (NULL: all) can take part with — water
-- points and love stations with drinking water, not closed — by district, for choosing
-- them by district in the console; at most $2.
SELECT s.id, s.code, s.name, s.kind, s.district, s.district_code, s.status
FROM stations s
WHERE s.status <> 'closed' AND (s.kind = 'water_point' OR 'drinking_water' = ANY(s.amenities))
  AND in_branch(s.district_code, $1)
ORDER BY s.district_code NULLS LAST, s.district, s.name, s.id
LIMIT $2

-- name: remember_top_up
-- A top-up's Idempotency-Key ($2) for station $1: a row when it is new (the bottles are
-- to be added), none when that key was used already (a concurrent twin waits for the
-- first to commit, then finds it).
INSERT INTO stock_top_ups (station_id, idem_key, local_day, count)
VALUES ($1, $2, $3, $4)
ON CONFLICT (station_id, idem_key) DO NOTHING
RETURNING 1

-- name: top_up_by_key
SELECT local_day, count FROM stock_top_ups WHERE station_id = $1 AND idem_key = $2

-- name: forget_old_top_ups
DELETE FROM stock_top_ups WHERE station_id = $1 AND created_at < now() - interval '7 days'

-- name: expire_claim_log
-- Stored answers to claim requests older than $1 days: refusals (with the member's coarse
-- distance from the station) and granted requests' keys. The claims stay.
WITH gone AS (
    DELETE FROM claim_requests WHERE created_at < now() - make_interval(days => $1::int)
    RETURNING 1
)
SELECT count(*) FROM gone
