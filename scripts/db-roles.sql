-- scripts/db-roles.sql: the broker database's two roles, run by the
-- Postgres superuser in the broker's database, at every start of the stack
-- (scripts/stack.sh) or once by an operator (docs/operations.md):
--
--   psql -X -v ON_ERROR_STOP=1 -1 -v owner=cb_owner -v app=cb_app \
--        -d cbroker -f scripts/db-roles.sql
--
-- Both roles exist already (with LOGIN and passwords: the script handles no
-- secret).  Idempotent; in one transaction (-1).
--
-- The owner role owns the database and every object in it and runs the
-- migrations; the application's role owns nothing.  A database from before
-- the split (the application's role owned everything) is upgraded in
-- place: everything it owns is handed to the owner role, and it is granted
-- row access to what exists (sql/0013_roles.up.sql, run next by the
-- migrations as the owner, then takes back what it must not have).
\set ON_ERROR_STOP 1

SELECT current_database() AS db,
       EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = current_database()
                 AND d.datdba = (SELECT oid FROM pg_roles WHERE rolname = :'app'))
    OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner =
                 (SELECT oid FROM pg_roles WHERE rolname = :'app'))
    OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.proowner =
                 (SELECT oid FROM pg_roles WHERE rolname = :'app')) AS legacy
\gset

ALTER DATABASE :"db" OWNER TO :"owner";

\if :legacy
\echo db-roles: the application role owned objects: handing them to the owner role
REASSIGN OWNED BY :"app" TO :"owner";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
\endif

-- Neither role may create roles or databases; the application's role may
-- connect and use temporary tables, and create nothing in the schema.
ALTER ROLE :"owner" NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE :"app" NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";

-- Tables, sequences and functions the owner creates later (a new
-- migration) are the application's to use at once.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
	GRANT USAGE, SELECT ON SEQUENCES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
	GRANT EXECUTE ON FUNCTIONS TO :"app";
