-- A breach's fan-out records its batches, not each person's state: a
-- batch is a range of recipients' seq (first_seq to last_seq), claimed
-- from a cursor on the breach (claimed_to: every seq up to it is in a
-- batch). Claiming and marking a batch of 1000 people writes one row, not
-- a thousand rows and their three indexes twice (docs/benchmarks.md). A
-- batch returned to 'pending' (released, or uncertain and to be sent
-- again) is claimed again, whole, before the cursor moves on.
--
-- The state and batch columns of breach_recipients stay for the history
-- of fan-outs begun before this migration, which it carries over: each
-- person already claimed becomes a batch of one, and the cursor stands
-- after the last of them.
CREATE TABLE breach_batches (
    breach_id TEXT NOT NULL REFERENCES breaches (id),
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    state     TEXT NOT NULL,
    sent_at   TIMESTAMPTZ,
    PRIMARY KEY (breach_id, first_seq)
);
CREATE INDEX breach_batches_state ON breach_batches (breach_id, state, first_seq);

ALTER TABLE breaches ADD COLUMN claimed_to INTEGER NOT NULL DEFAULT 0;

UPDATE breaches SET claimed_to = (
    SELECT COALESCE(MAX(r.seq), 0) FROM breach_recipients r
    WHERE r.breach_id = breaches.id AND r.state <> 'pending'
);

INSERT INTO breach_batches (breach_id, first_seq, last_seq, state, sent_at)
SELECT r.breach_id, r.seq, r.seq, r.state, r.sent_at
FROM breach_recipients r JOIN breaches b ON b.id = r.breach_id
WHERE r.seq <= b.claimed_to;

DROP INDEX breach_recipients_state;
