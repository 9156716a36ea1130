-- Two-factor sign-in for officers (TOTP, RFC 6238). The secret is sealed
-- with a key derived from DSAR_SECRET_KEY (totp_key_id names it); it is
-- stored only once the officer has confirmed a code. totp_last_step is
-- the time step of the last code accepted, so a code is used once.
ALTER TABLE officers ADD COLUMN totp_secret BYTEA;
ALTER TABLE officers ADD COLUMN totp_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE officers ADD COLUMN totp_enabled_at TIMESTAMPTZ;
ALTER TABLE officers ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as hashes like API tokens.
CREATE TABLE officer_recovery_codes (
    id         BIGSERIAL PRIMARY KEY,
    officer_id BIGINT NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX officer_recovery_codes_officer ON officer_recovery_codes (officer_id);

-- Settings an admin changes from the dashboard, one row each.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);

-- What was done to officers' accounts (two-factor enrolled, disabled,
-- reset, a recovery code used, a setting changed). audit_events belongs
-- to requests (request_id is required), so account events have their own
-- trail.
CREATE TABLE officer_events (
    id         BIGSERIAL PRIMARY KEY,
    officer_id BIGINT REFERENCES officers (id) ON DELETE SET NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX officer_events_officer ON officer_events (officer_id, id);
