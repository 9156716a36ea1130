-- What an officer withheld from a request's access or export package
-- before releasing it: a whole table, some of its rows (row_keys, a JSON
-- list of primary keys, as findings and retained rows keep them) or some
-- of its columns (column_names, a JSON list), with the reason the
-- requester reads in the package. The package is rebuilt without them.
CREATE TABLE package_withholds (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES requests (id),
    system_name TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    row_keys    TEXT NOT NULL DEFAULT '[]',
    column_names TEXT NOT NULL DEFAULT '[]',
    reason      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    withheld_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX package_withholds_request ON package_withholds (request_id, withheld_at);

-- When an officer released a request's package to the requester.
ALTER TABLE requests ADD COLUMN released_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN released_by TEXT NOT NULL DEFAULT '';

-- The dry run of a deletion or correction an officer confirms before
-- anything is erased or written: per table what would be deleted, masked,
-- retained or held, and for a correction each column's value before and
-- after. Values are personal data, so the whole plan is sealed (key_id
-- names the key); confirmed_at is set once the officer confirms it.
CREATE TABLE dry_runs (
    request_id   TEXT PRIMARY KEY REFERENCES requests (id),
    key_id       TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    confirmed_by TEXT NOT NULL DEFAULT ''
);
