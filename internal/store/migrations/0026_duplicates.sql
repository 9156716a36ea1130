-- An officer may close a request as a duplicate of another open request
-- of the same person and type (status 'duplicate', a final status):
-- duplicate_of names the request that continues. The flag that offers
-- it (two open, verified requests of one type from one address) is not
-- stored: the list and the request's page compute it through
-- requests_email_hash (migration 0011), one indexed query per page.
ALTER TABLE requests ADD COLUMN duplicate_of TEXT NOT NULL DEFAULT '';
