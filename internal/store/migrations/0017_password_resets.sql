-- Password resets by email: a single-use link, stored as a hash like API
-- tokens, valid for a short while. An officer has at most one unused.
CREATE TABLE officer_password_resets (
    id         BIGSERIAL PRIMARY KEY,
    officer_id BIGINT NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX officer_password_resets_officer ON officer_password_resets (officer_id);
