-- 0021_erasure: erasure of a data subject (docs/erasure.md).
--
-- subject_index: blind-index entries of the personal identifiers (an email,
-- a phone number in E.164) that a submission, a call event or a command
-- holds in a confidential or restricted field.  The digest is a keyed
-- BLAKE2b-256 of the normalised identifier (lib/subject.h), so a dump of the
-- database cannot confirm an address or a number without the server's key.
-- Written with the row it indexes (cgi/submit.c, lib/calls.c,
-- cgi/commands.c); removed with it by the triggers below, whoever deletes the
-- row (the retention duty, an erasure).
CREATE TABLE subject_index (
	org_id		bigint NOT NULL REFERENCES orgs(id),
	digest		bytea NOT NULL CHECK (octet_length(digest) = 32),
	kind		text NOT NULL CHECK (kind IN ('submission', 'call_event', 'command')),
	ref_id		uuid NOT NULL,
	PRIMARY KEY (org_id, digest, kind, ref_id)
);
CREATE INDEX subject_index_ref ON subject_index (ref_id);

-- Statement-level, so a batch delete (the retention duty's) is one more
-- statement, not one per row.
CREATE FUNCTION cb_subject_index_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM subject_index WHERE kind = TG_ARGV[0] AND ref_id IN (SELECT id FROM gone);
	RETURN NULL;
END $$;
CREATE TRIGGER submissions_subject_forget AFTER DELETE ON submissions
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION cb_subject_index_forget('submission');
CREATE TRIGGER call_events_subject_forget AFTER DELETE ON call_events
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION cb_subject_index_forget('call_event');
CREATE TRIGGER commands_subject_forget AFTER DELETE ON commands
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION cb_subject_index_forget('command');

-- One erasure request and what it found.  The subject is kept as its blind
-- index only.  The Salesforce deletions it enqueued are outbox rows of kind
-- salesforce.delete whose ref_id is the erasure's id; sf_deletions is how
-- many were enqueued (the rows themselves may be purged once done).
CREATE TABLE erasures (
	id		uuid PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs(id),
	requested_by	uuid NOT NULL,
	subject_kind	text NOT NULL CHECK (subject_kind IN ('email', 'phone')),
	subject_digest	bytea NOT NULL CHECK (octet_length(subject_digest) = 32),
	submissions	integer NOT NULL CHECK (submissions >= 0),
	call_events	integer NOT NULL CHECK (call_events >= 0),
	commands	integer NOT NULL CHECK (commands >= 0),
	sf_deletions	integer NOT NULL CHECK (sf_deletions >= 0),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasures_org ON erasures (org_id, created_at);
