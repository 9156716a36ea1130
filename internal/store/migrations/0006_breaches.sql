-- Personal-data breaches: the incident as recorded, its 72-hour clock, the
-- notice an officer approved, the authority's notification, and one row
-- per affected person so the fan-out emails each once and can resume.

CREATE TABLE breaches (
    id                   TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    description          TEXT NOT NULL,
    aware_at             TIMESTAMPTZ NOT NULL,
    deadline_at          TIMESTAMPTZ NOT NULL,
    systems              TEXT NOT NULL,
    categories           TEXT NOT NULL,
    risk                 TEXT NOT NULL,
    consequences         TEXT NOT NULL DEFAULT '',
    measures             TEXT NOT NULL DEFAULT '',
    recorded_by          TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    affected_people      INTEGER,
    affected_records     INTEGER,
    notice_subject       TEXT NOT NULL DEFAULT '',
    notice_text          TEXT NOT NULL DEFAULT '',
    notice_approved_by   TEXT NOT NULL DEFAULT '',
    notice_approved_at   TIMESTAMPTZ,
    fanout_done_at       TIMESTAMPTZ,
    authority            TEXT NOT NULL DEFAULT '',
    authority_reference  TEXT NOT NULL DEFAULT '',
    authority_notified_at TIMESTAMPTZ,
    authority_notified_by TEXT NOT NULL DEFAULT '',
    delay_reason         TEXT NOT NULL DEFAULT '',
    escalated_at         TIMESTAMPTZ,
    closed_at            TIMESTAMPTZ,
    workflow_started_at  TIMESTAMPTZ
);
CREATE INDEX breaches_open ON breaches (deadline_at) WHERE closed_at IS NULL;
CREATE INDEX breaches_unstarted ON breaches (created_at) WHERE workflow_started_at IS NULL;

-- state: pending, sending (claimed by a batch whose send is under way),
-- sent.
CREATE TABLE breach_recipients (
    breach_id TEXT NOT NULL REFERENCES breaches (id),
    seq       INTEGER NOT NULL,
    email     TEXT NOT NULL,
    name      TEXT NOT NULL DEFAULT '',
    records   INTEGER NOT NULL,
    state     TEXT NOT NULL DEFAULT 'pending',
    batch     INTEGER,
    sent_at   TIMESTAMPTZ,
    PRIMARY KEY (breach_id, seq)
);
CREATE UNIQUE INDEX breach_recipients_email ON breach_recipients (breach_id, email);
CREATE INDEX breach_recipients_state ON breach_recipients (breach_id, state, seq);

CREATE TABLE breach_events (
    id        BIGSERIAL PRIMARY KEY,
    breach_id TEXT NOT NULL REFERENCES breaches (id),
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '',
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX breach_events_breach ON breach_events (breach_id, id);
