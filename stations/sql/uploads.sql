-- Uploads in the staff console (stations/importer/uploads.py, migration 0016).

-- name: delete_expired_uploads
DELETE FROM uploads WHERE expires_at < now()

-- name: insert_upload
INSERT INTO uploads (kind, filename, content, size, sha256, options, branch, created_by,
                     expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *

-- name: delete_upload
DELETE FROM uploads WHERE id = $1

-- name: store_dry_run
UPDATE uploads SET dry_run = $2, problems_csv = $3 WHERE id = $1
RETURNING *

-- name: upload_by_id
SELECT * FROM uploads WHERE id = $1::text::uuid AND expires_at > now()

-- name: claim_upload
-- The one confirmation of an upload: a second (or concurrent) one finds no row.
UPDATE uploads SET confirmed_at = now(), confirmed_by = $2
WHERE id = $1::text::uuid AND confirmed_at IS NULL AND expires_at > now()
RETURNING *

-- name: release_upload
-- An import that failed (the database refused it): the upload may be confirmed again.
UPDATE uploads SET confirmed_at = NULL, confirmed_by = NULL WHERE id = $1

-- name: store_result
UPDATE uploads SET result = $2, problems_csv = $3 WHERE id = $1
RETURNING *
