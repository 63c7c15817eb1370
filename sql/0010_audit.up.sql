-- The audit trail: an append-only log where each row, once sealed, carries
-- the SHA-256 of its predecessor's hash and its own canonical text, so a
-- row altered, removed or moved breaks the chain where it happened
-- (cb-admin audit verify names it).  Rows hold ids, names and hashes,
-- never payloads.
--
-- Appending is a plain INSERT (no lock: requests never queue behind each
-- other to append).  The chain is made afterwards by the worker's audit
-- duty calling cb_audit_seal(): it numbers the committed unsealed rows
-- (chain_seq 1, 2, ..., in id order among those it sees; a row committed
-- late joins the next batch) and hashes each onto the head, under the
-- head's row lock, so two sealers never interleave.  A row stays unsealed
-- for about CB_AUDIT_SEAL_MS.
--
-- Append-only is enforced by a trigger, for every role that does not
-- bypass triggers: an UPDATE other than sealing an unsealed row, any
-- DELETE and any TRUNCATE raise insufficient_privilege.
CREATE TABLE audit_log (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	org_id		bigint,			-- NULL: the installation (an operator's action)
	actor		text NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 200),
	action		text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'
				AND octet_length(action) <= 64),
	subject		text NOT NULL DEFAULT '' CHECK (octet_length(subject) <= 200),
	detail		jsonb NOT NULL DEFAULT '{}'::jsonb
				CHECK (jsonb_typeof(detail) = 'object' AND octet_length(detail::text) <= 4096),
	chain_seq	bigint UNIQUE,
	prev_hash	bytea,
	hash		bytea,
	CHECK ((chain_seq IS NULL AND prev_hash IS NULL AND hash IS NULL) OR
	       (chain_seq >= 1 AND octet_length(prev_hash) = 32 AND octet_length(hash) = 32))
);
CREATE INDEX audit_unsealed ON audit_log (id) WHERE chain_seq IS NULL;
CREATE INDEX audit_org ON audit_log (org_id, id);

-- The chain's head: the last sealed row's chain_seq and hash (0 and 32 zero
-- bytes before the first).  A verifier compares its walk with it, so rows
-- removed from the end are found too.
CREATE TABLE audit_head (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	chain_seq	bigint NOT NULL,
	hash		bytea NOT NULL CHECK (octet_length(hash) = 32)
);
INSERT INTO audit_head (chain_seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

-- The canonical text a row's hash covers (lib/audit.c builds the same bytes
-- from the columns to verify; this is only what sealing uses).  Each
-- free-text field is prefixed by its length in bytes, so no field can
-- borrow another's content.
CREATE FUNCTION cb_audit_text(seq bigint, id bigint, at timestamptz, org bigint, actor text,
    action text, subject text, detail jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT concat_ws(E'\n', 'cb-audit-v1', seq::text, id::text,
	    to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	    coalesce(org::text, '-'),
	    octet_length(actor)::text || ':' || actor,
	    octet_length(action)::text || ':' || action,
	    octet_length(subject)::text || ':' || subject,
	    octet_length(detail::text)::text || ':' || detail::text)
$$;

CREATE FUNCTION cb_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
	    AND (NEW.id, NEW.at, NEW.org_id, NEW.actor, NEW.action, NEW.subject, NEW.detail)
	    IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.org_id, OLD.actor, OLD.action, OLD.subject,
	    OLD.detail) THEN
		RETURN NEW;	-- sealing, and nothing else
	END IF;
	RAISE EXCEPTION 'audit_log is append-only (%)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION cb_audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION cb_audit_guard();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head
	FOR EACH STATEMENT EXECUTE FUNCTION cb_audit_guard();

-- Seal up to lim unsealed rows in id order; returns how many.
CREATE FUNCTION cb_audit_seal(lim integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	seq	bigint;
	prev	bytea;
	cur	bytea;
	r	record;
	n	integer := 0;
BEGIN
	SELECT h.chain_seq, h.hash INTO seq, prev FROM audit_head h WHERE h.one FOR UPDATE;
	FOR r IN SELECT a.id, a.at, a.org_id, a.actor, a.action, a.subject, a.detail
	    FROM audit_log a WHERE a.chain_seq IS NULL ORDER BY a.id LIMIT lim LOOP
		seq := seq + 1;
		cur := sha256(prev || convert_to(cb_audit_text(seq, r.id, r.at, r.org_id, r.actor,
		    r.action, r.subject, r.detail), 'UTF8'));
		UPDATE audit_log SET chain_seq = seq, prev_hash = prev, hash = cur WHERE id = r.id;
		prev := cur;
		n := n + 1;
	END LOOP;
	IF n > 0 THEN
		UPDATE audit_head SET chain_seq = seq, hash = prev WHERE one;
	END IF;
	RETURN n;
END
$$;
