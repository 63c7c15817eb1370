-- Reverts 0013_roles to the one-role layout's audit rules: sealing runs
-- with the caller's rights again, so the app role gets its writes on the
-- audit tables and the bookkeeping back (the trigger still refuses every
-- change but sealing).  The grants on every other table and the default
-- privileges stay: the database keeps its owner role (scripts/db-roles.sql),
-- and without them the application could not run at all.
-- down-keeps: privileges
-- (test_migrate compares the database before the up step and after this
-- one without their grants and default privileges.)
ALTER FUNCTION cb_audit_seal(integer) SECURITY INVOKER;
ALTER FUNCTION cb_audit_seal(integer) RESET search_path;
GRANT EXECUTE ON FUNCTION cb_audit_seal(integer) TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log, audit_head TO cb_app;
GRANT INSERT, UPDATE, DELETE ON schema_migrations TO cb_app;
