-- Requests by email (SendGrid Inbound Parse). The original message is
-- kept sealed (AES-GCM under a key derived from DSAR_SECRET_KEY, key_id
-- names it), for the officer who classifies it. message_hash is a keyed
-- hash of the post, so a post SendGrid delivers again stores nothing twice.
CREATE TABLE inbound_messages (
    request_id   TEXT PRIMARY KEY REFERENCES requests (id),
    message_hash TEXT NOT NULL UNIQUE,
    key_id       TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    size         BIGINT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL
);

-- What SendGrid's Event Webhook reported about each email step
-- (delivered, bounce, dropped), once per event ID. No address or message
-- content is kept.
CREATE TABLE mail_events (
    id         BIGSERIAL PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    request_id TEXT NOT NULL REFERENCES requests (id),
    step       TEXT NOT NULL,
    event      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_events_request ON mail_events (request_id, id);

-- Set to the provider's event (bounce, dropped) when the failure on the
-- request was reported after SendGrid accepted the email, not refused
-- when sending it.
ALTER TABLE requests ADD COLUMN mail_failed_event TEXT NOT NULL DEFAULT '';
