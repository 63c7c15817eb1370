-- 0016_calls: the voice platform's inbound call events (docs/calls.md).
--
-- A call source is one sender of signed call events (Standard Webhooks
-- 1.0) for one tenant: its id (a random uuid, the {source} of the route's
-- path), a name unique in the tenant, the country code a national phone
-- number is read with, and its signing secret, sealed (purpose tokens, AAD
-- "call_sources:<id>:secret", or ":secret_prev" for the one a rotation
-- replaced, valid until prev_until).  Secrets never appear in clear.
CREATE TABLE call_sources (
	id			uuid PRIMARY KEY,
	org_id			bigint NOT NULL REFERENCES orgs(id),
	name			text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
	country_code		text CHECK (country_code ~ '^[1-9][0-9]{0,2}$'),
	secret_sealed		text NOT NULL,
	secret_prev_sealed	text,
	prev_until		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	rotated_at		timestamptz,
	UNIQUE (org_id, name)
);

-- One row per call event accepted: the three-part idempotency key (the
-- tenant, the correlation id and event type, and the SHA-256 of the raw
-- body).  The same (correlation id, event type) with another hash is an
-- altered replay, refused.  No personal data here: the event's fields
-- travel sealed in its outbox row.
CREATE TABLE call_events (
	id		uuid PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs(id),
	source_id	uuid NOT NULL REFERENCES call_sources(id),
	correlation_id	text NOT NULL CHECK (correlation_id ~ '^[A-Za-z0-9_.-]{1,128}$'),
	event_type	text NOT NULL CHECK (event_type IN ('call_started', 'call_ended',
			    'transfer_initiated', 'disposition_set', 'timeout')),
	body_sha256	bytea NOT NULL CHECK (octet_length(body_sha256) = 32),
	webhook_id	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (org_id, correlation_id, event_type)
);
CREATE INDEX call_events_created ON call_events (created_at);

-- The replay cache: every webhook-id a source used, with the hash of the
-- body it came with.  The same id with another body is refused; the same
-- message again is the sender's retry (answered from call_events).  Kept
-- far longer than the 5-minute timestamp tolerance: the worker's retention
-- duty purges rows a day old (an older message is refused by its timestamp
-- anyway).
CREATE TABLE call_webhook_ids (
	source_id	uuid NOT NULL REFERENCES call_sources(id),
	webhook_id	text NOT NULL CHECK (octet_length(webhook_id) BETWEEN 1 AND 255),
	body_sha256	bytea NOT NULL CHECK (octet_length(body_sha256) = 32),
	seen_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_id, webhook_id)
);
CREATE INDEX call_webhook_ids_seen ON call_webhook_ids (seen_at);
