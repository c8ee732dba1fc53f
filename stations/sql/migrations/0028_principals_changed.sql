-- Revoking a token, disabling an account or changing an operator's stations takes
-- effect at once in every server worker: each worker caches who a bearer token belongs
-- to for a few seconds, and drops that cache when this channel speaks
-- (stations/people/revocations.py). One notice per statement, whatever it touched.
CREATE OR REPLACE FUNCTION notify_principals_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('principals_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER api_tokens_principals_changed AFTER UPDATE OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_principals_changed();
CREATE OR REPLACE TRIGGER accounts_principals_changed AFTER UPDATE OR DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION notify_principals_changed();
CREATE OR REPLACE TRIGGER operator_stations_principals_changed
    AFTER INSERT OR UPDATE OR DELETE ON operator_stations
    FOR EACH STATEMENT EXECUTE FUNCTION notify_principals_changed();
