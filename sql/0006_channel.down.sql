-- Reverts 0006_channel: the NOTIFY trigger comes back; expired commands
-- become timeouts (the nearest old state: never applied by a tab).
CREATE FUNCTION cb_notify_command() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cb_commands', NEW.ctx_id::text);
	RETURN NULL;
END $$;
CREATE TRIGGER commands_notify AFTER INSERT OR UPDATE OF state ON commands
	FOR EACH ROW EXECUTE FUNCTION cb_notify_command();
DROP INDEX IF EXISTS commands_expiring;
UPDATE commands SET state = 'timeout' WHERE state = 'expired';
ALTER TABLE commands DROP CONSTRAINT commands_state_check;
ALTER TABLE commands ADD CONSTRAINT commands_state_check CHECK (state IN
	('pending_approval', 'queued', 'delivered', 'applied', 'failed', 'timeout', 'dead'));
