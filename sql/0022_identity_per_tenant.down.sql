-- Reverts 0022_identity_per_tenant.  Refused (the unique constraint fails)
-- while two orgs hold users of the same email: disable and remove one of
-- them first.
CREATE INDEX users_org ON users (org_id);
ALTER TABLE users DROP CONSTRAINT users_org_email_key;
ALTER TABLE users ADD CONSTRAINT users_email_hash_key UNIQUE (email_hash);
