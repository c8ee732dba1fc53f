-- Campaign reports (stations/visits/reports.py): what a union administrator reports to
-- the higher union. Every query takes the campaign ($1) and the local days from ($2) to
-- ($3), both included; claims are counted by their station's local day. One query per
-- table: a report is a handful of statements whatever the number of stations or days.
-- Claims are found by the claims_quota_slot index, whose first column is the campaign.

-- name: report_today
-- The latest local today among the campaign's stations (the server's UTC day without any).
SELECT coalesce(max((now() AT TIME ZONE s.time_zone)::date), (now() AT TIME ZONE 'UTC')::date)
FROM campaign_stations cs
JOIN stations s ON s.id = cs.station_id
WHERE cs.campaign_id = $1

-- name: report_totals
-- The range's figures, and today's (each station's own local day, whatever the range).
SELECT count(*) FILTER (WHERE c.local_day BETWEEN $2 AND $3) AS claims,
       count(c.handed_over_at) FILTER (WHERE c.local_day BETWEEN $2 AND $3) AS handed_over,
       count(DISTINCT c.member_id) FILTER (WHERE c.local_day BETWEEN $2 AND $3) AS members,
       count(c.prize_pool_id) FILTER (WHERE c.local_day BETWEEN $2 AND $3) AS prizes,
       count(DISTINCT c.station_id) FILTER (WHERE c.local_day BETWEEN $2 AND $3)
           AS stations_with_claims,
       count(*) FILTER (WHERE c.local_day = (now() AT TIME ZONE s.time_zone)::date)
           AS claims_today,
       count(c.handed_over_at) FILTER (WHERE c.local_day = (now() AT TIME ZONE s.time_zone)::date)
           AS handed_over_today,
       count(DISTINCT c.member_id)
           FILTER (WHERE c.local_day = (now() AT TIME ZONE s.time_zone)::date) AS members_today,
       (SELECT count(*) FROM campaign_stations cs WHERE cs.campaign_id = $1) AS stations
FROM claims c
JOIN stations s ON s.id = c.station_id
WHERE c.campaign_id = $1

-- name: report_by_day
-- Every day of the range, days without a claim too (a chart shows the gap).
WITH counted AS (
    SELECT c.local_day, count(*) AS claims, count(c.handed_over_at) AS handed_over,
           count(DISTINCT c.member_id) AS members
    FROM claims c
    WHERE c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
    GROUP BY c.local_day
)
SELECT d.day::date AS day, coalesce(k.claims, 0) AS claims,
       coalesce(k.handed_over, 0) AS handed_over, coalesce(k.members, 0) AS members
FROM generate_series($2::date, $3::date, interval '1 day') AS d(day)
LEFT JOIN counted k ON k.local_day = d.day::date
ORDER BY d.day

-- name: report_by_station
-- The campaign's stations (without a claim too) and any station that had claims of it
-- before it left the campaign; most claims first.
WITH taking_part AS (
    SELECT cs.station_id FROM campaign_stations cs WHERE cs.campaign_id = $1
    UNION
    SELECT DISTINCT c.station_id FROM claims c
    WHERE c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
), counted AS (
    SELECT c.station_id, count(*) AS claims, count(c.handed_over_at) AS handed_over,
           count(DISTINCT c.member_id) AS members, max(c.local_day) AS last_claim_day
    FROM claims c
    WHERE c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
    GROUP BY c.station_id
)
SELECT s.id AS station_id, s.code, s.name, s.district, s.district_code,
       coalesce(k.claims, 0) AS claims, coalesce(k.handed_over, 0) AS handed_over,
       coalesce(k.members, 0) AS members, k.last_claim_day
FROM taking_part t
JOIN stations s ON s.id = t.station_id
LEFT JOIN counted k ON k.station_id = s.id
ORDER BY coalesce(k.claims, 0) DESC, s.code

-- name: report_by_district
-- By the stations' district (code and name); stations counts those taking part.
WITH taking_part AS (
    SELECT cs.station_id FROM campaign_stations cs WHERE cs.campaign_id = $1
    UNION
    SELECT DISTINCT c.station_id FROM claims c
    WHERE c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
)
SELECT s.district_code, min(s.district) AS district, count(DISTINCT s.id) AS stations,
       count(c.id) AS claims, count(c.handed_over_at) AS handed_over,
       count(DISTINCT c.member_id) AS members
FROM taking_part t
JOIN stations s ON s.id = t.station_id
LEFT JOIN claims c
       ON c.station_id = s.id AND c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
GROUP BY s.district_code
ORDER BY count(c.id) DESC, s.district_code NULLS LAST

-- name: report_by_occupation
-- By the claimant's occupation as the member list says it now.
SELECT m.occupation, count(*) AS claims, count(c.handed_over_at) AS handed_over,
       count(DISTINCT c.member_id) AS members
FROM claims c
JOIN members m ON m.id = c.member_id
WHERE c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
GROUP BY m.occupation

-- name: report_prizes
-- Each prize pool: its total, what is left now, and what the range's claims won.
SELECT p.id, p.name, p.total, p.remaining, p.total - p.remaining AS awarded,
       count(c.id) AS awarded_in_range
FROM prize_pools p
LEFT JOIN claims c
       ON c.prize_pool_id = p.id AND c.campaign_id = $1 AND c.local_day BETWEEN $2 AND $3
WHERE p.campaign_id = $1
GROUP BY p.id
ORDER BY p.id

-- name: report_stock_out
-- The campaign's stations whose water ran out (no bottle left) on days of the range:
-- how many days, the last one, and whether it is out today.
SELECT s.id AS station_id, s.code, s.name, s.district, count(*) AS days_out,
       max(w.local_day) AS last_day_out,
       bool_or(w.local_day = (now() AT TIME ZONE s.time_zone)::date) AS out_today
FROM campaign_stations cs
JOIN stations s ON s.id = cs.station_id
JOIN water_stock w ON w.station_id = s.id AND w.local_day BETWEEN $2 AND $3 AND w.remaining = 0
WHERE cs.campaign_id = $1
GROUP BY s.id
ORDER BY bool_or(w.local_day = (now() AT TIME ZONE s.time_zone)::date) DESC,
         max(w.local_day) DESC, s.code

-- name: report_silent
-- The campaign's active stations without a claim for at least $4 days up to the end of
-- the range or the station's today, whichever is first. A station that never had one
-- counts from the start of the range.
WITH st AS (
    SELECT s.id, s.code, s.name, s.district,
           least((now() AT TIME ZONE s.time_zone)::date, $3::date) AS as_of
    FROM campaign_stations cs
    JOIN stations s ON s.id = cs.station_id
    WHERE cs.campaign_id = $1 AND s.status = 'active'
), last AS (
    SELECT c.station_id, max(c.local_day) AS last_claim_day
    FROM claims c
    WHERE c.campaign_id = $1 AND c.local_day <= $3
    GROUP BY c.station_id
)
SELECT st.id AS station_id, st.code, st.name, st.district, l.last_claim_day,
       st.as_of - greatest(l.last_claim_day, $2::date - 1) AS days_silent
FROM st
LEFT JOIN last l ON l.station_id = st.id
WHERE st.as_of >= $2::date
  AND st.as_of - greatest(l.last_claim_day, $2::date - 1) >= $4
ORDER BY days_silent DESC, st.code

-- name: report_ratings
-- Members' ratings of the campaign's stations on days of the range: how many, their mean
-- and the reports that a listing is wrong (no water; closed although listed open).
-- Stations with the most reports first, then the lowest marks.
SELECT s.id AS station_id, s.code, s.name, s.district,
       count(*)::integer AS ratings,
       round(avg(r.stars), 2)::float8 AS mean_stars,
       count(*) FILTER (WHERE 'no_water' = ANY (r.tags))::integer AS no_water,
       count(*) FILTER (WHERE 'closed_when_listed_open' = ANY (r.tags))::integer
           AS closed_when_listed_open
FROM campaign_stations cs
JOIN stations s ON s.id = cs.station_id
JOIN ratings r ON r.station_id = s.id AND r.local_day BETWEEN $2 AND $3
WHERE cs.campaign_id = $1
GROUP BY s.id
ORDER BY count(*) FILTER (WHERE r.tags && ARRAY['no_water', 'closed_when_listed_open']) DESC,
         avg(r.stars), s.code
