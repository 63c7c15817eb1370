-- pgbench: the database side of one command accept (cgi/commands.c, as of
-- migration 0004), run by scripts/bench.sh against the bench stack's own
-- Postgres as the broker's role (cb_app), with -M prepared.
--
-- One statement in autocommit, one round trip, exactly the broker's write:
-- the context's last_seq bumped and the command inserted with that seq (the
-- commands_notify trigger fires its pg_notify as for the broker).
-- Rows per transaction: 1 contexts row updated, 1 commands row inserted.
-- Not here: the broker's two reads before it (the API key, the context and
-- its policy) and its rate-limit call to Redis.
--
-- Variables (pgbench -D, set by scripts/bench/pg.sh):
--   org agent      the bench tenant and its agent
--   ctxbase        client N bumps its own context <ctxbase><N as 12 hex
--                  digits> (made by pg.sh), as the wrk run spreads its
--                  commands over many contexts
--   run            a prefix that makes the nonces unique
\set n :n + 1
WITH s AS (UPDATE contexts SET last_seq = last_seq + 1
           WHERE id = CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid) AND org_id = :org
           RETURNING last_seq)
INSERT INTO commands (org_id, ctx_id, seq, agent_id, type, selector, value, nonce, state, expires_at)
SELECT :org, CAST(:ctxbase || lpad(to_hex(CAST(:client_id AS int)), 12, '0') AS uuid), s.last_seq, :agent,
       'set_field', '#email', CAST('"bench@example.com"' AS jsonb), :run || '-' || :client_id || '-' || :n,
       'queued', now() + make_interval(secs => CAST(60000 AS float8) / 1000)
FROM s RETURNING id, seq, state;
