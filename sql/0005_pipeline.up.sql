-- 0005_pipeline: the write routes in one round trip each.
--
-- A submit claims its Idempotency-Key, writes its effect and stores its
-- answer in ONE autocommit statement (cgi/submit.c).  When the key is taken
-- the statement reads the stored answer with cb_idem_stored (a fresh
-- snapshot: it sees a holder that committed while we waited on its row);
-- when the key was claimed but the effect cannot happen (a newer form
-- version, a duplicate submission) cb_submit_refuse raises, and the
-- implicit transaction rolls the claim back with everything else.
--
-- Duplicate submissions: the same context submitting the same data again
-- under a new key within CB_SUBMIT_DEDUPE_S.  submission_digests holds a
-- keyed hash of the canonical data (never the data) and the first
-- submission's id; its primary key makes "first" strict under concurrency.
--
-- Commands remember a fingerprint of what was asked, so a retried nonce
-- with the same command answers the original instead of a 409.

CREATE TABLE submission_digests (
	ctx_id		uuid NOT NULL,
	digest		bytea NOT NULL CHECK (length(digest) = 32),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	submission_id	uuid NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ctx_id, digest)
);
-- Rows past the window only wait to be purged.
CREATE INDEX submission_digests_created ON submission_digests (created_at);

ALTER TABLE commands ADD COLUMN fingerprint bytea;

-- The stored answer of an Idempotency-Key, read with a snapshot of its own.
CREATE FUNCTION cb_idem_stored(p_org bigint, p_scope text, p_key text, p_fp bytea,
    p_method text, p_path text, OUT matches boolean, OUT status integer, OUT response text)
    RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN QUERY SELECT k.fingerprint = p_fp AND k.method = p_method AND k.path = p_path,
	    k.status, k.response FROM idempotency_keys k
	    WHERE k.org_id = p_org AND k.scope = p_scope AND k.idem_key = p_key;
END $$;

-- Abort a submit whose key was claimed but whose effect cannot happen.
-- The message names the reason for the caller (cgi/submit.c parses it):
--   cb_submit:stale:<current version>   a newer version was published
--   cb_submit:duplicate:<submission id> the same data within the window
--   cb_submit:not-found                 the form is gone
CREATE FUNCTION cb_submit_refuse(p_reason text, p_org bigint, p_form uuid, p_ctx uuid,
    p_digest bytea) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	cur	integer;
	orig	uuid;
BEGIN
	IF p_reason = 'duplicate' THEN
		SELECT d.submission_id INTO orig FROM submission_digests d
		    WHERE d.ctx_id = p_ctx AND d.digest = p_digest;
		RAISE EXCEPTION 'cb_submit:duplicate:%', orig USING ERRCODE = 'CBS09';
	END IF;
	SELECT f.current_version INTO cur FROM forms f WHERE f.org_id = p_org AND f.id = p_form;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cb_submit:not-found' USING ERRCODE = 'CBS04';
	END IF;
	RAISE EXCEPTION 'cb_submit:stale:%', coalesce(cur, 0) USING ERRCODE = 'CBS09';
END $$;
