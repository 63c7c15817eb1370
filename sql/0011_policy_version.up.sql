-- An agent policy is versioned: every change makes a new version (the
-- governance route and cb-admin policy-set both bump it), and an approval
-- binds the version its command was checked against, so a command checked
-- under one policy cannot be approved under another.  How long a human may
-- take to decide on a command the policy holds for approval is the
-- policy's too (seed 004: expiry denies by default).
ALTER TABLE agent_policies
	ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
	ADD COLUMN approval_ttl_s integer NOT NULL DEFAULT 900
		CHECK (approval_ttl_s BETWEEN 30 AND 86400);
