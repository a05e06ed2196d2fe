-- The secret limit is the application's policy (`SecretPolicy::max_active`), enforced by the
-- store in the write transaction that inserts the secret, after locking the application row; a
-- limit fixed in the schema would silently disagree with a policy that sets another.
DROP TRIGGER IF EXISTS secrets_limit ON secrets;
DROP FUNCTION IF EXISTS tessera_secret_limit();
