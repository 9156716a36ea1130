-- Each request carries the regime whose clock it runs on, and the dates
-- that clock sets: when receipt must be confirmed, by when an extension
-- must be announced (the end of the first period), and how far one can
-- reach. Requests from before keep the default regime's thirty days.

ALTER TABLE requests ADD COLUMN regime TEXT NOT NULL DEFAULT 'default';
ALTER TABLE requests ADD COLUMN ack_due_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN extension_notice_by TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN extended_due_at TIMESTAMPTZ;
