-- API tokens expire, and a token can be revoked (a new one from `dsar
-- officer token` revokes the officer's others). A token stored before
-- this has no expires_at: it lasts APITokenLifetime from its creation.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN revoked_at TIMESTAMPTZ;
