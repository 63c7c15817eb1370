-- A command's value is sealed at rest, like a submission's data
-- (docs/classification.md).  Command accept (cgi/commands.c) seals every
-- value (pii purpose, AAD "commands:<id>:value": lib/reseal.h) and writes it
-- in value_sealed in the statement that inserts the command; `value` stays
-- NULL.  Rows written before keep their clear `value` until retention or
-- erasure takes it: a row never holds both.
--
-- The approval hash of a sealed command (sql/0012's cb_command_hash) cannot
-- read the value in SQL.  Its value line is then the JSON string
-- "sealed:<hex>", where <hex> is the command's fingerprint: a keyed digest
-- (lib/digest.h, the blind index key) of its type, selector, value and
-- delivery window, written with the row and never changed.  A key rotation
-- re-seals value_sealed; the fingerprint, and so the hash, stay the same.
--
-- The approvals console shows a value masked (lib/approval.h's
-- APPROVAL_MASKED_SQL); the mask is kept on the approval when it is made,
-- since the command no longer holds a value SQL can read.
ALTER TABLE commands ADD COLUMN value_sealed text CHECK (value_sealed LIKE 'v1.%');
ALTER TABLE commands ADD CONSTRAINT commands_value_once
	CHECK (value IS NULL OR value_sealed IS NULL);
ALTER TABLE approvals ADD COLUMN value_masked text CHECK (octet_length(value_masked) <= 64);
-- The retention duty's finished commands holding a value, either kind.
DROP INDEX commands_valued;
CREATE INDEX commands_valued ON commands (created_at)
	WHERE value IS NOT NULL OR value_sealed IS NOT NULL;
