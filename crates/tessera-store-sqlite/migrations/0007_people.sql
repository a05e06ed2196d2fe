-- People who sign in to the Developer Hub console, and their sessions. Passwords are argon2id
-- PHC strings; setup codes and session ids are kept only as SHA-256 digests (hex). Neither table
-- is part of the change feed: nodes read them on every use.
CREATE TABLE people (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    email            TEXT NOT NULL UNIQUE,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at       BIGINT NOT NULL,
    password_hash    TEXT,
    setup_digest     TEXT UNIQUE,
    setup_expires_at BIGINT
);
CREATE INDEX people_tenant ON people (tenant_id, created_at);

CREATE TABLE sessions (
    digest       TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
