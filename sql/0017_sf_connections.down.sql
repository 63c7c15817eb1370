-- Reverts 0017_sf_connections.
DROP FUNCTION sink_scope(text, bigint);
DELETE FROM sink_pauses WHERE sink LIKE '%:%';
DELETE FROM sink_status WHERE sink LIKE '%:%';
ALTER TABLE sink_status DROP CONSTRAINT sink_status_sink_check;
ALTER TABLE sink_status ADD CONSTRAINT sink_status_sink_check CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}$');
ALTER TABLE sink_pauses DROP CONSTRAINT sink_pauses_sink_check;
ALTER TABLE sink_pauses ADD CONSTRAINT sink_pauses_sink_check CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}$');
ALTER TABLE data_keys DROP COLUMN region;
ALTER TABLE webhook_endpoints DROP COLUMN region;
DROP TABLE sf_connections;
ALTER TABLE orgs DROP COLUMN region;
