-- `last_used_at` in a narrow table of its own, keyed by the secret's id and stored in that order
-- (WITHOUT ROWID): a node writes the uses it noted as one batch sorted by id, so a batch touches
-- neighbouring pages of a table of ~45-byte rows, where updating `secrets` rewrote one
-- ~4 KiB page of a table in insertion order per secret (35 us a secret at a million merchants;
-- BENCHMARKS.md, "A million merchants"). No foreign key: checking one would cost the random
-- read the table exists to avoid; a secret's row is never removed (deletion is a flag).
CREATE TABLE secret_usage (
    secret_id    TEXT PRIMARY KEY,
    last_used_at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO secret_usage (secret_id, last_used_at)
    SELECT id, last_used_at FROM secrets WHERE last_used_at IS NOT NULL;
ALTER TABLE secrets DROP COLUMN last_used_at;
