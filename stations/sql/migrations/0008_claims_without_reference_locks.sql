-- Claims check their member and station without foreign keys, and keep one index fewer.
--
-- * claims.member_id and claims.station_id lose their foreign keys. Each took a KEY
--   SHARE lock on the member's and the station's row in every claim (a write to those
--   rows' pages, and MultiXacts when claims meet at one station): with the key index
--   below, about a fifth of the database's work per claim (pgbench on the claim
--   function, interleaved runs). The claim reads both rows in its own transaction, so
--   what it points to exists when it commits; afterwards members are never deleted
--   (suspend them) and a station with claims cannot be deleted (close it), both
--   enforced by the triggers below, as for campaigns and prize pools.
-- * claims_idempotency_key_unique goes: claim_requests' primary key (member, key) is
--   written in the same transaction as the claim, so a second claim for a key cannot
--   commit; claim_requests rows are kept for good. The quota index leads with the
--   member instead, and serves a member's claims and visits as that index did.

ALTER TABLE claims
    DROP CONSTRAINT claims_member_id_fkey,
    DROP CONSTRAINT claims_station_id_fkey,
    DROP CONSTRAINT claims_idempotency_key_unique,
    DROP CONSTRAINT claims_quota_slot,
    ADD CONSTRAINT claims_quota_slot UNIQUE (member_id, campaign_id, local_day, slot);

CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted or renumbered (claims refer to them); %',
        TG_TABLE_NAME,
        CASE TG_TABLE_NAME WHEN 'campaigns' THEN 'set status to cancelled instead'
                           WHEN 'members' THEN 'suspend the member instead'
                           ELSE 'cancel the campaign instead' END
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER members_never_deleted BEFORE DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER members_id_fixed BEFORE UPDATE OF id ON members
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();

CREATE FUNCTION stations_keep_claimed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM claims WHERE station_id = OLD.id) THEN
        RAISE EXCEPTION 'station % has water claims and cannot be deleted or renumbered; '
                        'close it instead', OLD.code
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER stations_keep_claimed BEFORE DELETE ON stations
    FOR EACH ROW EXECUTE FUNCTION stations_keep_claimed();
CREATE TRIGGER stations_keep_claimed_id BEFORE UPDATE OF id ON stations
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION stations_keep_claimed();

-- A new campaign's claims tables are empty, and once analysed empty the planner reads
-- them by sequential scans, which the claim function's cached plans then keep while
-- the day's claims pile up (each claim reading all earlier ones, until autovacuum
-- analyses again). Its lookups all have their index; plan them with it.
ALTER FUNCTION claim_water(bytea, text, bytea, text, double precision, double precision, bigint)
    SET enable_seqscan = off;
