-- 0007_retention: indexes the retention duty (worker/retention.c) and the
-- refresh-token rotation need on tables that only grow without them.
-- IF NOT EXISTS: on a large table an operator may build them beforehand
-- with CREATE INDEX CONCURRENTLY (docs/resilience.md); this step then only
-- records them.
--
-- refresh_tokens_parent: every refresh counts the presented token's
-- children (lib/refresh.c) and every family purge checks the self-reference
-- (parent_id); both scanned the whole table.
CREATE INDEX IF NOT EXISTS refresh_tokens_parent ON refresh_tokens (parent_id);
-- The end of a family, on its root (the row a rotation locks first): the
-- absolute expiry every token of the family shares, or its revocation.
CREATE INDEX IF NOT EXISTS refresh_tokens_family_end ON refresh_tokens (least(expires_at, revoked_at))
	WHERE parent_id IS NULL;
-- Contexts by expiry (the purge and the commands of expired contexts), and
-- a context's submissions (the purge, and the foreign-key check when a
-- context row is deleted).
CREATE INDEX IF NOT EXISTS contexts_expires ON contexts (expires_at);
CREATE INDEX IF NOT EXISTS submissions_ctx ON submissions (ctx_id);
-- Deliveries that keep a submission (and its context): pending, running or
-- dead rows, by the submission they deliver.  Small: only open rows.
CREATE INDEX IF NOT EXISTS outbox_ref_open ON outbox (ref_id) WHERE state IN ('pending', 'running', 'dead');
-- Finished deliveries by age: what the outbox purge walks.
CREATE INDEX IF NOT EXISTS outbox_finished ON outbox (done_at) WHERE state IN ('done', 'discarded');
