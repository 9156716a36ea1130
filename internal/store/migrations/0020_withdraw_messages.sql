-- A requester may withdraw a request from the status page before its
-- fulfilment starts (status 'withdrawn'), and write with the privacy
-- team there.
--
-- The reason a requester gives for withdrawing may name people: it is
-- kept sealed (AES-GCM under a key derived from DSAR_SECRET_KEY,
-- withdrawal_key_id names it), never in the audit trail.
ALTER TABLE requests ADD COLUMN withdrawal_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN withdrawal_reason BYTEA;

-- Messages between the privacy team and the requester. The text is
-- personal data: it is sealed like the reason (key_id names the key,
-- bound to the request and message). author is 'requester' or the
-- officer's email; the audit trail records a message's number, never
-- its text.
CREATE TABLE request_messages (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    from_requester BOOLEAN NOT NULL,
    author     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX request_messages_request ON request_messages (request_id, id);
