-- Officer single sign-on (OpenID Connect): the identity at the provider
-- an officer's account is linked to, by the provider's issuer and the
-- subject it gives the user. Empty for an officer who signs in with a
-- password. One provider identity belongs to at most one officer.
ALTER TABLE officers ADD COLUMN oidc_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE officers ADD COLUMN oidc_subject TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX officers_oidc_identity ON officers (oidc_issuer, oidc_subject) WHERE oidc_subject <> '';
