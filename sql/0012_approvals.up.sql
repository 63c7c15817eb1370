-- 0012_approvals: a human decides on a command its form's agent policy holds
-- for approval (approval_types).  Command accept (cgi/commands.c) stores
-- the command `pending_approval` and, in the same statement, its approval:
-- a random single-use id, the SHA-256 of the command's canonical form, an
-- expiry from the policy (approval_ttl_s).  A decision (lib/approval.c)
-- makes the approval approved or denied and the command queued or denied,
-- in one statement that only a pending, unexpired approval whose hash
-- still matches passes; the worker's approvals duty ends the ones nobody
-- decided in time as expired, their commands denied (docs/approvals.md).
--
-- Commands gain the state `denied`: a human refused it, or nobody decided
-- in time.  People gain the role `approver`: may decide approvals, nothing
-- else; and the Slack member id they click as.

ALTER TABLE commands DROP CONSTRAINT commands_state_check;
ALTER TABLE commands ADD CONSTRAINT commands_state_check CHECK (state IN
	('pending_approval', 'queued', 'delivered', 'applied', 'failed', 'timeout', 'dead',
	 'expired', 'denied'));

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN
	('admin', 'operator', 'viewer', 'approver'));

-- The canonical form of a command an approval binds, hashed (lowercase hex
-- SHA-256).  The bytes are, in this order, each field on its own line
-- (a line ends with one LF, 0x0A):
--   cb-approval-v1
--   <ctx id: the uuid's 36-character lowercase text>
--   <seq: decimal>
--   <len>:<type>
--   <len>:<selector>, or "-" when the command has none
--   <len>:<value>, or "-" when it has none; the value is the JSON text
--       Postgres prints for the jsonb it is stored as (commands carry a
--       string, a number or a boolean: a JSON string with Postgres'
--       escaping, a number in numeric's text, true or false)
--   <form version: decimal>
--   <policy version: decimal>
-- where <len> is the decimal byte length of what follows the colon, so no
-- field can borrow another's bytes.  The policy version is the form's
-- agent policy's version (0011): a policy changed since the command was
-- accepted no longer matches.
CREATE FUNCTION cb_command_hash(ctx uuid, seq bigint, type text, selector text, value jsonb,
    form_version integer, policy_version integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT encode(sha256(convert_to(
	    'cb-approval-v1' || E'\n' ||
	    ctx::text || E'\n' ||
	    seq::text || E'\n' ||
	    octet_length(type)::text || ':' || type || E'\n' ||
	    coalesce(octet_length(selector)::text || ':' || selector, '-') || E'\n' ||
	    coalesce(octet_length(value::text)::text || ':' || value::text, '-') || E'\n' ||
	    form_version::text || E'\n' ||
	    policy_version::text || E'\n', 'UTF8')), 'hex')
$$;

-- The Slack member a person clicks approval buttons as (cb-admin
-- user-slack): POST /api/v1/slack/interactions maps the clicking user to a
-- person of the approval's tenant by it.
ALTER TABLE users ADD COLUMN slack_user_id text CHECK (slack_user_id ~ '^[UW][A-Z0-9]{2,19}$');
CREATE UNIQUE INDEX users_slack ON users (org_id, slack_user_id) WHERE slack_user_id IS NOT NULL;

CREATE TABLE approvals (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),	-- random (v4): the single-use id
	org_id		bigint NOT NULL REFERENCES orgs(id),
	command_id	uuid NOT NULL UNIQUE REFERENCES commands(id) ON DELETE CASCADE,
	ctx_id		uuid NOT NULL,
	agent_id	uuid,					-- the issuing agent
	cmd_hash	text NOT NULL CHECK (cmd_hash ~ '^[0-9a-f]{64}$'),
	form_version	integer NOT NULL,
	policy_version	integer NOT NULL,
	-- The command's own delivery window (its expires_in_ms), restarted
	-- when it is approved.
	deliver_ms	integer NOT NULL CHECK (deliver_ms BETWEEN 1000 AND 600000),
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	decided_by	text CHECK (octet_length(decided_by) <= 64),	-- user:<id>, or system
	decided_at	timestamptz,
	reason		text CHECK (octet_length(reason) <= 500),
	CHECK ((state = 'pending') = (decided_at IS NULL)),
	CHECK ((state = 'pending') = (decided_by IS NULL))
);
CREATE INDEX approvals_org ON approvals (org_id);
CREATE INDEX approvals_expiring ON approvals (expires_at) WHERE state = 'pending';
