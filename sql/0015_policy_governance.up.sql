-- Every version of an agent policy, kept: the admin route and cb-admin
-- policy-set (lib/policygov.c) write a version's row in the statement that
-- makes it agent_policies' current one, so a version never exists without
-- its history row, nor a history row without its version.  A row holds the
-- policy as its canonical JSON (members sorted by name, lists sorted, no
-- whitespace) and the SHA-256 of that text, who changed it ("user:<id>",
-- "cli:<unix user>") and when.  Rows never change.
CREATE TABLE agent_policy_versions (
	form_id		uuid NOT NULL REFERENCES forms(id),
	version		integer NOT NULL CHECK (version >= 1),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	policy		jsonb NOT NULL CHECK (jsonb_typeof(policy) = 'object'),
	policy_sha256	bytea NOT NULL CHECK (octet_length(policy_sha256) = 32),
	changed_by	text NOT NULL CHECK (octet_length(changed_by) BETWEEN 1 AND 200),
	changed_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (form_id, version)
);
CREATE INDEX agent_policy_versions_org ON agent_policy_versions (org_id, form_id);
CREATE TRIGGER agent_policy_versions_immutable BEFORE UPDATE ON agent_policy_versions
	FOR EACH ROW EXECUTE FUNCTION cb_forbid_change();

-- The policies that exist now get their current version's row, its text
-- built as lib/policygov.c builds it (jv_canonical of the six fields).
INSERT INTO agent_policy_versions (form_id, version, org_id, policy, policy_sha256, changed_by,
    changed_at)
SELECT c.form_id, c.version, c.org_id, c.txt::jsonb, sha256(convert_to(c.txt, 'UTF8')),
    'migration:0015', c.updated_at
FROM (SELECT p.form_id, p.version, p.org_id, p.updated_at,
	'{"allowed_types":' || array_to_json(ARRAY(SELECT x FROM unnest(p.allowed_types) x
	    ORDER BY x COLLATE "C"))::text ||
	',"approval_ttl_s":' || p.approval_ttl_s::text ||
	',"approval_types":' || array_to_json(ARRAY(SELECT x FROM unnest(p.approval_types) x
	    ORDER BY x COLLATE "C"))::text ||
	',"max_in_flight":' || p.max_in_flight::text ||
	',"rate_per_minute":' || p.rate_per_minute::text ||
	',"selectors":' || array_to_json(ARRAY(SELECT x FROM unnest(p.selectors) x
	    ORDER BY x COLLATE "C"))::text || '}' AS txt
    FROM agent_policies p) c;
