-- Membership applications (扫码入会): see migration 0018 for what is kept and why.

-- name: submit_application
-- A new application, or the phone's open one updated with the later details ($1 is
-- the reference a new one gets). merged: an open application of the phone existed.
INSERT INTO membership_applications
    (reference, phone_hash, callback_phone, name, occupation, employer, district_code)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (phone_hash) WHERE status = 'open' DO UPDATE
SET callback_phone = EXCLUDED.callback_phone, name = EXCLUDED.name,
    occupation = EXCLUDED.occupation, employer = EXCLUDED.employer,
    district_code = EXCLUDED.district_code,
    submissions = membership_applications.submissions + 1, updated_at = now()
RETURNING id, reference, status, district_code, created_at, updated_at, submissions,
          (xmax <> 0) AS merged

-- name: application_by_reference
SELECT a.id, a.reference, a.phone_hash, a.status, a.district_code, a.decline_reason,
       a.created_at, a.updated_at, a.decided_at, m.member_no
FROM membership_applications a
LEFT JOIN members m ON m.id = a.member_id
WHERE a.reference = $1

-- name: applications_in_branch
-- The applications of districts under branch $1 (NULL: all) with status $2 (NULL: any),
-- open ones first, then newest first.
SELECT a.id, a.reference, a.callback_phone, a.name, a.occupation, a.employer,
       a.district_code, a.status, a.decline_reason, a.decided_by, a.decided_at,
       a.submissions, a.created_at, a.updated_at, m.member_no,
       (SELECT b.name FROM branches b
        WHERE starts_with(a.district_code, b.code) ORDER BY length(b.code) DESC LIMIT 1)
           AS branch_name
FROM membership_applications a
LEFT JOIN members m ON m.id = a.member_id
WHERE in_branch(a.district_code, $1) AND ($2::text IS NULL OR a.status = $2)
ORDER BY a.status <> 'open', a.created_at DESC, a.id DESC
LIMIT $3

-- name: application_for_decision
-- The application to decide, locked until the decision commits.
SELECT id, reference, phone_hash, callback_phone, name, occupation, employer,
       district_code, status
FROM membership_applications WHERE id = $1
FOR UPDATE

-- name: member_with_phone
SELECT member_no FROM members WHERE phone_hash = $1 ORDER BY id LIMIT 1

-- name: approve_application
UPDATE membership_applications
SET status = 'approved', member_id = $2, callback_phone = NULL, decided_by = $3,
    decided_at = now(), updated_at = now()
WHERE id = $1 AND status = 'open'
RETURNING id

-- name: decline_application
UPDATE membership_applications
SET status = 'declined', decline_reason = $2, callback_phone = NULL, decided_by = $3,
    decided_at = now(), updated_at = now()
WHERE id = $1 AND status = 'open'
RETURNING id

-- name: member_id_by_number
SELECT id FROM members WHERE member_no = $1

-- name: application_districts
-- The districts a rider may apply in: those the catalog's stations name with a
-- district code, with the union branch that owns each (the most specific one).
SELECT s.district, s.district_code,
       (SELECT b.name FROM branches b
        WHERE starts_with(s.district_code, b.code) ORDER BY length(b.code) DESC LIMIT 1)
           AS branch_name
FROM (
    SELECT district, min(district_code) AS district_code
    FROM stations
    WHERE district IS NOT NULL AND district_code ~ '^[0-9]{6}$' AND status <> 'closed'
    GROUP BY district
) s
ORDER BY s.district_code, s.district

-- name: expire_applications
-- Open applications unchanged for $1 days, closed as declined with reason $2 (their
-- phone erased); returns how many.
WITH closed AS (
    UPDATE membership_applications
    SET status = 'declined', decline_reason = $2, callback_phone = NULL,
        decided_by = 'expiry', decided_at = now(), updated_at = now()
    WHERE status = 'open' AND updated_at < now() - make_interval(days => $1)
    RETURNING id
)
SELECT count(*) FROM closed
