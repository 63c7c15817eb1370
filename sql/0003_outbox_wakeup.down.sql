-- Reverts 0003_outbox_wakeup: the NOTIFY trigger comes back.
CREATE FUNCTION cb_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cb_outbox', NEW.id::text);
	RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH ROW EXECUTE FUNCTION cb_notify_outbox();
