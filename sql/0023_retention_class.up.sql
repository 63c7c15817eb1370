-- 0023_retention_class: retention by data class (docs/classification.md,
-- "Retention by class").
--
-- retention_periods: a tenant's own period, in days, for each class of
-- form field; a NULL column (or no row at all) takes the default that
-- retention_effective gives.  Set through PUT /api/v1/admin/retention.
-- The defaults live in the view below and nowhere else.
CREATE TABLE retention_periods (
	org_id			bigint PRIMARY KEY REFERENCES orgs(id),
	public_days		integer CHECK (public_days BETWEEN 1 AND 3650),
	internal_days		integer CHECK (internal_days BETWEEN 1 AND 3650),
	confidential_days	integer CHECK (confidential_days BETWEEN 1 AND 3650),
	restricted_days		integer CHECK (restricted_days BETWEEN 1 AND 3650),
	updated_at		timestamptz NOT NULL DEFAULT now()
);

-- One row per tenant and class: the period in force.
CREATE VIEW retention_effective AS
	SELECT o.id AS org_id, c.class, coalesce(CASE c.class
		WHEN 'public' THEN p.public_days WHEN 'internal' THEN p.internal_days
		WHEN 'confidential' THEN p.confidential_days
		ELSE p.restricted_days END, c.default_days) AS days,
	    c.default_days
	FROM orgs o
	CROSS JOIN (VALUES ('public', 365), ('internal', 365), ('confidential', 90),
	    ('restricted', 30)) AS c (class, default_days)
	LEFT JOIN retention_periods p ON p.org_id = o.id;

-- The classes whose fields were already taken out of a submission's sealed
-- data (and of its Salesforce field maps) by the retention duty.
ALTER TABLE submissions ADD COLUMN classes_purged text[] NOT NULL DEFAULT '{}'
	CHECK (classes_purged <@ ARRAY['public', 'internal', 'confidential', 'restricted']);
CREATE INDEX submissions_created ON submissions (created_at);
CREATE INDEX commands_valued ON commands (created_at) WHERE value IS NOT NULL;

-- The class of a command's field: the SQL twin of formdef_field_class
-- (lib/formdef.c), which the C side of the duty uses for submissions.  A
-- command's selector is "#<field name>"; a field without "class" is
-- confidential when it carries the deprecated "pii": true, else internal;
-- a selector that names no field of the form is restricted (fail closed).
CREATE FUNCTION cb_field_class(def jsonb, selector text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce((SELECT CASE
		WHEN f->>'class' IN ('public', 'internal', 'confidential', 'restricted')
		    THEN f->>'class'
		WHEN f->'pii' = 'true'::jsonb THEN 'confidential'
		ELSE 'internal' END
	    FROM jsonb_array_elements(def->'fields') f
	    WHERE '#' || (f->>'name') = selector LIMIT 1), 'restricted')
$$;
