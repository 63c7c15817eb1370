-- Reverts 0012_approvals.  Denied commands become dead (never reached a
-- tab, never will); approvers become viewers (the nearest role that may
-- change nothing).
DROP TABLE approvals;
DROP FUNCTION cb_command_hash(uuid, bigint, text, text, jsonb, integer, integer);
DROP INDEX users_slack;
ALTER TABLE users DROP COLUMN slack_user_id;
UPDATE users SET role = 'viewer' WHERE role = 'approver';
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'operator', 'viewer'));
UPDATE commands SET state = 'dead' WHERE state = 'denied';
ALTER TABLE commands DROP CONSTRAINT commands_state_check;
ALTER TABLE commands ADD CONSTRAINT commands_state_check CHECK (state IN
	('pending_approval', 'queued', 'delivered', 'applied', 'failed', 'timeout', 'dead',
	 'expired'));
