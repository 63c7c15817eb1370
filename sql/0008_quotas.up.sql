-- Quotas: a tenant's plan tier (its submits and commands a minute come from
-- the CB_QUOTA_<TIER>_* settings) and an API key's own commands a minute
-- (NULL: CB_QUOTA_KEY_COMMANDS_PER_MIN).
ALTER TABLE orgs ADD COLUMN plan text NOT NULL DEFAULT 'free'
	CHECK (plan IN ('free', 'team', 'enterprise'));
ALTER TABLE api_keys ADD COLUMN commands_per_min integer
	CHECK (commands_per_min IS NULL OR commands_per_min BETWEEN 1 AND 100000000);
