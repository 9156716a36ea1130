-- Files officers attach to a request (docs/casework.md): identity
-- evidence and correspondence. The content is kept sealed (AES-GCM under
-- a key derived from DSAR_SECRET_KEY, key_id names it), bound to the
-- request and the attachment's id, so a copy of the database shows no
-- passport. The name is the sanitised file name the officer uploaded;
-- content_type is what the bytes are, sniffed, never what the browser
-- said. An attachment goes with its request's record.
CREATE TABLE request_attachments (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    key_id       TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    added_by     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX request_attachments_request ON request_attachments (request_id, created_at);
