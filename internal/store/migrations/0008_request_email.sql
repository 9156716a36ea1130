-- Requests by the requester's address: identical submissions within a
-- short window are answered with the first, and verification emails to
-- one address are counted per day.
CREATE INDEX requests_email_received ON requests (email, received_at);

-- The last email the provider refused for good (a bad address, say), so
-- the officer sees it and can correct the address and send it again.
ALTER TABLE requests ADD COLUMN mail_failed_step TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN mail_failure TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN mail_failed_at TIMESTAMPTZ;
