-- 0017_sf_connections: one Salesforce org per tenant, its certificate
-- rotation, and data residency (docs/salesforce.md, docs/residency.md).
--
-- A tenant's region pins where its data may go.  NULL: not pinned (every
-- tenant made before this migration, and any whose operator never set
-- one); the broker then applies no residency rule to it.  The regions are
-- a fixed table (lib/region.h), repeated in the CHECKs below.
ALTER TABLE orgs ADD COLUMN region text
	CHECK (region IN ('us', 'ca', 'eu', 'uk', 'ap', 'au', 'jp'));

-- A tenant's own Salesforce connection (at most one).  Tenants without one
-- deliver through the deployment's default connection (the CB_SF_*
-- settings).  The private keys are sealed (purpose tokens) with the AAD
-- "sf_connections:<org_id>:key": both slots share it, so the rotation's
-- promotion moves the next key's sealed text into the current slot as it
-- is; a key copied into another tenant's row does not open.  key_sha256:
-- the SHA-256 of the key's public half (SubjectPublicKeyInfo DER), which
-- is what the certificate uploaded to the connected app holds: safe to
-- show and to audit.  The region is the one the connection's hosts map to
-- (lib/region.h), NULL when they map to none (allowed only while the
-- tenant is not pinned).  version: bumped by every change, so the worker
-- sees a change at its next batch.
CREATE TABLE sf_connections (
	org_id		bigint PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
	region		text CHECK (region IN ('us', 'ca', 'eu', 'uk', 'ap', 'au', 'jp')),
	login_url	text NOT NULL CHECK (octet_length(login_url) BETWEEN 8 AND 512),
	audience	text NOT NULL CHECK (octet_length(audience) BETWEEN 8 AND 512),
	instance_url	text CHECK (octet_length(instance_url) BETWEEN 8 AND 512),
	client_id	text NOT NULL CHECK (octet_length(client_id) BETWEEN 1 AND 256),
	username	text NOT NULL CHECK (octet_length(username) BETWEEN 1 AND 256),
	mapping		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(mapping) = 'object'),
	key_sealed	text NOT NULL,
	key_sha256	text NOT NULL CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
	key_at		timestamptz NOT NULL DEFAULT now(),
	next_key_sealed	text,
	next_key_sha256	text CHECK (next_key_sha256 ~ '^[0-9a-f]{64}$'),
	next_key_at	timestamptz,
	version		bigint NOT NULL DEFAULT 1,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	CHECK ((next_key_sealed IS NULL) = (next_key_sha256 IS NULL)
	    AND (next_key_sealed IS NULL) = (next_key_at IS NULL))
);

-- Webhook endpoints and data keys carry the region they are in: an
-- endpoint the one its URL's host maps to, a data key the region of the
-- deployment that made it (CB_REGION).  NULL: unknown (made before this
-- migration, or a host no region claims).
ALTER TABLE webhook_endpoints ADD COLUMN region text
	CHECK (region IN ('us', 'ca', 'eu', 'uk', 'ap', 'au', 'jp'));
ALTER TABLE data_keys ADD COLUMN region text
	CHECK (region IN ('us', 'ca', 'eu', 'uk', 'ap', 'au', 'jp'));

-- Pauses and status are per connection: "salesforce" is the default
-- connection, "salesforce:<org_id>" a tenant's own.  A pause of one never
-- holds another's rows.
ALTER TABLE sink_pauses DROP CONSTRAINT sink_pauses_sink_check;
ALTER TABLE sink_pauses ADD CONSTRAINT sink_pauses_sink_check
	CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}(:[0-9]{1,19})?$');
ALTER TABLE sink_status DROP CONSTRAINT sink_status_sink_check;
ALTER TABLE sink_status ADD CONSTRAINT sink_status_sink_check
	CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}(:[0-9]{1,19})?$');

-- The pause that holds a tenant's rows of a sink: the tenant's own
-- Salesforce connection's, else the sink's.
CREATE FUNCTION sink_scope(p_sink text, p_org bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN p_sink = 'salesforce' AND EXISTS
	    (SELECT 1 FROM sf_connections c WHERE c.org_id = p_org)
	    THEN 'salesforce:' || p_org ELSE p_sink END
$$;
