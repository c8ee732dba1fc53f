-- Staff in a browser: passwords, one-time password links, sessions, throttled attempts,
-- union branches.

-- name: throttle_wait
-- Seconds the longest-waiting of the keys ($1 kinds, $2 key hashes) must still wait.
SELECT max(extract(epoch FROM t.blocked_until - now()))
FROM throttles t
JOIN unnest($1::text[], $2::bytea[]) AS k(kind, key_hash)
  ON t.kind = k.kind AND t.key_hash = k.key_hash
WHERE t.blocked_until > now()

-- name: throttle_count_failure
-- One more failure of a key; a streak quiet for $3 seconds starts again at one. The row
-- stays locked until the caller's transaction ends (throttle_block sets its wait).
INSERT INTO throttles AS t (kind, key_hash, failures, last_failure_at, blocked_until)
VALUES ($1, $2, 1, now(), now())
ON CONFLICT (kind, key_hash) DO UPDATE
    SET failures = CASE WHEN t.last_failure_at > now() - make_interval(secs => $3)
                        THEN t.failures + 1 ELSE 1 END,
        last_failure_at = now()
RETURNING failures

-- name: throttle_block
UPDATE throttles SET blocked_until = now() + make_interval(secs => $3)
WHERE kind = $1 AND key_hash = $2

-- name: throttle_forget
-- Ends a key's streak; answers what it was (failures, the last one's time), if any.
DELETE FROM throttles WHERE kind = $1 AND key_hash = $2
RETURNING failures, last_failure_at

-- name: throttle_prune
-- Streaks nobody has added to for $1 seconds and that no longer block.
DELETE FROM throttles
WHERE last_failure_at < now() - make_interval(secs => $1) AND blocked_until < now()

-- name: account_for_sign_in
SELECT id, role, name, branch, password_hash, disabled_at FROM accounts WHERE name = $1

-- name: set_password
UPDATE accounts SET password_hash = $2, password_set_at = now() WHERE id = $1

-- name: revoke_account_sessions
UPDATE staff_sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL

-- name: insert_password_link
-- A new link replaces the account's unused ones.
WITH old AS (
    UPDATE password_links SET expires_at = least(expires_at, now())
    WHERE account_id = $2 AND used_at IS NULL AND expires_at > now()
)
INSERT INTO password_links (token_hash, account_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
RETURNING expires_at

-- name: use_password_link
-- The link's account, once: the same statement marks it used.
UPDATE password_links l SET used_at = now()
FROM accounts a
WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()
  AND a.id = l.account_id AND a.disabled_at IS NULL
RETURNING a.id, a.name, a.role

-- name: insert_session
INSERT INTO staff_sessions (token_hash, account_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
RETURNING id, created_at, expires_at

-- name: resolve_session
-- A session by its token hash, whether it is still live ($2: the idle limit in seconds),
-- and its account; a live session's last_seen_at moves at most once a minute (a write
-- per request would cost every console click a WAL flush).
WITH s AS (
    SELECT s.id, s.account_id, s.created_at, s.last_seen_at, s.expires_at,
           s.revoked_at IS NULL AND s.expires_at > now()
               AND s.last_seen_at > now() - make_interval(secs => $2)
               AND a.disabled_at IS NULL AS live,
           a.role, a.name, a.branch,
           CASE WHEN a.role = 'operator'
                THEN ARRAY(SELECT os.station_id FROM operator_stations os
                           WHERE os.account_id = a.id ORDER BY os.station_id)
                ELSE '{}'::bigint[] END AS station_ids
    FROM staff_sessions s JOIN accounts a ON a.id = s.account_id
    WHERE s.token_hash = $1
), touched AS (
    UPDATE staff_sessions t SET last_seen_at = now()
    FROM s
    WHERE t.id = s.id AND s.live AND t.last_seen_at < now() - interval '1 minute'
    RETURNING t.last_seen_at
)
SELECT s.*, coalesce((SELECT last_seen_at FROM touched), s.last_seen_at) AS seen_at FROM s

-- name: revoke_session
UPDATE staff_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL

-- name: insert_branch
INSERT INTO branches (code, name) VALUES ($1, $2)
RETURNING code, name, created_at

-- name: list_branches
-- The branches under $1 (NULL: all), each with the code of the nearest branch above it.
SELECT b.code, b.name, b.created_at,
       (SELECT p.code FROM branches p
        WHERE starts_with(b.code, p.code) AND p.code <> b.code
        ORDER BY length(p.code) DESC LIMIT 1) AS parent
FROM branches b
WHERE in_branch(b.code, $1)
ORDER BY b.code

-- name: branch_by_code
SELECT code, name, created_at FROM branches WHERE code = $1

-- name: stations_outside_branch
-- Which of the stations $1 are not under branch $2 (ids, in order).
SELECT s.id FROM stations s
WHERE s.id = ANY($1::bigint[]) AND NOT in_branch(s.district_code, $2)
ORDER BY s.id

-- name: station_district
SELECT id, district_code FROM stations WHERE id = $1

-- name: campaign_branch
SELECT id, branch FROM campaigns WHERE id = $1

-- name: stations_outside_branch_in_region
-- Open or paused stations inside a region ($1, WKB in WGS84) that are not under branch $2.
SELECT count(*) FROM stations s
WHERE s.status <> 'closed' AND NOT in_branch(s.district_code, $2)
  AND ST_Intersects(s.geom, ST_GeomFromWKB($1, 4326)::geography)

-- name: district_outside_branch
-- Stations of a district named $1 (the coverage API's district) not under branch $2.
SELECT count(*) FILTER (WHERE NOT in_branch(s.district_code, $2)) AS outside,
       count(*) AS stations
FROM stations s
WHERE s.district = $1 AND s.status <> 'closed'

-- name: stations_brief
SELECT id, code, name, kind, status FROM stations WHERE id = ANY($1::bigint[]) ORDER BY code

-- name: rate_take
-- One request of a rate-limited key (GCRA): the key's next free instant moves on by $3
-- seconds per request and may run at most $4 seconds (the burst) ahead of now. A row
-- answers when the request is taken; none when the key must wait.
INSERT INTO throttles AS t (kind, key_hash, failures, last_failure_at, blocked_until)
VALUES ($1, $2, 1, now(), now() + make_interval(secs => $3))
ON CONFLICT (kind, key_hash) DO UPDATE
    SET failures = t.failures + 1,
        last_failure_at = now(),
        blocked_until = greatest(t.blocked_until, now()) + make_interval(secs => $3)
    WHERE greatest(t.blocked_until, now()) <= now() + make_interval(secs => $4)
RETURNING 1

-- name: rate_wait
-- Seconds until the key ($1 kind, $2 hash) may make its next request under a $3 s burst.
SELECT extract(epoch FROM blocked_until - now()) - $3
FROM throttles WHERE kind = $1 AND key_hash = $2

-- name: source_outside_branch
-- Stations of an import source ($1) that are not under union branch $2.
SELECT count(*) FROM stations WHERE source = $1 AND NOT in_branch(district_code, $2)
