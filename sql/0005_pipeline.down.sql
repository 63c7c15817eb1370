-- Reverts 0005_pipeline.
DROP FUNCTION IF EXISTS cb_submit_refuse(text, bigint, uuid, uuid, bytea);
DROP FUNCTION IF EXISTS cb_idem_stored(bigint, text, text, bytea, text, text);
ALTER TABLE commands DROP COLUMN IF EXISTS fingerprint;
DROP TABLE IF EXISTS submission_digests;
