-- The audit trail becomes a keyed hash chain (internal/auditchain): each
-- new entry records its place in one global sequence, the MAC of the
-- entry before it, its own MAC and the ID of the key that made it.
-- Entries from before this migration keep seq 0 and no MAC.
ALTER TABLE audit_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN prev_mac TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq) WHERE seq > 0;

-- The chain's head, one row: the last entry's sequence and MAC. Appends
-- lock it (SELECT ... FOR UPDATE on PostgreSQL), so concurrent writers
-- never fork the chain. It also records where the chain starts: entries
-- up to start_after_id, unchained of them, came before it. Until the first
-- entry is chained, mac holds the genesis text (auditchain.Genesis), which
-- the first entry's MAC then covers, so a moved start is found.
CREATE TABLE audit_chain (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    seq            BIGINT NOT NULL,
    mac            TEXT NOT NULL,
    start_after_id BIGINT NOT NULL,
    unchained      BIGINT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL
);
INSERT INTO audit_chain (id, seq, mac, start_after_id, unchained, started_at)
SELECT 1, 0, 'genesis:' || COALESCE(MAX(id), 0) || ':' || COUNT(*), COALESCE(MAX(id), 0), COUNT(*), CURRENT_TIMESTAMP
FROM audit_events;
