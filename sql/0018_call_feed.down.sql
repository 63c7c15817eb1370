-- Reverts 0018_call_feed.
DROP INDEX call_events_unsequenced;
ALTER TABLE call_events DROP CONSTRAINT call_events_feed;
ALTER TABLE call_events
	DROP COLUMN feed_seq,
	DROP COLUMN started_at,
	DROP COLUMN ended_at,
	DROP COLUMN duration_s,
	DROP COLUMN from_masked,
	DROP COLUMN to_masked;
DROP TABLE call_feed_heads;
