-- Reverts 0024_command_seal.  SQL cannot open a sealed value, so this step
-- cannot put command values back in `value`.  A finished command's value
-- is no longer needed (its tab applied it or never will): it is dropped
-- with the column.  A command that may still be delivered or approved with
-- a sealed value makes this step refuse: wait until none is left (a
-- command waits at most its delivery window and its policy's approval TTL),
-- then run it again.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM commands WHERE value_sealed IS NOT NULL
	    AND state IN ('pending_approval', 'queued', 'delivered')) THEN
		RAISE EXCEPTION 'commands with a sealed value are still waiting for delivery:'
		    ' wait until they finished, then step down again';
	END IF;
END
$$;
DROP INDEX commands_valued;
CREATE INDEX commands_valued ON commands (created_at) WHERE value IS NOT NULL;
ALTER TABLE approvals DROP COLUMN value_masked;
ALTER TABLE commands DROP CONSTRAINT commands_value_once;
ALTER TABLE commands DROP COLUMN value_sealed;
