-- 0006_channel: the tab channel keeps its promises and wakes up without
-- NOTIFY.
--
-- States: `expired` (expires_at passed before the command could be sent,
-- or while it waited for a receipt: it is never sent again) joins the
-- CHECK; `dead` (delivery retries exhausted) was already allowed.
--
-- The expiry sweep reads the commands that can still expire in
-- expires_at order, in small batches: a partial index keeps it cheap.
--
-- The NOTIFY trigger on commands goes: NOTIFY serialises every notifying
-- commit on one queue lock.  The command route PUBLISHes `cb:cmd <ctx_id>`
-- on Redis after its commit, and the channel's sweep (every
-- CB_CHANNEL_SWEEP_MS) finds whatever a lost wake-up did not announce.
ALTER TABLE commands DROP CONSTRAINT commands_state_check;
ALTER TABLE commands ADD CONSTRAINT commands_state_check CHECK (state IN
	('pending_approval', 'queued', 'delivered', 'applied', 'failed', 'timeout', 'dead',
	 'expired'));
CREATE INDEX commands_expiring ON commands (expires_at)
	WHERE state IN ('pending_approval', 'queued', 'delivered') AND expires_at IS NOT NULL;
DROP TRIGGER IF EXISTS commands_notify ON commands;
DROP FUNCTION IF EXISTS cb_notify_command();
