-- The secret limit is the application's policy (`SecretPolicy::max_active`), enforced by the
-- store in the write transaction that inserts the secret; a limit fixed in the schema would
-- silently disagree with a policy that sets another.
DROP TRIGGER IF EXISTS secrets_limit;
