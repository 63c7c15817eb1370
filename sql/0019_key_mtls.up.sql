-- 0019_key_mtls: an API key may demand mutual TLS of its own (seed 004),
-- even when its agent does not.  The same two columns as agents' (0014):
--   mtls_subject  the client certificate's exact subject DN (RFC 2253, as
--                 nginx reports it); no '|' (the key's identity travels in
--                 the responders' memo, where '|' separates fields);
--   mtls_sha256   pinned SHA-256 fingerprints (lower-case hex, 1..8).
-- A request with such a key must meet the key's requirement AND its
-- agent's (when the agent has one): a key narrows, never widens.  Both
-- NULL: the key adds nothing.  Set and cleared by `cb-admin key-mtls` and
-- PUT/DELETE /api/v1/admin/keys/{id}/mtls (lib/mtls.c, audited).
ALTER TABLE api_keys
	ADD COLUMN mtls_subject text
		CHECK (mtls_subject IS NULL OR (length(mtls_subject) BETWEEN 3 AND 500
			AND mtls_subject !~ '[[:cntrl:]|]')),
	ADD COLUMN mtls_sha256 text[]
		CHECK (mtls_sha256 IS NULL OR (cardinality(mtls_sha256) BETWEEN 1 AND 8
			AND array_position(mtls_sha256, NULL) IS NULL
			AND array_to_string(mtls_sha256, ',') ~ '^[0-9a-f]{64}(,[0-9a-f]{64})*$'));
