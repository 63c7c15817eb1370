-- Reverts 0004_delivery.  Discarded rows go back to dead (the old states).
DROP TABLE webhook_endpoints;
DROP TABLE alerts;
DROP TABLE sink_failures;
DROP TABLE sink_status;
DROP TABLE sink_pauses;
DROP TABLE delivery_workers;
DROP INDEX outbox_running;
DROP INDEX outbox_sys_due;
DELETE FROM outbox WHERE org_id IS NULL;
ALTER TABLE outbox ALTER COLUMN org_id SET NOT NULL;
DROP INDEX outbox_org_due;
CREATE INDEX outbox_ready ON outbox (run_after, id) WHERE state IN ('pending', 'running');
UPDATE outbox SET state = 'dead' WHERE state = 'discarded';
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check
	CHECK (state IN ('pending', 'running', 'done', 'dead'));
ALTER TABLE outbox DROP COLUMN dead_at;
ALTER TABLE outbox DROP COLUMN replays;
