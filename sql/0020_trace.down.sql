-- Reverts 0020_trace.
ALTER TABLE commands DROP COLUMN trace;
ALTER TABLE outbox DROP COLUMN trace;
