-- pgbench: the database side of one command accept (cgi/commands.c, as of
-- migration 0024), run by scripts/bench.sh against the bench stack's own
-- Postgres as the broker's role (cb_app), with -M prepared.
--
-- One statement in autocommit, one round trip, exactly the broker's write:
-- the caller's API key checked live (APIKEY_LIVE_SQL: the broker remembers
-- the verified key for 2 s, and this check is what refuses a key revoked
-- meanwhile), the nonce looked up (a retry would answer the earlier command), the
-- context's last_seq bumped (a live context only) and the command inserted
-- with that seq, its fingerprint and its value sealed (a sealed text of the
-- size of the broker's for the 19-byte value; the sealing itself is the
-- responder's CPU, not Postgres's) (no trigger on commands since 0006),
-- its audit row (command.accepted) with it; the approval CTEs write nothing
-- for a queued command, as in the broker.
-- Rows per transaction: 1 contexts row updated, 1 commands row and 1
-- audit_log row inserted.
-- Not here: the key's hash verified (once per 2 s per process), the context
-- and its policy (from its cache once seen), and its Redis calls (the rate
-- limits; the cb:cmd wake-up after the commit).
--
-- Variables (pgbench -D, set by scripts/bench/pg.sh):
--   org agent key  the bench tenant, its agent and the agent's API key id
--   ctxbase        client N bumps its own context <ctxbase><N as 12 hex
--                  digits> (made by pg.sh), as the wrk run spreads its
--                  commands over many contexts
--   run            a prefix that makes the nonces unique
--   fp             a 32-byte command fingerprint (\x + 64 hex digits)
\set n :n + 1
WITH k AS (SELECT EXISTS (SELECT 1 FROM api_keys lk JOIN agents la ON la.id = lk.agent_id
             AND la.org_id = lk.org_id WHERE lk.id = CAST(:key AS uuid) AND lk.revoked_at IS NULL
             AND (lk.expires_at IS NULL OR lk.expires_at > now()) AND la.disabled_at IS NULL) AS live),
 p AS (SELECT id, seq, state, fingerprint = CAST(:fp AS bytea) AS same FROM commands, k
           WHERE ctx_id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid)
             AND nonce = :run || '-' || :client_id || '-' || :n AND org_id = :org AND k.live),
 s AS (UPDATE contexts SET last_seq = last_seq + 1 FROM k
       WHERE id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid)
         AND org_id = :org AND expires_at > now()
         AND k.live AND NOT EXISTS (SELECT 1 FROM p) RETURNING last_seq),
 i AS (INSERT INTO commands (id, org_id, ctx_id, seq, agent_id, type, selector, value_sealed,
         nonce, state, expires_at, fingerprint)
       SELECT gen_random_uuid(), :org,
         CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
         s.last_seq, :agent, 'set_field', '#email', 'v1.' || repeat('A', 86),
         :run || '-' || :client_id || '-' || :n, 'queued',
         now() + make_interval(secs => CAST(60000 AS float8) / 1000), CAST(:fp AS bytea) FROM s
       RETURNING id, seq, state),
 ia AS (INSERT INTO audit_log (org_id, actor, action, subject, detail)
       SELECT CAST(:org AS bigint), 'agent:' || :agent, 'command.accepted', i.id::text,
         jsonb_build_object('ctx', :ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0'),
         'seq', i.seq, 'type', 'set_field', 'state', i.state,
         'fingerprint', encode(CAST(:fp AS bytea), 'hex')) FROM i),
 ap AS (INSERT INTO approvals (org_id, command_id, ctx_id, agent_id, cmd_hash,
         form_version, policy_version, deliver_ms, expires_at, value_masked)
       SELECT :org, i.id, c.id, CAST(:agent AS uuid),
         cb_command_hash(c.id, i.seq, 'set_field', '#email',
         to_jsonb('sealed:' || encode(CAST(:fp AS bytea), 'hex')),
         c.form_version, p.version), c.form_version, p.version, 60000,
         now() + make_interval(secs => p.approval_ttl_s), '*** (17 characters)'
       FROM i JOIN contexts c ON c.id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid)
       JOIN agent_policies p ON p.form_id = c.form_id
       WHERE i.state = 'pending_approval'
       RETURNING id, cmd_hash, command_id)
SELECT 'created', id, seq, state FROM i
UNION ALL
SELECT CASE WHEN same THEN 'retry' ELSE 'reused' END, id, seq, state FROM p;
