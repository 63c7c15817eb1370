-- Two database roles (docs/operations.md): the owner role (cb_owner) owns
-- the database and every object and runs the migrations; the application's
-- role (cb_app), which every responder, the worker and cb-admin use, owns
-- nothing and holds only the privileges granted here.  A role that owns
-- nothing cannot drop a trigger, alter a table or grant itself more, so
-- the audit trail's append-only rule stops resting on a trigger alone.
--
-- Run by the owner role (cb-migrate with CB_PG_OWNER_DSN): the grants and
-- default privileges below are the owner's.  A database where cb_app still
-- owns everything is upgraded first by scripts/db-roles.sql (run by
-- scripts/stack.sh, or by an operator as the Postgres superuser).
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cb_app') THEN
		RAISE EXCEPTION 'the application role cb_app does not exist: run scripts/db-roles.sql first (docs/operations.md)';
	END IF;
	IF current_user = 'cb_app' THEN
		RAISE EXCEPTION 'migrations run as the owner role (CB_PG_OWNER_DSN), not as cb_app: see docs/operations.md';
	END IF;
END
$$;

-- What exists now, and what later migrations create in this schema: the
-- application reads and writes rows, draws from sequences, runs functions
-- (EXECUTE is PUBLIC's by default).  No TRUNCATE, REFERENCES or TRIGGER.
GRANT USAGE ON SCHEMA public TO cb_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cb_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO cb_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO cb_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT USAGE, SELECT ON SEQUENCES TO cb_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT EXECUTE ON FUNCTIONS TO cb_app;

-- The migrations' own bookkeeping: readable, never written by the app.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM cb_app;

-- The audit trail: the app reads it and appends to it, nothing else.  It
-- may name only the columns a new row's author gives (an id, a time or a
-- place in the chain it chose would be a forgery); the rest is defaults.
REVOKE ALL ON audit_log, audit_head FROM cb_app;
GRANT SELECT ON audit_log, audit_head TO cb_app;
GRANT INSERT (org_id, actor, action, subject, detail) ON audit_log TO cb_app;

-- Sealing runs with the owner's rights (the app cannot UPDATE a row
-- itself), with a search path no other role can put objects on (public
-- takes CREATE from the owner only), and only for the app.
ALTER FUNCTION cb_audit_seal(integer) SECURITY DEFINER
	SET search_path = pg_catalog, public, pg_temp;
REVOKE EXECUTE ON FUNCTION cb_audit_seal(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cb_audit_seal(integer) TO cb_app;
