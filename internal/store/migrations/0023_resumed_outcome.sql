-- What a deferred erasure did once the legal holds that stopped it ended:
-- per table the rows deleted, anonymised, kept because shared, or kept by
-- law (a JSON object, added up over each resumption), so the requester's
-- follow-up email and the officer's request page say what became of the
-- held part. NULL for an erasure still waiting, or one resumed before
-- dsar recorded this.
ALTER TABLE deferred_erasures ADD COLUMN outcome TEXT;
