-- Reverts 0008_quotas.
ALTER TABLE api_keys DROP COLUMN commands_per_min;
ALTER TABLE orgs DROP COLUMN plan;
