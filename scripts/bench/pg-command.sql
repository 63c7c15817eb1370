-- pgbench: the database side of one command accept (cgi/commands.c, as of
-- migration 0007), run by scripts/bench.sh against the bench stack's own
-- Postgres as the broker's role (cb_app), with -M prepared.
--
-- One statement in autocommit, one round trip, exactly the broker's write:
-- the nonce looked up (a retry would answer the earlier command), the
-- context's last_seq bumped (a live context only) and the command inserted
-- with that seq and its fingerprint (no trigger on commands since 0006).
-- Rows per transaction: 1 contexts row updated, 1 commands row inserted.
-- Not here: the broker's API key lookup before it (one SELECT), the context
-- and its policy (from its cache once seen), and its Redis calls (the rate
-- limit; the cb:cmd wake-up after the commit).
--
-- Variables (pgbench -D, set by scripts/bench/pg.sh):
--   org agent      the bench tenant and its agent
--   ctxbase        client N bumps its own context <ctxbase><N as 12 hex
--                  digits> (made by pg.sh), as the wrk run spreads its
--                  commands over many contexts
--   run            a prefix that makes the nonces unique
--   fp             a 32-byte command fingerprint (\x + 64 hex digits)
\set n :n + 1
WITH p AS (SELECT id, seq, state, fingerprint = CAST(:fp AS bytea) AS same FROM commands
           WHERE ctx_id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid)
             AND nonce = :run || '-' || :client_id || '-' || :n AND org_id = :org),
 s AS (UPDATE contexts SET last_seq = last_seq + 1
       WHERE id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid)
         AND org_id = :org AND expires_at > now()
         AND NOT EXISTS (SELECT 1 FROM p) RETURNING last_seq),
 i AS (INSERT INTO commands (org_id, ctx_id, seq, agent_id, type, selector, value, nonce,
         state, expires_at, fingerprint)
       SELECT :org, CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid),
         s.last_seq, :agent, 'set_field', '#email', CAST('"bench@example.com"' AS jsonb),
         :run || '-' || :client_id || '-' || :n, 'queued',
         now() + make_interval(secs => CAST(60000 AS float8) / 1000), CAST(:fp AS bytea) FROM s
       RETURNING id, seq, state)
SELECT 'created', id, seq, state FROM i
UNION ALL
SELECT CASE WHEN same THEN 'retry' ELSE 'reused' END, id, seq, state FROM p;
