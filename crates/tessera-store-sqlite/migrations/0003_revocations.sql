-- Revocations: one token by jti, or everything a secret, application or tenant minted at or
-- before `before` (epoch seconds). A record is kept until `expires`, when every token it covers
-- has expired anyway, so the table stays small.
CREATE TABLE revocations (
    kind    TEXT NOT NULL CHECK (kind IN ('jti', 'secret', 'application', 'tenant')),
    subject TEXT NOT NULL,
    before  BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_seq ON revocations (seq);
CREATE INDEX revocations_expires ON revocations (expires);
