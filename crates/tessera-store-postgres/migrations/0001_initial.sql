-- tessera schema v1 for PostgreSQL: the same tables as the SQLite store. Times are epoch seconds
-- (audit: microseconds); ids are hyphenated lowercase UUID text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The change counter. Every mutating transaction bumps it first: the row lock serialises
-- writers, so sequence numbers are assigned in commit order and a node polling "seq > N" never
-- skips a change that committed late. It also makes the two-secret limit and first-key creation
-- race-free across nodes: the check and the insert run under the same lock.
CREATE TABLE change_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent_id  TEXT REFERENCES tenants (id),
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    created_at BIGINT NOT NULL,
    seq        BIGINT NOT NULL
);
CREATE INDEX tenants_seq ON tenants (seq);

CREATE TABLE applications (
    client_id  TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    created_at BIGINT NOT NULL,
    seq        BIGINT NOT NULL
);
CREATE INDEX applications_tenant ON applications (tenant_id);
CREATE INDEX applications_seq ON applications (seq);

CREATE TABLE secrets (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES applications (client_id),
    name         TEXT NOT NULL,
    digest       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    deleted      BIGINT NOT NULL DEFAULT 0,
    seq          BIGINT NOT NULL
);
CREATE INDEX secrets_client ON secrets (client_id);
CREATE INDEX secrets_seq ON secrets (seq);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    sealed_key   BYTEA NOT NULL,
    seq          BIGINT NOT NULL
);
CREATE INDEX signing_keys_seq ON signing_keys (seq);

CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    tenant_id TEXT,
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    source    TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

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
