-- Streaming replication: where the primary's WAL is, how far a replica has replayed it.

-- name: primary_lsn
-- The primary's current WAL position: every transaction committed so far lies before it.
SELECT pg_current_wal_lsn()::text

-- name: replayed_up_to
-- On a replica: whether it has replayed the WAL up to $1 (what a read there sees). A
-- server that is not a standby (DATABASE_READ_URL naming the primary itself, or a
-- pooler in front of it) has nothing to replay.
SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)

-- name: replica_state
-- How a connection's server stands: a standby or not, how far it replayed, how old
-- the last transaction it replayed is (null on a primary).
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END AS replay_age_s

-- name: standbys
-- On the primary: the replicas streaming from it and their lag in bytes.
SELECT application_name, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes
FROM pg_stat_replication
ORDER BY application_name

-- name: replication_role_exists
SELECT 1 FROM pg_roles WHERE rolname = $1

-- name: slot_exists
SELECT active FROM pg_replication_slots WHERE slot_name = $1

-- name: drop_slot
SELECT pg_drop_replication_slot($1)

-- name: service_backends
-- The service's connections to this server's databases, by database.
SELECT datname, count(*)::int AS backends
FROM pg_stat_activity
WHERE application_name = $1
GROUP BY datname
ORDER BY datname

-- name: create_replication_role
-- Run only when replication_role_exists found none (a role name is no parameter).
CREATE ROLE stations_replication WITH REPLICATION LOGIN
