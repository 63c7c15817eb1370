-- 0001_core: tenants, forms and their immutable versions, agent policies,
-- agents and their API keys, tab contexts, UI commands, submissions, the
-- idempotency-key store and the transactional outbox.
--
-- Every tenant row carries org_id and every query filters on it.  Ids that
-- leave the broker are random UUIDs, so they cannot be enumerated.

CREATE FUNCTION cb_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME
	    USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TABLE orgs (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	slug		text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE forms (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	-- Where submissions go in Salesforce: the sObject and its external-id field.
	sf_object	text NOT NULL DEFAULT 'Form_Submission__c'
			CHECK (sf_object ~ '^[A-Za-z][A-Za-z0-9_]{0,79}$'),
	sf_ext_field	text NOT NULL DEFAULT 'Broker_Submission_Id__c'
			CHECK (sf_ext_field ~ '^[A-Za-z][A-Za-z0-9_]{0,79}$'),
	current_version	integer,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX forms_org ON forms (org_id);

CREATE TABLE form_versions (
	form_id		uuid NOT NULL REFERENCES forms(id),
	version		integer NOT NULL CHECK (version > 0),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	definition	jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
	published_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (form_id, version)
);
CREATE TRIGGER form_versions_immutable BEFORE UPDATE ON form_versions
	FOR EACH ROW EXECUTE FUNCTION cb_forbid_change();

ALTER TABLE forms ADD CONSTRAINT forms_current_version_fk
	FOREIGN KEY (id, current_version) REFERENCES form_versions (form_id, version)
	DEFERRABLE INITIALLY DEFERRED;

-- The agent policy of a form: what an agent may make a tab do.
CREATE TABLE agent_policies (
	form_id		uuid PRIMARY KEY REFERENCES forms(id),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	allowed_types	text[] NOT NULL DEFAULT '{}',
	selectors	text[] NOT NULL DEFAULT '{}',
	rate_per_minute	integer NOT NULL DEFAULT 60 CHECK (rate_per_minute BETWEEN 1 AND 6000),
	max_in_flight	integer NOT NULL DEFAULT 2 CHECK (max_in_flight BETWEEN 1 AND 16),
	approval_types	text[] NOT NULL DEFAULT '{}',
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	disabled_at	timestamptz
);
CREATE INDEX agents_org ON agents (org_id);

-- API keys: shown once; stored as a keyed BLAKE2b hash (server-side pepper).
-- The prefix is the visible, non-secret part used to find the row.
CREATE TABLE api_keys (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	agent_id	uuid NOT NULL REFERENCES agents(id),
	prefix		text NOT NULL UNIQUE,
	key_hash	bytea NOT NULL,
	scopes		text[] NOT NULL DEFAULT '{commands:write,commands:read}',
	expires_at	timestamptz,
	revoked_at	timestamptz,
	last_used_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);

-- One browser tab working on one form, pinned to the version it loaded.
CREATE TABLE contexts (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	form_id		uuid NOT NULL,
	form_version	integer NOT NULL,
	tab_token_hash	bytea NOT NULL UNIQUE,
	last_seq	bigint NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	FOREIGN KEY (form_id, form_version) REFERENCES form_versions (form_id, version)
);
CREATE INDEX contexts_org ON contexts (org_id);

-- UI commands, with a dense per-tab sequence number.
CREATE TABLE commands (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	ctx_id		uuid NOT NULL REFERENCES contexts(id),
	seq		bigint NOT NULL CHECK (seq > 0),
	agent_id	uuid REFERENCES agents(id),
	type		text NOT NULL,
	selector	text,
	value		jsonb,
	nonce		text,
	state		text NOT NULL DEFAULT 'queued' CHECK (state IN
			('pending_approval', 'queued', 'delivered', 'applied', 'failed', 'timeout', 'dead')),
	attempts	integer NOT NULL DEFAULT 0,
	reason		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz,
	delivered_at	timestamptz,
	finished_at	timestamptz,
	UNIQUE (ctx_id, seq)
);
CREATE INDEX commands_org ON commands (org_id);
CREATE UNIQUE INDEX commands_nonce ON commands (ctx_id, nonce) WHERE nonce IS NOT NULL;

CREATE TABLE submissions (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	ctx_id		uuid NOT NULL REFERENCES contexts(id),
	form_id		uuid NOT NULL,
	form_version	integer NOT NULL,
	data		jsonb NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (form_id, form_version) REFERENCES form_versions (form_id, version)
);
CREATE INDEX submissions_org ON submissions (org_id);

-- Idempotency keys (draft-ietf-httpapi-idempotency-key-header): the key is
-- scoped to the caller (scope) so a guessed key cannot reach another
-- caller's stored response.  Written in the same transaction as the effect.
CREATE TABLE idempotency_keys (
	org_id		bigint NOT NULL REFERENCES orgs(id),
	scope		text NOT NULL,
	idem_key	text NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
	method		text NOT NULL,
	path		text NOT NULL,
	fingerprint	bytea NOT NULL,
	status		integer NOT NULL,
	response	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL DEFAULT now() + interval '24 hours',
	PRIMARY KEY (org_id, scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The transactional outbox: everything that leaves the broker.
CREATE TABLE outbox (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs(id),
	kind		text NOT NULL,
	ref_id		uuid,
	payload		jsonb NOT NULL,
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'running', 'done', 'dead')),
	attempts	integer NOT NULL DEFAULT 0,
	max_attempts	integer NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
	run_after	timestamptz NOT NULL DEFAULT now(),
	locked_by	text,
	locked_until	timestamptz,
	last_error	text,
	result		jsonb,
	created_at	timestamptz NOT NULL DEFAULT now(),
	done_at		timestamptz
);
CREATE INDEX outbox_ready ON outbox (run_after, id) WHERE state IN ('pending', 'running');
CREATE INDEX outbox_dead ON outbox (org_id, id) WHERE state = 'dead';

-- Wake-ups for the worker: Postgres stays the truth, NOTIFY only says "look".
CREATE FUNCTION cb_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cb_outbox', NEW.id::text);
	RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH ROW EXECUTE FUNCTION cb_notify_outbox();

CREATE FUNCTION cb_notify_command() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cb_commands', NEW.ctx_id::text);
	RETURN NULL;
END $$;
CREATE TRIGGER commands_notify AFTER INSERT OR UPDATE OF state ON commands
	FOR EACH ROW EXECUTE FUNCTION cb_notify_command();
