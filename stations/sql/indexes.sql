-- Deferred index builds (migration 0013): what a bulk import left to build after commit.

-- name: defer_index
INSERT INTO deferred_indexes (index_name, definition) VALUES ($1, $2)
ON CONFLICT (index_name) DO UPDATE SET definition = EXCLUDED.definition, queued_at = now()

-- name: pending_indexes
SELECT index_name, definition, queued_at FROM deferred_indexes ORDER BY index_name

-- name: claim_next_index
-- The next index to build that no other session is building (its row locked by that
-- session until it commits); inverted and spatial indexes first, as they take longest.
SELECT index_name, definition FROM deferred_indexes
ORDER BY (definition ~* ' USING (gin|gist) ') DESC, index_name
LIMIT 1
FOR UPDATE SKIP LOCKED

-- name: index_exists
SELECT to_regclass(format('%I', $1::text)) IS NOT NULL

-- name: index_built
DELETE FROM deferred_indexes WHERE index_name = $1

-- name: raise_build_mem
SELECT set_config('maintenance_work_mem', '1GB', true),
       set_config('max_parallel_maintenance_workers', '2', true)

-- name: analyze_stations
ANALYZE stations
