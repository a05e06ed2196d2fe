-- The two-secret limit, enforced by the database itself: an application may hold at most two
-- secrets that are live (not deleted) and unexpired when a new one is created. SQLite runs one
-- writer at a time, so the check cannot race.
CREATE TRIGGER secrets_limit BEFORE INSERT ON secrets
WHEN (SELECT COUNT(*) FROM secrets
      WHERE client_id = NEW.client_id AND deleted = 0 AND expires_at > NEW.created_at) >= 2
BEGIN
    SELECT RAISE(ABORT, 'tessera: secret limit reached');
END;
