-- Reverts 0010_audit (the trail goes with it: take a copy first).
DROP FUNCTION cb_audit_seal(integer);
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP FUNCTION cb_audit_guard();
DROP FUNCTION cb_audit_text(bigint, bigint, timestamptz, bigint, text, text, text, jsonb);
