-- Files uploaded in the staff console to import (a station file or a member list), kept
-- from the dry run until confirmed or expired: what is imported on confirmation is the
-- very file whose per-row report the administrator saw. An upload belongs to the union
-- branch of the administrator who sent it (NULL: the national root); only that branch
-- and those above it see or confirm it. Expired uploads are deleted by the next upload.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text NOT NULL CHECK (kind IN ('stations', 'members')),
    filename      text NOT NULL CHECK (btrim(filename) <> '' AND length(filename) <= 255),
    content       bytea NOT NULL,
    size          integer NOT NULL CHECK (size >= 0),
    sha256        bytea NOT NULL CHECK (octet_length(sha256) = 32),
    options       jsonb NOT NULL DEFAULT '{}',
    branch        text REFERENCES branches (code),
    created_by    text NOT NULL CHECK (length(created_by) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    dry_run       jsonb,
    problems_csv  bytea,
    confirmed_at  timestamptz,
    confirmed_by  text CHECK (length(confirmed_by) <= 200),
    result        jsonb,
    CHECK (expires_at > created_at)
);
CREATE INDEX uploads_expires ON uploads (expires_at);
