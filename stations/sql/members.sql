-- Members, staff accounts and bearer tokens.

-- name: members_by_number
SELECT id, member_no, phone_hash, name, occupation, employer, status, district_code
FROM members WHERE member_no = ANY($1::text[])
FOR UPDATE

-- name: insert_members
INSERT INTO members (member_no, phone_hash, name, occupation, employer, status, district_code)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[])

-- name: update_members
UPDATE members m
SET phone_hash = i.phone_hash, name = i.name, occupation = i.occupation,
    employer = i.employer, status = i.status, district_code = i.district_code,
    updated_at = now()
FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[])
    AS i(member_no, phone_hash, name, occupation, employer, status, district_code)
WHERE m.member_no = i.member_no

-- name: member_for_login
SELECT id, member_no, phone_hash, name, occupation, employer, status
FROM members WHERE member_no = $1

-- name: member_by_id
SELECT id, member_no, name, occupation, employer, status FROM members WHERE id = $1

-- name: set_member_status
UPDATE members SET status = $2, updated_at = now()
WHERE member_no = $1
RETURNING id, member_no, status

-- name: insert_token
INSERT INTO api_tokens (token_hash, member_id, account_id, label, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))
RETURNING id, expires_at

-- name: resolve_token
-- A live token and who it belongs to; disabled accounts' tokens resolve to nothing.
SELECT t.id AS token_id, t.member_id, t.account_id, t.expires_at,
       m.member_no, m.status AS member_status,
       a.role AS account_role, a.name AS account_name, a.branch AS account_branch,
       CASE WHEN a.role = 'operator'
            THEN ARRAY(SELECT os.station_id FROM operator_stations os
                       WHERE os.account_id = a.id ORDER BY os.station_id)
            ELSE '{}'::bigint[] END AS station_ids
FROM api_tokens t
LEFT JOIN members m ON m.id = t.member_id
LEFT JOIN accounts a ON a.id = t.account_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
  AND (t.account_id IS NULL OR a.disabled_at IS NULL)

-- name: revoke_token
UPDATE api_tokens SET revoked_at = now()
WHERE token_hash = $1 AND revoked_at IS NULL
RETURNING id

-- name: revoke_account_tokens
UPDATE api_tokens SET revoked_at = now()
WHERE account_id = $1 AND revoked_at IS NULL

-- name: insert_account
INSERT INTO accounts (role, name, contact, branch) VALUES ($1, $2, $3, $4)
RETURNING id, role, name, contact, branch, disabled_at, created_at

-- name: account_by_name
SELECT id, role, name, contact, branch, disabled_at, created_at,
       password_hash IS NOT NULL AS has_password,
       ARRAY(SELECT os.station_id FROM operator_stations os
             WHERE os.account_id = a.id ORDER BY os.station_id) AS station_ids
FROM accounts a WHERE name = $1

-- name: list_accounts
-- Accounts a branch ($1; NULL the national root) sees: administrators and planners of
-- the branch and the branches under it, and operators of a station under it.
SELECT a.id, a.role, a.name, a.contact, a.branch, a.disabled_at, a.created_at,
       a.password_hash IS NOT NULL AS has_password,
       ARRAY(SELECT s.code FROM operator_stations os JOIN stations s ON s.id = os.station_id
             WHERE os.account_id = a.id ORDER BY s.code) AS station_codes
FROM accounts a
WHERE $1::text IS NULL
   OR (a.role <> 'operator' AND in_branch(a.branch, $1))
   OR (a.role = 'operator' AND EXISTS (
           SELECT 1 FROM operator_stations os JOIN stations s ON s.id = os.station_id
           WHERE os.account_id = a.id AND in_branch(s.district_code, $1)))
ORDER BY a.role, a.name

-- name: grant_stations
INSERT INTO operator_stations (account_id, station_id)
SELECT $1, unnest($2::bigint[])
ON CONFLICT DO NOTHING

-- name: revoke_stations
DELETE FROM operator_stations WHERE account_id = $1 AND station_id = ANY($2::bigint[])

-- name: disable_account
UPDATE accounts SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1

-- name: station_ids_by_code
SELECT s.code, s.id FROM stations s WHERE s.code = ANY($1::text[])

-- name: account_by_id
SELECT id, role, name, contact, branch, disabled_at, created_at,
       password_hash IS NOT NULL AS has_password,
       ARRAY(SELECT os.station_id FROM operator_stations os
             WHERE os.account_id = a.id ORDER BY os.station_id) AS station_ids,
       ARRAY(SELECT s.district_code FROM operator_stations os
             JOIN stations s ON s.id = os.station_id
             WHERE os.account_id = a.id) AS station_districts
FROM accounts a WHERE id = $1
