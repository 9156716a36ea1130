-- Verification emails carry a six-digit code besides the link, for people
-- who read mail on another device: it is a request_tokens row (purpose
-- verify_code, an HMAC of the code) that expires with the link. Wrong
-- codes are counted per request, over all its codes, so that guessing
-- stops after a few tries; the link keeps working.
ALTER TABLE requests ADD COLUMN verify_code_failures INTEGER NOT NULL DEFAULT 0;

-- The browser sent the Global Privacy Control signal (Sec-GPC: 1) with
-- the request.
ALTER TABLE requests ADD COLUMN gpc BOOLEAN NOT NULL DEFAULT FALSE;
