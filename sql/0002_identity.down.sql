-- Reverts 0002_identity.
ALTER TABLE outbox DROP COLUMN IF EXISTS payload_sealed;
UPDATE submissions SET data = '{}'::jsonb WHERE data IS NULL;
ALTER TABLE submissions ALTER COLUMN data SET NOT NULL;
ALTER TABLE submissions DROP COLUMN IF EXISTS data_sealed;
DROP TABLE IF EXISTS sf_tokens;
DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS data_keys;
