-- `last_used_at` in a narrow table of its own, keyed by the secret's id: a node writes the uses
-- it noted as one batch sorted by id, which touches neighbouring index pages of a small table
-- instead of one row version of `secrets` (and its indexes) per secret. No foreign key: a
-- secret's row is never removed (deletion is a flag).
CREATE TABLE secret_usage (
    secret_id    TEXT PRIMARY KEY,
    last_used_at BIGINT NOT NULL
);
INSERT INTO secret_usage (secret_id, last_used_at)
    SELECT id, last_used_at FROM secrets WHERE last_used_at IS NOT NULL;
ALTER TABLE secrets DROP COLUMN last_used_at;
