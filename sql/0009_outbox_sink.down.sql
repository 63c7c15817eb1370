-- Reverts 0009_outbox_sink.
CREATE INDEX outbox_org_due ON outbox (org_id, run_after, id) WHERE state = 'pending';
DROP INDEX outbox_sink_due;
