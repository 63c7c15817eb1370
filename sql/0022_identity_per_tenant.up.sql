-- 0022_identity_per_tenant: users belong to one tenant (docs/identity.md).
-- An email was unique across the deployment, so one tenant's admin learnt
-- from a 409 that an address existed in another tenant and could take it
-- first.  Now it is unique within its org only; a login names the org.
-- The org's own index is the new key's prefix: users_org goes.
--
-- The email index itself (email_hash) is not rewritten here: SQL holds no
-- key.  After this release's first start, `cb-admin reindex` moves every
-- row from the pepper-derived key to CB_BLIND_INDEX_KEY_FILE's (README,
-- "Blind indexes"); meanwhile a file holding the old pepper, named by
-- CB_BLIND_INDEX_KEY_PREVIOUS_FILE, keeps those users' logins working.
ALTER TABLE users DROP CONSTRAINT users_email_hash_key;
ALTER TABLE users ADD CONSTRAINT users_org_email_key UNIQUE (org_id, email_hash);
DROP INDEX users_org;
