-- Membership applications (扫码入会): a rider who scanned a poster but is not a member
-- applies from the rider page; the branch that owns the applicant's district approves
-- (a member is created and may sign in at once) or declines with a reason the rider
-- sees. What is kept, and why (the consent text on the rider page says the same):
--   phone_hash      the keyed HMAC the members table uses: finds the one open
--                   application of a phone (later details update it) and becomes the
--                   member's phone_hash on approval
--   callback_phone  the number in clear, only while the application is open, so the
--                   branch can call the applicant back; erased when it is decided
--   name, occupation, employer, district_code   what a member record holds
CREATE TABLE membership_applications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference       text NOT NULL UNIQUE CHECK (reference ~ '^[0-9A-Z]{10}$'),
    phone_hash      bytea NOT NULL CHECK (octet_length(phone_hash) = 32),
    callback_phone  text CHECK (callback_phone ~ '^\+?[0-9]{7,15}$'),
    name            text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 100),
    occupation      text NOT NULL CHECK (occupation IN (
                        'courier', 'food_delivery', 'ride_hailing', 'truck_driver', 'sanitation',
                        'security_guard', 'construction', 'domestic_service', 'other')),
    employer        text CHECK (btrim(employer) <> '' AND length(employer) <= 200),
    district_code   text NOT NULL CHECK (district_code ~ '^[0-9]{6}$'),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'declined')),
    decline_reason  text CHECK (btrim(decline_reason) <> '' AND length(decline_reason) <= 500),
    member_id       bigint REFERENCES members (id),
    decided_by      text,
    decided_at      timestamptz,
    submissions     integer NOT NULL DEFAULT 1 CHECK (submissions >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT application_phone_only_while_open
        CHECK ((status = 'open') = (callback_phone IS NOT NULL)),
    CONSTRAINT application_decided
        CHECK ((status = 'open') = (decided_at IS NULL)),
    CONSTRAINT application_approved_has_member
        CHECK ((status = 'approved') = (member_id IS NOT NULL)),
    CONSTRAINT application_declined_has_reason
        CHECK ((status = 'declined') = (decline_reason IS NOT NULL))
);

-- One open application per phone: a second one from the same phone updates it.
CREATE UNIQUE INDEX membership_applications_one_open
    ON membership_applications (phone_hash) WHERE status = 'open';
-- An administrator's list: the open ones of the branch's districts, newest first.
CREATE INDEX membership_applications_by_district
    ON membership_applications (district_code text_pattern_ops, status, created_at DESC);
