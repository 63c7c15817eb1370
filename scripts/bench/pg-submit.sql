-- pgbench: the database side of one submit (cgi/submit.c with lib/idem.h
-- and lib/events.h, as of migration 0007), run by scripts/bench.sh against
-- the bench stack's own Postgres as the broker's role (cb_app), with
-- -M prepared (the broker prepares its statements once per connection).
--
-- One round trip, as the broker sends it: a pipeline of the lock_timeout
-- setup and ONE statement, one implicit transaction (autocommit) that
-- claims the Idempotency-Key storing the 201 answer (expires_at: 24 h),
-- checks the pinned form version, claims the (context, data digest) pair
-- (de-duplication on, as by default), writes the submission (data_sealed),
-- the tenant's submission.created webhook events (no endpoint: none) and
-- the salesforce.upsert outbox row (payload_sealed), and answers 'created'.
-- Rows per transaction: 1 idempotency key, 1 submission digest,
-- 1 submission, 1 outbox row.
--
-- Variables (pgbench -D, set by scripts/bench/pg.sh):
--   org form ver   the bench tenant, its form and current version
--   ctxbase        a uuid prefix; client N writes for its own context
--                  <ctxbase><N as 12 hex digits> (made by pg.sh), as every
--                  tab of the wrk run has its own context
--   run            a prefix that makes the Idempotency-Keys (and, hashed,
--                  the data digests) unique
--   dsealed fsealed  sealed texts copied from a submission the broker wrote
--                  in this run (the same sizes as the wrk run's)
--   fp             a 32-byte request fingerprint (\x + 64 hex digits)
--   resp           the stored answer, as long as the broker's
--   ttl win        CB_IDEM_TTL_S and CB_SUBMIT_DEDUPE_S (their defaults)
--   tsfmt          the events' timestamp format (pgbench would read the
--                  :MI and :SS of the literal as variables)
-- pgbench turns every :name into a parameter, even inside a quoted literal.
-- The broker makes the submission id and the digest before the statement;
-- here gen_random_uuid() (once, in u) and sha256() of the key stand in.
\set n :n + 1
\startpipeline
SELECT set_config('lock_timeout', '300ms', true);
WITH k AS (INSERT INTO idempotency_keys AS i (org_id, scope, idem_key, method, path,
             fingerprint, status, response, created_at, expires_at)
           VALUES (:org, 'ctx:' || :ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0'),
             :run || '-' || :client_id || '-' || :n, 'POST', '/api/v1/forms/' || :form || '/submit',
             CAST(:fp AS bytea), CAST('201' AS int), :resp, now(),
             now() + make_interval(secs => CAST(:ttl AS int)))
           ON CONFLICT (org_id, scope, idem_key) DO UPDATE SET method = EXCLUDED.method,
             path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,
             response = EXCLUDED.response, created_at = EXCLUDED.created_at,
             expires_at = EXCLUDED.expires_at
           WHERE i.expires_at < now() RETURNING 1 AS claimed),
 u AS (SELECT gen_random_uuid() AS id),
 f AS (SELECT f.sf_object, f.sf_ext_field FROM forms f
       WHERE f.org_id = :org AND f.id = :form AND f.current_version = CAST(:ver AS int)
       AND EXISTS (SELECT 1 FROM k)),
 d AS (INSERT INTO submission_digests AS x (ctx_id, digest, org_id, submission_id)
       SELECT CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
              sha256(convert_to(:run || '-' || :client_id || '-' || :n, 'UTF8')), :org, u.id
       FROM f, u
       ON CONFLICT (ctx_id, digest) DO UPDATE SET submission_id = EXCLUDED.submission_id,
         created_at = now()
       WHERE x.created_at < now() - make_interval(secs => CAST(:win AS int)) RETURNING 1),
 g AS (SELECT 1 FROM f WHERE sha256(convert_to(:run || '-' || :client_id || '-' || :n, 'UTF8')) IS NULL
       UNION ALL SELECT 1 FROM d),
 s AS (INSERT INTO submissions (id, org_id, ctx_id, form_id, form_version, data_sealed)
       SELECT u.id, :org, CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
              :form, CAST(:ver AS int), :dsealed FROM g, u RETURNING id),
 ev AS (INSERT INTO outbox (org_id, kind, ref_id, payload)
        SELECT e.org_id, 'webhook.deliver', e.ref_id, jsonb_build_object(
          'endpoint_id', w.id,
          'msg_id', 'msg_' || left(encode(sha256(convert_to(e.type || ':' || e.source_id, 'UTF8')), 'hex'), 32),
          'type', e.type, 'timestamp', to_char(now() AT TIME ZONE 'UTC', :tsfmt), 'data', e.data)
        FROM (SELECT CAST(:org AS bigint) AS org_id, CAST('submission.created' AS text) AS type,
                     s.id AS ref_id, CAST(s.id AS text) AS source_id,
                     jsonb_build_object('submission_id', s.id, 'form_id', CAST(:form AS uuid),
                                        'form_version', CAST(:ver AS int)) AS data FROM s) e
        JOIN webhook_endpoints w ON w.org_id = e.org_id AND w.enabled AND e.type = ANY (w.event_types)),
 o AS (INSERT INTO outbox (org_id, kind, ref_id, payload, payload_sealed)
       SELECT :org, 'salesforce.upsert', s.id, jsonb_build_object('sobject', f.sf_object,
         'ext_field', f.sf_ext_field, 'ext_value', CAST(s.id AS text)), :fsealed
       FROM s, f RETURNING ref_id)
SELECT 'created', CAST(NULL AS boolean), CAST(NULL AS integer), CAST(NULL AS text) FROM o
UNION ALL
SELECT 'stored', x.matches, x.status, x.response
  FROM cb_idem_stored(:org, 'ctx:' || :ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0'),
         :run || '-' || :client_id || '-' || :n, CAST(:fp AS bytea), 'POST',
         '/api/v1/forms/' || :form || '/submit') x
  WHERE NOT EXISTS (SELECT 1 FROM k)
UNION ALL
SELECT cb_submit_refuse(CASE WHEN EXISTS (SELECT 1 FROM f) THEN 'duplicate' ELSE 'stale' END,
         :org, :form, CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
         sha256(convert_to(:run || '-' || :client_id || '-' || :n, 'UTF8'))), NULL, NULL, NULL
  WHERE EXISTS (SELECT 1 FROM k) AND NOT EXISTS (SELECT 1 FROM o);
\endpipeline
