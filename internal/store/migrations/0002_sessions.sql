-- Officer sessions for the dashboard. The cookie holds a random token; only
-- its hash is stored. Each session carries its own CSRF token.

CREATE TABLE officer_sessions (
    id           BIGSERIAL PRIMARY KEY,
    officer_id   BIGINT NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX officer_sessions_expires_at ON officer_sessions (expires_at);

-- A disabled officer can neither sign in nor use an API token.
ALTER TABLE officers ADD COLUMN disabled_at TIMESTAMPTZ;
