-- pgbench: the database side of one submit (cgi/submit.c with lib/idem.c
-- and lib/events.h, as of migration 0004), run by scripts/bench.sh against
-- the bench stack's own Postgres as the broker's role (cb_app), with
-- -M prepared (the broker prepares its statements once per connection).
--
-- One transaction, the same statements and the same four round trips:
--   1. BEGIN; SET LOCAL lock_timeout (pipelined: the broker sends them as one script)
--   2. INSERT idempotency_keys ... ON CONFLICT DO NOTHING RETURNING 1 (the key claimed)
--   3. one statement: the version check (forms), the submission (data_sealed),
--      the tenant's submission.created webhook events (no endpoint: none) and
--      the salesforce.upsert outbox row (payload_sealed)
--   4. UPDATE idempotency_keys (the stored 201 answer) and COMMIT, pipelined
-- Rows per transaction: 1 idempotency key (inserted, then updated),
-- 1 submission, 1 outbox row.
--
-- Variables (pgbench -D, set by scripts/bench/pg.sh):
--   org form ver   the bench tenant, its form and current version
--   ctxbase        a uuid prefix; client N writes for its own context
--                  <ctxbase><N as 12 hex digits> (made by pg.sh), as every
--                  tab of the wrk run has its own context
--   run            a prefix that makes the Idempotency-Keys unique
--   dsealed fsealed  sealed texts copied from a submission the broker wrote
--                  in this run (the same sizes as the wrk run's)
--   fp             a 32-byte fingerprint (\x + 64 hex digits)
--   resp           the stored answer, as long as the broker's
--   tsfmt          the events' timestamp format (pgbench would read the
--                  :MI and :SS of the literal as variables)
-- pgbench turns every :name into a parameter, even inside a quoted literal.
--
-- After the submit becomes one statement (idempotency key with expires_at,
-- submission digest), replace 1-4 by that statement in autocommit.
\set n :n + 1
\startpipeline
BEGIN;
SET LOCAL lock_timeout = '300ms';
\endpipeline
INSERT INTO idempotency_keys (org_id, scope, idem_key, method, path, fingerprint, status, response)
  VALUES (:org, 'ctx:' || (:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0')), :run || '-' || :client_id || '-' || :n,
          'POST', '/api/v1/forms/' || :form || '/submit', CAST(:fp AS bytea), 0, '')
  ON CONFLICT DO NOTHING RETURNING 1;
WITH f AS (SELECT sf_object, sf_ext_field FROM forms
           WHERE org_id = :org AND id = :form AND current_version = CAST(:ver AS int)),
 s AS (INSERT INTO submissions (id, org_id, ctx_id, form_id, form_version, data_sealed)
       SELECT gen_random_uuid(), :org, CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
              :form, CAST(:ver AS int), :dsealed FROM f RETURNING id),
 ev AS (INSERT INTO outbox (org_id, kind, ref_id, payload)
        SELECT e.org_id, 'webhook.deliver', e.ref_id, jsonb_build_object(
          'endpoint_id', w.id,
          'msg_id', 'msg_' || left(encode(sha256(convert_to(e.type || ':' || e.source_id, 'UTF8')), 'hex'), 32),
          'type', e.type, 'timestamp', to_char(now() AT TIME ZONE 'UTC', :tsfmt), 'data', e.data)
        FROM (SELECT CAST(:org AS bigint) AS org_id, CAST('submission.created' AS text) AS type,
                     s.id AS ref_id, CAST(s.id AS text) AS source_id,
                     jsonb_build_object('submission_id', s.id, 'form_id', CAST(:form AS uuid),
                                        'form_version', CAST(:ver AS int)) AS data FROM s) e
        JOIN webhook_endpoints w ON w.org_id = e.org_id AND w.enabled AND e.type = ANY (w.event_types))
INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed)
SELECT :org, 'salesforce.upsert', s.id, jsonb_build_object('sobject', f.sf_object,
       'ext_field', f.sf_ext_field, 'ext_value', CAST(s.id AS text)), :fsealed
FROM s, f RETURNING ref_id;
\startpipeline
UPDATE idempotency_keys SET status = 201, response = :resp
  WHERE org_id = :org AND scope = 'ctx:' || (:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0'))
    AND idem_key = :run || '-' || :client_id || '-' || :n;
COMMIT;
\endpipeline
