/*
 * mtls: see mtls.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "audit.h"
#include "db.h"
#include "errs.h"
#include "fail.h"
#include "log.h"
#include "mtls.h"
#include "req.h"
#include "userauth.h"
#include "util.h"

#define PEM_BEGIN	"-----BEGIN CERTIFICATE-----"
#define PEM_END		"-----END CERTIFICATE-----"

int
mtls_cert_sha256(const char *pem, char hex[MTLS_SHA256_HEX + 1])
{
	unsigned char	 der[MTLS_CERT_MAX], h[crypto_hash_sha256_BYTES];
	const char	*b, *e;
	size_t		 n = 0;

	hex[0] = '\0';
	if (pem == NULL || (b = strstr(pem, PEM_BEGIN)) == NULL)
		return CB_ERR_VALIDATION;
	b += sizeof(PEM_BEGIN) - 1;
	if ((e = strstr(b, PEM_END)) == NULL)
		return CB_ERR_VALIDATION;
	if (sodium_base642bin(der, sizeof(der), b, (size_t)(e - b), " \t\r\n", &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n == 0)
		return CB_ERR_VALIDATION;
	crypto_hash_sha256(h, der, n);
	util_hex(hex, h, sizeof(h));
	return CB_OK;
}

/* 1 if the 64 hex digits `fp` are one of the comma-separated `pins`. */
static int
mtls_pinned(const char *pins, const char *fp)
{
	const char	*p;

	for (p = pins; *p; p += MTLS_SHA256_HEX + (p[MTLS_SHA256_HEX] == ',')) {
		if (strlen(p) < MTLS_SHA256_HEX)
			return 0;
		if (memcmp(p, fp, MTLS_SHA256_HEX) == 0)
			return 1;
	}
	return 0;
}

int
mtls_match(const char *verify, const char *s_dn, const char *pem,
    const char *want_subject, const char *want_pins, const char **why)
{
	char	 fp[MTLS_SHA256_HEX + 1];

	*why = NULL;
	if (verify == NULL || verify[0] == '\0' || strcmp(verify, "NONE") == 0) {
		*why = "this agent requires a client certificate (mutual TLS, on the HTTPS address)";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (strcmp(verify, "SUCCESS") != 0) {
		*why = "the client certificate was not verified by the certificate authority "
		    "this service trusts";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (want_subject[0] && (s_dn == NULL || strcmp(s_dn, want_subject) != 0)) {
		*why = "the client certificate's subject is not the one this agent must present";
		return CB_ERR_UNAUTHENTICATED;
	}
	if (want_pins[0] && (mtls_cert_sha256(pem, fp) != CB_OK || !mtls_pinned(want_pins, fp))) {
		*why = "the client certificate is not one pinned for this agent";
		return CB_ERR_UNAUTHENTICATED;
	}
	return CB_OK;
}

/* One requirement (subject, pins) against what nginx reported; CB_OK when there is none. */
static int
mtls_meets(struct req *r, const char *subject, const char *pins, const char **why)
{
	const char	*https;

	if (subject[0] == '\0' && pins[0] == '\0')
		return CB_OK;
	/* The SSL_CLIENT_* parameters mean something only on the TLS listener. */
	https = req_env(r, "HTTPS");
	if (https == NULL || strcmp(https, "on") != 0)
		return mtls_match(NULL, NULL, NULL, subject, pins, why);
	return mtls_match(req_env(r, "SSL_CLIENT_VERIFY"), req_env(r, "SSL_CLIENT_S_DN"),
	    req_env(r, "SSL_CLIENT_CERT"), subject, pins, why);
}

int
mtls_require(struct req *r)
{
	const struct agent_auth	*a = r->auth;
	const char		*why = NULL;
	int			 rc;

	if (a == NULL)
		return CB_OK;
	/* The agent's requirement, then the key's own: both must hold. */
	rc = mtls_meets(r, a->mtls_subject, a->mtls_sha256, &why);
	if (rc == CB_OK)
		rc = mtls_meets(r, a->key_mtls_subject, a->key_mtls_sha256, &why);
	if (rc == CB_OK)
		return CB_OK;
	log_kv(LOG_LVL_INFO, "mtls_refused", "agent", a->agent_id, "key", a->key_id,
	    "reason", why, NULL);
	userauth_challenge(r, NULL);
	return route_fail(r, CB_ERR_UNAUTHENTICATED, why);
}

/* 1 if the pin at out + last repeats one before it. */
static int
mtls_pinned_before(const char *out, size_t last)
{
	size_t	 i;

	for (i = 0; i < last; i += MTLS_SHA256_HEX + 1)
		if (memcmp(out + i, out + last, MTLS_SHA256_HEX) == 0)
			return 1;
	return 0;
}

int
mtls_pins_normalise(const char *in, char out[MTLS_PINS_BUFSZ], const char **why)
{
	size_t	 o = 0, digits = 0, pins = 0;
	int	 v;

	*why = NULL;
	out[0] = '\0';
	for (; ; in++) {
		if (*in == ',' || *in == '\0') {
			if (digits == 0 && *in == '\0' && pins == 0)
				break;		/* the empty list */
			if (digits != MTLS_SHA256_HEX) {
				*why = "a pin is a SHA-256 fingerprint: 64 hex digits (colons allowed)";
				return CB_ERR_VALIDATION;
			}
			out[o] = '\0';
			if (mtls_pinned_before(out, o - MTLS_SHA256_HEX)) {
				*why = "a pin is listed twice";
				return CB_ERR_VALIDATION;
			}
			pins++;
			digits = 0;
			if (*in == '\0')
				break;
			out[o++] = ',';
			continue;
		}
		if (*in == ':' || *in == ' ')
			continue;
		if (digits == 0 && pins == MTLS_PINS_MAX) {
			*why = "at most 8 pins per agent";
			return CB_ERR_VALIDATION;
		}
		if ((v = util_hexval((unsigned char)*in)) < 0 || digits == MTLS_SHA256_HEX) {
			*why = "a pin is a SHA-256 fingerprint: 64 hex digits (colons allowed)";
			return CB_ERR_VALIDATION;
		}
		out[o++] = "0123456789abcdef"[v];
		digits++;
	}
	out[o] = '\0';
	return CB_OK;
}

/* A subject DN as nginx prints it: printable, no control characters. */
static int
mtls_subject_ok(const char *s)
{
	return strlen(s) >= 3 && strchr(s, '=') != NULL && util_text_ok(s, MTLS_SUBJECT_MAX);
}

/*
 * The one statement of each kind: the identity and its audit row commit
 * together.  $1 id  $2 org (NULL: any)  $3 subject  $4 "pin,pin"  $5 pins
 * $6 actor  $7 cli_user (lib/audit.h's audit_actor; NULL: none).
 */
#define MTLS_CLI_USER \
	"CASE WHEN $7::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('cli_user', $7::text) END"
static const char mtls_agent_sql[] =
    "WITH a AS (UPDATE agents SET mtls_subject = $3,"
    "  mtls_sha256 = CASE WHEN $4::text IS NULL THEN NULL ELSE string_to_array($4, ',') END"
    "  WHERE id = $1::uuid AND ($2::text IS NULL OR org_id::text = $2)"
    "  RETURNING id, org_id), l AS ("
    " INSERT INTO audit_log (org_id, actor, action, subject, detail)"
    "  SELECT a.org_id, $6, CASE WHEN $3::text IS NULL AND $4::text IS NULL"
    "   THEN 'agent.mtls_cleared' ELSE 'agent.mtls_set' END, a.id::text,"
    "   jsonb_build_object('subject', $3::text IS NOT NULL, 'pins', $5::int)"
    "   || " MTLS_CLI_USER " FROM a"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM l)";

static const char mtls_key_sql[] =
    "WITH a AS (UPDATE api_keys SET mtls_subject = $3,"
    "  mtls_sha256 = CASE WHEN $4::text IS NULL THEN NULL ELSE string_to_array($4, ',') END"
    "  WHERE id = $1::uuid AND ($2::text IS NULL OR org_id::text = $2)"
    "  RETURNING id, org_id, agent_id, prefix), l AS ("
    " INSERT INTO audit_log (org_id, actor, action, subject, detail)"
    "  SELECT a.org_id, $6, CASE WHEN $3::text IS NULL AND $4::text IS NULL"
    "   THEN 'api_key.mtls_cleared' ELSE 'api_key.mtls_set' END, a.id::text,"
    "   jsonb_build_object('agent_id', a.agent_id, 'prefix', a.prefix,"
    "   'subject', $3::text IS NOT NULL, 'pins', $5::int) || " MTLS_CLI_USER " FROM a"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM l)";

static int	mtls_set_on(struct db *, const char *, const char *, const char *, const char *,
		    const char *, const char **, int);

int
mtls_set(struct db *db, const char *org, const char *agent_id, const char *subject,
    const char *pins, const char *actor, const char **why)
{
	return mtls_set_on(db, org, agent_id, subject, pins, actor, why, 0);
}

int
mtls_set_key(struct db *db, const char *org, const char *key_id, const char *subject,
    const char *pins, const char *actor, const char **why)
{
	return mtls_set_on(db, org, key_id, subject, pins, actor, why, 1);
}

static int
mtls_set_on(struct db *db, const char *org, const char *id, const char *subject,
    const char *pins, const char *actor, const char **why, int key)
{
	char		 norm[MTLS_PINS_BUFSZ], npins[8];
	struct db_res	*res = NULL;
	const char	*sub = subject && subject[0] ? subject : NULL, *pn = NULL, *cli;
	int		 rc, n = 0;

	*why = NULL;
	if (!util_uuid_ok(id)) {
		*why = key ? "the key id is not a UUID" : "the agent id is not a UUID";
		return CB_ERR_VALIDATION;
	}
	if (sub && (!mtls_subject_ok(sub) || (key && strchr(sub, '|') != NULL))) {
		*why = "the subject is an RFC 2253 DN (\"CN=...,O=...\") of 3 to 500 printable characters"
		    " (and no '|' for a key)";
		return CB_ERR_VALIDATION;
	}
	if (pins && (rc = mtls_pins_normalise(pins, norm, why)) != CB_OK)
		return rc;
	if (pins && norm[0]) {
		pn = norm;
		n = (int)((strlen(norm) + 1) / (MTLS_SHA256_HEX + 1));
	}
	snprintf(npins, sizeof(npins), "%d", n);
	actor = audit_actor(actor, &cli);
	rc = db_query(db, &res, key ? mtls_key_sql : mtls_agent_sql, 7,
	    (const char *[]){ id, org, sub, pn, npins, actor, cli });
	if (rc != CB_OK)
		return rc;
	rc = strcmp(db_val(res, 0, 0), "1") == 0 ? CB_OK : CB_ERR_NOT_FOUND;
	db_res_free(res);
	return rc;
}
