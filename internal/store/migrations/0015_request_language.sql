-- The language every page and email to the requester uses (en, de, fr,
-- es), chosen on the form or from the browser's Accept-Language. Requests
-- made before languages existed were answered in English.
ALTER TABLE requests ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
