-- Database plumbing: migrations bookkeeping and readiness.

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL

-- name: applied_migrations
SELECT version, name, checksum FROM schema_migrations

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)

-- name: advisory_lock
SELECT pg_advisory_lock($1)

-- name: advisory_unlock
SELECT pg_advisory_unlock($1)

-- name: postgis_version
SELECT extversion FROM pg_extension WHERE extname = 'postgis'

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = $1

-- name: count_own_tables
SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'

-- name: set_actor
-- Name who makes the station changes of this transaction (read by the history triggers).
SELECT set_config('stations.actor', $1, true), set_config('stations.reason', $2, true)
