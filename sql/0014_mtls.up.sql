-- Agents over mutual TLS (seed 004, optional per agent).  An agent with an
-- mTLS identity is refused (401) unless its request came over nginx's TLS
-- listener with a client certificate that the configured CA verified and
-- that is the one this agent must present:
--   mtls_subject  the certificate's exact subject DN as nginx reports it
--                 ($ssl_client_s_dn, RFC 2253 form, e.g. "CN=agent-7,O=Acme");
--                 survives renewals, trusts the CA not to issue that subject
--                 to anyone else;
--   mtls_sha256   pinned SHA-256 fingerprints of the whole certificate (DER),
--                 lower-case hex, at most 8 (old and new during a renewal);
--                 binds one certificate exactly, whatever else the CA issues.
-- Either, or both (then both must hold).  Both NULL: no requirement, the
-- agent authenticates as before, with or without a certificate.
ALTER TABLE agents
	ADD COLUMN mtls_subject text
		CHECK (mtls_subject IS NULL OR (length(mtls_subject) BETWEEN 3 AND 500
			AND mtls_subject !~ '[[:cntrl:]]')),
	ADD COLUMN mtls_sha256 text[]
		CHECK (mtls_sha256 IS NULL OR (cardinality(mtls_sha256) BETWEEN 1 AND 8
			AND array_position(mtls_sha256, NULL) IS NULL
			AND array_to_string(mtls_sha256, ',') ~ '^[0-9a-f]{64}(,[0-9a-f]{64})*$'));
