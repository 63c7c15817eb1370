-- 0004_delivery: the delivery engine (worker/outbox.c and its sinks).
--
-- Leases that do not strand work: a delivery process registers itself in
-- delivery_workers with the Postgres backend it leases through.  A row it
-- holds can be taken back at once when that backend is gone (the process
-- died, or lost its connection), and in any case when its short lease
-- (renewed while the process is alive) runs out.  Every worker connects as
-- the same role, so pg_stat_activity shows each other's pid and
-- backend_start.
--
-- A dead letter can be replayed (back to pending, attempts reset) or
-- discarded (kept, never delivered); both are counted on the row.
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check
	CHECK (state IN ('pending', 'running', 'done', 'dead', 'discarded'));
ALTER TABLE outbox ADD COLUMN replays integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN dead_at timestamptz;
ALTER TABLE outbox ALTER COLUMN max_attempts SET DEFAULT 8;

-- Operators' alerts belong to no tenant: the outbox takes rows without one.
ALTER TABLE outbox ALTER COLUMN org_id DROP NOT NULL;

-- Fair leasing walks the organisations and takes each one's due rows.
DROP INDEX outbox_ready;
CREATE INDEX outbox_org_due ON outbox (org_id, run_after, id) WHERE state = 'pending';
CREATE INDEX outbox_sys_due ON outbox (run_after, id) WHERE state = 'pending' AND org_id IS NULL;
CREATE INDEX outbox_running ON outbox (locked_by) WHERE state = 'running';

CREATE TABLE delivery_workers (
	id		text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
	backend_pid	integer NOT NULL,
	backend_start	timestamptz NOT NULL,
	started_at	timestamptz NOT NULL DEFAULT now(),
	seen_at		timestamptz NOT NULL DEFAULT now()
);

-- A sink paused for everyone (invalid_grant, the org's API allocation, a
-- 429 from Slack): rows of its kinds wait, none is charged an attempt.
CREATE TABLE sink_pauses (
	sink		text PRIMARY KEY CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}$'),
	until		timestamptz NOT NULL,
	reason		text NOT NULL,
	since		timestamptz NOT NULL DEFAULT now()
);

-- What the operator's health view shows per sink: last outcome and when.
CREATE TABLE sink_status (
	sink		text PRIMARY KEY CHECK (sink ~ '^[a-z][a-z0-9_]{0,31}$'),
	last_outcome	text,
	last_error	text,
	last_at		timestamptz,
	last_ok_at	timestamptz,
	last_mint_at	timestamptz,
	mints		bigint NOT NULL DEFAULT 0,
	limit_used	bigint,
	limit_max	bigint
);

-- OAuth and other sink failures, counted for alert thresholds; pruned.
CREATE TABLE sink_failures (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sink		text NOT NULL,
	code		text NOT NULL,
	at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sink_failures_at ON sink_failures (sink, code, at);

-- Alerts raised to operators (through the slack sink).  The dedupe key
-- makes an incident one message: the same key inside its window inserts
-- nothing.
CREATE TABLE alerts (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id		bigint REFERENCES orgs(id),
	kind		text NOT NULL,
	dedupe_key	text NOT NULL UNIQUE,
	detail		jsonb NOT NULL DEFAULT '{}',
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Tenants' outbound webhook endpoints (Standard Webhooks 1.0).  Secrets are
-- sealed (AAD "webhook_endpoints:<id>:secret" / ":secret_prev"); during a
-- rotation both are used to sign until prev_until.
CREATE TABLE webhook_endpoints (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	url		text NOT NULL CHECK (length(url) BETWEEN 10 AND 2048),
	event_types	text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 16),
	description	text CHECK (length(description) <= 200),
	secret_sealed	text NOT NULL,
	secret_prev_sealed text,
	prev_until	timestamptz,
	enabled		boolean NOT NULL DEFAULT true,
	disabled_reason	text,
	disabled_at	timestamptz,
	failing_since	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id) WHERE enabled;
