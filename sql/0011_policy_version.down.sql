-- Reverts 0011_policy_version.
ALTER TABLE agent_policies DROP COLUMN approval_ttl_s, DROP COLUMN version;
