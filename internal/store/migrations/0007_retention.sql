-- What the law says to keep. Legal holds stop erasure of a person, a
-- system or a table until released (or until their end). Rows kept for a
-- retention period wait in retained_rows for the purge that erases them;
-- parts of a deletion a hold stopped wait in deferred_erasures. Tombstones
-- and recorded corrections let a restored backup forget whom it should:
-- they hold keyed hashes, and corrected values sealed, never in clear.

CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    system_name TEXT NOT NULL DEFAULT '',
    table_name  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    ends_at     TIMESTAMPTZ,
    placed_by   TEXT NOT NULL,
    placed_at   TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ,
    released_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE retained_rows (
    id          BIGSERIAL PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES requests (id),
    system_name TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    row_key     TEXT NOT NULL,
    basis       TEXT NOT NULL,
    until       TIMESTAMPTZ NOT NULL,
    purged_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX retained_rows_key ON retained_rows (system_name, table_name, row_key);
CREATE INDEX retained_rows_request ON retained_rows (request_id, until);

CREATE TABLE deferred_erasures (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    system_name TEXT NOT NULL,
    hold_ids    TEXT NOT NULL,
    tables      TEXT NOT NULL,
    deferred_at TIMESTAMPTZ NOT NULL,
    resumed_at  TIMESTAMPTZ,
    PRIMARY KEY (request_id, system_name)
);

CREATE TABLE tombstones (
    id          BIGSERIAL PRIMARY KEY,
    request_id  TEXT NOT NULL,
    system_name TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    action      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX tombstones_hash ON tombstones (system_name, table_name, kind, hash);

CREATE TABLE recorded_corrections (
    id          BIGSERIAL PRIMARY KEY,
    request_id  TEXT NOT NULL,
    system_name TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    key_hash    TEXT NOT NULL,
    column_name TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    value       BYTEA NOT NULL,
    corrected_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX recorded_corrections_key ON recorded_corrections (system_name, table_name, key_hash);
