-- Requests, their tokens, the audit trail, email records, the dev outbox
-- and officers: everything the request workflow and the API need.

CREATE TABLE requests (
    id                  TEXT PRIMARY KEY,
    type                TEXT NOT NULL,
    status              TEXT NOT NULL,
    email               TEXT NOT NULL,
    name                TEXT NOT NULL,
    details             TEXT NOT NULL DEFAULT '',
    corrections         TEXT NOT NULL DEFAULT '[]',
    received_at         TIMESTAMPTZ NOT NULL,
    due_at              TIMESTAMPTZ NOT NULL,
    verified_at         TIMESTAMPTZ,
    verified_by         TEXT NOT NULL DEFAULT '',
    closed_at           TIMESTAMPTZ,
    decision_reason     TEXT NOT NULL DEFAULT '',
    workflow_started_at TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX requests_status_due ON requests (status, due_at);
CREATE INDEX requests_type_status ON requests (type, status);
CREATE INDEX requests_unstarted ON requests (received_at) WHERE workflow_started_at IS NULL;

-- Links sent to requesters. Only a SHA-256 of each token is kept.
CREATE TABLE request_tokens (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    purpose    TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX request_tokens_request ON request_tokens (request_id, purpose);

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_request ON audit_events (request_id, id);

-- One row per email a request's workflow has sent, so a retried activity
-- does not send the same step twice.
CREATE TABLE sent_emails (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    step        TEXT NOT NULL,
    provider_id TEXT NOT NULL DEFAULT '',
    sent_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, step)
);

-- Email kept in the database instead of delivered (dsar dev without SendGrid).
CREATE TABLE outbox_messages (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL DEFAULT '',
    step       TEXT NOT NULL DEFAULT '',
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE officers (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    officer_id   BIGINT NOT NULL REFERENCES officers (id),
    hash         TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
