-- tessera schema v1. Portable SQL: the PostgreSQL store uses the same tables.
-- Times are epoch seconds; ids are hyphenated lowercase UUID text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One database-wide change counter. Every mutating transaction bumps it first (which also takes
-- the write lock up front, so no transaction ever has to upgrade a read lock) and stamps the rows
-- it touches with the new value; nodes poll for rows with a greater seq.
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
    digest       BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    deleted      INTEGER NOT NULL DEFAULT 0,
    seq          BIGINT NOT NULL
);
CREATE INDEX secrets_client ON secrets (client_id);
CREATE INDEX secrets_seq ON secrets (seq);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    sealed_key   BLOB NOT NULL,
    seq          BIGINT NOT NULL
);
CREATE INDEX signing_keys_seq ON signing_keys (seq);
