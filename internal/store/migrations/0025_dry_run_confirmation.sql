-- A dry run is made, and remade, while a deletion or correction is in
-- review; the officer confirms one of them by its ID, and an approval
-- naming an older one is refused. created_by is the officer who made it.
ALTER TABLE dry_runs ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE dry_runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
