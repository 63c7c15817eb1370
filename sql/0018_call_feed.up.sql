-- 0018_call_feed: a tenant's live call activity over the WebSocket channel
-- (docs/channel.md "The call feed", docs/calls.md).
--
-- Every accepted call event gets a dense position in its tenant's feed,
-- feed_seq = 1, 2, 3, ...: a reader resumes after the last position it
-- saw, and a missing row is a real gap.  The position is given after the
-- event's commit, by the channel's sequencer (worker/chan_feed.c): one
-- statement numbers the events still without one (the partial index
-- finds them) and moves their tenants' heads (call_feed_heads), whose row
-- locks order two sequencers' commits as their positions.  The ingest
-- itself takes no lock a second event would wait for.
--
-- What a feed frame shows besides the key: the times as sent and the
-- phones MASKED ("+" and asterisks, the last four digits kept: the number
-- itself stays only in the sealed field map of the outbox row).
CREATE TABLE call_feed_heads (
	org_id		bigint PRIMARY KEY REFERENCES orgs(id),
	last_seq	bigint NOT NULL CHECK (last_seq >= 0)
);

ALTER TABLE call_events
	ADD COLUMN feed_seq	bigint,
	ADD COLUMN started_at	timestamptz,
	ADD COLUMN ended_at	timestamptz,
	ADD COLUMN duration_s	integer CHECK (duration_s BETWEEN 0 AND 86400),
	ADD COLUMN from_masked	text CHECK (from_masked ~ '^\+\**[0-9]{0,4}$'),
	ADD COLUMN to_masked	text CHECK (to_masked ~ '^\+\**[0-9]{0,4}$');
ALTER TABLE call_events ADD CONSTRAINT call_events_feed UNIQUE (org_id, feed_seq);
CREATE INDEX call_events_unsequenced ON call_events (created_at, id) WHERE feed_seq IS NULL;
