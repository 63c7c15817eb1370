-- Reverts 0019_key_mtls.
ALTER TABLE api_keys DROP COLUMN mtls_sha256, DROP COLUMN mtls_subject;
