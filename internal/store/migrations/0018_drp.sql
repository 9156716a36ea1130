-- The Data Rights Protocol (docs/drp.md): authorized agents an admin
-- registered, the bearer tokens their pairwise key setup issued, what was
-- done to each agent, the requests they made, and the signed messages
-- already accepted (so none is accepted twice).
--
-- verify_key is the agent's Ed25519 public key, base64 as the agent
-- directory publishes it; status is 'active' or 'revoked'.
CREATE TABLE drp_agents (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    verify_key  TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  TIMESTAMPTZ,
    revoked_by  TEXT NOT NULL DEFAULT ''
);

-- Bearer tokens, stored as SHA-256 hashes like every other token.
CREATE TABLE drp_agent_tokens (
    hash       TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES drp_agents (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX drp_agent_tokens_agent ON drp_agent_tokens (agent_id);

-- The agent's trail: registered, revoked, tokens issued. A request's own
-- trail stays in audit_events.
CREATE TABLE drp_agent_events (
    id       BIGSERIAL PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES drp_agents (id),
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX drp_agent_events_agent ON drp_agent_events (agent_id, id);

-- A request an agent made: which agent, its own ID for it, the action as
-- the agent named it, and whether the agent revoked it.
CREATE TABLE drp_requests (
    request_id       TEXT PRIMARY KEY REFERENCES requests (id),
    agent_id         TEXT NOT NULL REFERENCES drp_agents (id),
    agent_request_id TEXT NOT NULL DEFAULT '',
    exercise         TEXT NOT NULL,
    status_callback  TEXT NOT NULL DEFAULT '',
    revoked_at       TIMESTAMPTZ,
    revoke_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX drp_requests_agent ON drp_requests (agent_id);

-- Signed messages accepted, by SHA-256 of the agent and the message,
-- kept until the message expires: after that it is refused as expired.
CREATE TABLE drp_seen_messages (
    hash       TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX drp_seen_messages_expiry ON drp_seen_messages (expires_at);
