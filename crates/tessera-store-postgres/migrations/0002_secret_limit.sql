-- The two-secret limit, enforced by the database itself: an application may hold at most two
-- secrets that are live (not deleted) and unexpired when a new one is created. The row lock on
-- the application serialises concurrent inserts for it, whichever node or process makes them.
CREATE FUNCTION tessera_secret_limit() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM applications WHERE client_id = NEW.client_id FOR UPDATE;
    IF (SELECT COUNT(*) FROM secrets
        WHERE client_id = NEW.client_id AND deleted = 0 AND expires_at > NEW.created_at) >= 2 THEN
        RAISE EXCEPTION 'tessera: secret limit reached' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER secrets_limit BEFORE INSERT ON secrets
    FOR EACH ROW EXECUTE FUNCTION tessera_secret_limit();
