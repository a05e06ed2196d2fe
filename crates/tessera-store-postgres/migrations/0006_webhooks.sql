-- Secret-expiry webhooks: one URL per tenant, its Standard Webhooks signing secret sealed under a
-- key derived from the master key. `expiry_notices` is how the nodes agree that each expiring
-- secret gets one notice a day: the node whose insert succeeds sends it.
CREATE TABLE webhooks (
    tenant_id     TEXT PRIMARY KEY REFERENCES tenants (id),
    url           TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE expiry_notices (
    secret_id  TEXT NOT NULL,
    day        BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (secret_id, day)
);
