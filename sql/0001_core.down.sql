-- Reverts 0001_core.  Drops every table it created, dependants first.
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS submissions;
DROP TABLE IF EXISTS commands;
DROP TABLE IF EXISTS contexts;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS agents;
DROP TABLE IF EXISTS agent_policies;
ALTER TABLE IF EXISTS forms DROP CONSTRAINT IF EXISTS forms_current_version_fk;
DROP TABLE IF EXISTS form_versions;
DROP TABLE IF EXISTS forms;
DROP TABLE IF EXISTS orgs;
DROP FUNCTION IF EXISTS cb_notify_command();
DROP FUNCTION IF EXISTS cb_notify_outbox();
DROP FUNCTION IF EXISTS cb_forbid_change();
