-- The clock of a request changes only with a reason: an extension
-- (announced to the requester, at most once) or a pause while the
-- requester proves who they are. Officer alerts (reminders, overdue
-- escalations, digests) are recorded once each, by key, so a retried step
-- never emails twice.

ALTER TABLE requests ADD COLUMN extended_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN extension_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN overdue_at TIMESTAMPTZ;

CREATE TABLE sent_alerts (
    key     TEXT PRIMARY KEY,
    sent_at TIMESTAMPTZ NOT NULL
);
