-- What discovery found for a request (counts and row keys per system and
-- table; never the rows themselves), what fulfilment did, and the encrypted
-- packages requesters download.

CREATE TABLE request_findings (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    system      TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    categories  TEXT NOT NULL DEFAULT '[]',
    owned_rows  INTEGER NOT NULL,
    linked_rows INTEGER NOT NULL,
    row_keys    TEXT NOT NULL DEFAULT '[]',
    found_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, system, table_name)
);

-- One row per request once fulfilment ran: a JSON summary the completion
-- email and the dashboard read (tables erased, fields corrected, package).
CREATE TABLE request_fulfilments (
    request_id   TEXT PRIMARY KEY REFERENCES requests (id),
    summary      TEXT NOT NULL,
    fulfilled_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE packages (
    id             TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL REFERENCES requests (id),
    file_name      TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    chunks         INTEGER NOT NULL,
    key_id         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    downloads_left INTEGER NOT NULL,
    completed_at   TIMESTAMPTZ,
    removed_at     TIMESTAMPTZ
);
CREATE INDEX packages_request ON packages (request_id);
CREATE INDEX packages_expires ON packages (expires_at) WHERE removed_at IS NULL;

-- Package contents, sealed chunk by chunk (AES-GCM), so neither writing
-- nor reading a large export holds it whole in memory.
CREATE TABLE package_chunks (
    package_id TEXT NOT NULL REFERENCES packages (id),
    seq        INTEGER NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (package_id, seq)
);

-- Work in systems dsar does not reach itself: a webhook it calls (its
-- answer kept sealed, as it may hold the person's data) or a manual task
-- an officer completes, with the instructions copied from the data map.
CREATE TABLE request_tasks (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    system       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ,
    done_by      TEXT NOT NULL DEFAULT '',
    note         TEXT NOT NULL DEFAULT '',
    answer_key   TEXT NOT NULL DEFAULT '',
    answer       BYTEA,
    PRIMARY KEY (request_id, system)
);
