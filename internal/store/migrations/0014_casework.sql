-- Case work (docs/casework.md): how a request arrived, who
-- logged it, who works on it, and the officers' internal notes.
--
-- channel is how the request reached the organisation: 'web' (the form
-- or the public API) or, for a request an officer logged, 'letter',
-- 'phone', 'email' or 'in_person'; logged_by is that officer.
ALTER TABLE requests ADD COLUMN channel TEXT NOT NULL DEFAULT 'web';
ALTER TABLE requests ADD COLUMN logged_by TEXT NOT NULL DEFAULT '';

-- The officer working on the request: reminders reach them first.
ALTER TABLE requests ADD COLUMN assignee_id BIGINT REFERENCES officers (id);
CREATE INDEX requests_assignee ON requests (assignee_id);

-- Internal notes: officers only, never emailed. The body may name people,
-- so the audit trail records only that a note was added, and its id.
CREATE TABLE request_notes (
    id         BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX request_notes_request ON request_notes (request_id, id);
