-- Reverts 0023_retention_class.  Fields already taken out of submissions
-- stay out (classes_purged only recorded it).
DROP FUNCTION cb_field_class(jsonb, text);
DROP INDEX commands_valued;
DROP INDEX submissions_created;
ALTER TABLE submissions DROP COLUMN classes_purged;
DROP VIEW retention_effective;
DROP TABLE retention_periods;
