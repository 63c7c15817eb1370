/*
 * mtls: agents over mutual TLS (seed 004, optional per agent).
 *
 * nginx asks every client of its TLS listener for a certificate
 * (`ssl_verify_client optional` against the configured client CA) and
 * hands the responder what it saw as FastCGI parameters, never as headers
 * (a client cannot send a parameter; a header arrives as HTTP_*):
 *   SSL_CLIENT_VERIFY  SUCCESS, NONE or FAILED:<reason>; empty on plain HTTP
 *   SSL_CLIENT_S_DN    the subject DN, RFC 2253 ("CN=agent-7,O=Acme")
 *   SSL_CLIENT_CERT    the certificate in PEM (its SHA-256 is computed here:
 *                      nginx only offers a SHA-1 fingerprint)
 *
 * An agent may carry an identity it must present (agents.mtls_subject,
 * agents.mtls_sha256, sql/0014_mtls.up.sql): an exact subject DN, a list
 * of pinned SHA-256 fingerprints, or both (then both must hold); so may
 * an API key (api_keys, sql/0019_key_mtls), even when its agent does not:
 * a request then meets the agent's and the key's.  The
 * pipeline runs mtls_require after every agent authentication, whatever
 * path found the agent (API key, agent JWT, the process memo): the
 * identity travels with the authenticated principal (struct agent_auth),
 * so a memo hit carries the requirement too.  An agent without one costs
 * two empty-string tests.
 */
#ifndef CB_MTLS_H
#define CB_MTLS_H

#include <stddef.h>

struct db;
struct req;

#define MTLS_SUBJECT_MAX	500	/* characters of a required subject DN */
#define MTLS_PINS_MAX		8	/* pinned fingerprints per agent */
#define MTLS_SHA256_HEX		64
/* "pin,pin,...": the pins as one comma-separated string, with its NUL. */
#define MTLS_PINS_BUFSZ		(MTLS_PINS_MAX * (MTLS_SHA256_HEX + 1))
#define MTLS_CERT_MAX		16384	/* bytes of DER a client certificate may have */

/*
 * The lower-case hex SHA-256 of the DER of the first certificate in `pem`.
 * CB_ERR_VALIDATION when there is none or it is not base64.
 */
int	 mtls_cert_sha256(const char *pem, char hex[MTLS_SHA256_HEX + 1])
	    __attribute__((warn_unused_result));

/*
 * Whether what nginx reported (verify, subject DN, PEM; NULL = absent)
 * satisfies a required identity (want_subject exact, or "" for any;
 * want_pins "a,b" of which the certificate's SHA-256 must be one, or ""
 * for any).  CB_OK, else CB_ERR_UNAUTHENTICATED with *why the detail a
 * client is told.  A pure function, for the pipeline and the unit test.
 */
int	 mtls_match(const char *verify, const char *s_dn, const char *pem,
	    const char *want_subject, const char *want_pins, const char **why);

/*
 * The pipeline hook after an agent is authenticated (req->auth is a
 * struct agent_auth): CB_OK when the agent has no requirement or the
 * request meets it, else route_fail(401) naming what is missing.
 */
int	 mtls_require(struct req *);

/*
 * Normalise a fingerprint list ("AB:CD:..,ef01.." as openssl or a person
 * writes it) into MTLS_PINS_BUFSZ bytes of "hex,hex" (lower case, no
 * colons); CB_ERR_VALIDATION with *why when a pin is not 64 hex digits,
 * repeats, or there are more than MTLS_PINS_MAX.
 */
int	 mtls_pins_normalise(const char *in, char out[MTLS_PINS_BUFSZ], const char **why);

/*
 * Set (subject and/or pins non-empty) or clear (both NULL or "") the
 * identity agent `agent_id` must present, and append the audit row
 * (agent.mtls_set / agent.mtls_cleared, actor `actor`, the subject's and
 * pins' count, never more) in the same statement.  `org`, when not NULL,
 * limits it to that tenant (an id as text).  CB_ERR_NOT_FOUND when there
 * is no such agent, CB_ERR_VALIDATION (with *why) for a bad subject or pin.
 */
int	 mtls_set(struct db *, const char *org, const char *agent_id, const char *subject,
	    const char *pins, const char *actor, const char **why)
	    __attribute__((warn_unused_result));

/*
 * The same for one API key (sql/0019_key_mtls: met as well as its
 * agent's), audited api_key.mtls_set / api_key.mtls_cleared.
 * CB_ERR_NOT_FOUND when there is no such key (in `org`).
 */
int	 mtls_set_key(struct db *, const char *org, const char *key_id, const char *subject,
	    const char *pins, const char *actor, const char **why)
	    __attribute__((warn_unused_result));

#endif
