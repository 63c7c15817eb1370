-- Reverts 0016_calls.
DROP TABLE call_webhook_ids;
DROP TABLE call_events;
DROP TABLE call_sources;
