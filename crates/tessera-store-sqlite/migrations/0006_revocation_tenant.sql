-- The tenant a revocation record belongs to (the secret's or application's tenant, the tenant
-- itself, or for a token the revoking client's tenant), so that the revocation feed answers a
-- resource server only the records of its tenant and the tenants below it. Records written
-- before this column existed keep NULL; the feed shows them to every reader.
ALTER TABLE revocations ADD COLUMN tenant_id TEXT;
