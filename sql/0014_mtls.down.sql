-- Reverts 0014_mtls.
ALTER TABLE agents DROP COLUMN mtls_sha256, DROP COLUMN mtls_subject;
