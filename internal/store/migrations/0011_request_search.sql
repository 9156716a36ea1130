-- The officers' list at thousands of requests (docs/architecture.md,
-- "The request list").
--
-- email_hash is a keyed hash (HMAC-SHA256, internal/auth.LookupKey) of the
-- lower-cased address, "keyID:hex", so an officer finds a request by exact
-- address through this index and never by scanning addresses in clear.
-- The key is derived from DSAR_SECRET_KEY, which SQL does not know: rows
-- start empty here, and `dsar migrate` and every web process (at start
-- and hourly) hash the rows without a hash under the current key
-- (store.HashEmails), which also redoes them after a key rotation.
ALTER TABLE requests ADD COLUMN email_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_email_hash ON requests (email_hash);

-- Keyset paging sorts by a date and the id.
CREATE INDEX requests_due_id ON requests (due_at, id);
CREATE INDEX requests_received_id ON requests (received_at, id);
