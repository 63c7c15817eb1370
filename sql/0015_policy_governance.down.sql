-- Reverts 0015_policy_governance.
DROP TABLE agent_policy_versions;
