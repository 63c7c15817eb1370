/*
 * test_mtls: agents over mutual TLS through nginx's TLS listener.
 *
 * The suite makes its certificates at run time with the openssl CLI: client
 * certificates signed by the stack's development client CA (the key
 * stack.sh made in the secrets directory, named by CB_CLIENT_CA_DEV_KEY,
 * the CA nginx trusts), and a second CA nginx does not trust.
 *
 * An agent marked "mTLS required" (cb-admin agent-mtls) is served with its
 * own certificate and refused 401 problem+json without one, with another
 * agent's, with one from the untrusted CA (even with the right subject),
 * over plain HTTP, and over plain HTTP with forged SSL-Client-* headers
 * (a certificate the CA did not verify is refused by nginx itself, 401
 * problem+json, for every caller);
 * a memo hit (the key remembered in the responder) does not skip the
 * requirement; the agent-token exchange and the agent JWT are held to it
 * too.  Pinned SHA-256 fingerprints bind one certificate: a renewed one
 * with the same subject is refused until it is pinned too.  An agent
 * without the requirement works with and without a certificate (one the
 * CA verified).  Each
 * change is audited; a malformed pin is refused by cb-admin.
 * An API key marked mTLS-required through the admin route
 * (PUT /api/v1/admin/keys/{id}/mtls), its agent not, is refused 401
 * without its certificate and served with it; the route's refusals are
 * problem+json (400 naming the field, 404 for another tenant's key, 403
 * for an operator); DELETE clears it; each change is audited as the admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"

#define JSON_CT		"Content-Type: application/json"
#define APIKEY_MEMO_WAIT_MS	2600	/* past APIKEY_MEMO_MS (lib/apikey.h) */

/*
 * The certificates of one test, in a private directory under the stack's
 * state (a failed test's leftovers go with the stack).
 */
struct pki {
	char	 dir[400];
};

static void
sh(const char *cmd)
{
	char	 out[4096];
	int	 rc = test_run(cmd, out, sizeof(out));

	ck_assert_msg(rc == 0, "%s: exit %d: %s", cmd, rc, out);
}

static void
pki_init(struct pki *p)
{
	char	 cmd[1024];

	snprintf(p->dir, sizeof(p->dir), "%s/mtls-XXXXXX", test_env("CB_STATE"));
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	/* The CA nginx does not trust. */
	snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey ec"
	    " -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=Untrusted test CA'"
	    " -addext basicConstraints=critical,CA:TRUE -keyout rogue-ca.key -out rogue-ca.pem 2>&1",
	    p->dir);
	sh(cmd);
}

static void
pki_free(struct pki *p)
{
	char	 cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	sh(cmd);
}

/*
 * A client certificate `name`.pem / `name`.key for subject "CN=<cn>,O=Context
 * Broker Test" (given in openssl's /O=.../CN=... order), signed by the
 * stack's CA or, with rogue, by the untrusted one.
 */
static void
pki_cert(struct pki *p, const char *name, const char *cn, int rogue)
{
	char		 cmd[2400], ca[600];
	const char	*ca_cert = test_env("CB_CLIENT_CA_DEV_CERT");
	const char	*ca_key = test_env("CB_CLIENT_CA_DEV_KEY");

	if (rogue)
		snprintf(ca, sizeof(ca), "-CA rogue-ca.pem -CAkey rogue-ca.key");
	else
		snprintf(ca, sizeof(ca), "-CA %s -CAkey %s", ca_cert, ca_key);
	snprintf(cmd, sizeof(cmd), "cd %s && openssl req -new -newkey ec"
	    " -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/O=Context Broker Test/CN=%s'"
	    " -keyout %s.key -out %s.csr 2>&1 && printf 'extendedKeyUsage=clientAuth\\n"
	    "basicConstraints=critical,CA:FALSE\\n' > %s.ext && openssl x509 -req -in %s.csr"
	    " %s -CAcreateserial -CAserial %s.srl -days 2 -extfile %s.ext -out %s.pem 2>&1",
	    p->dir, cn, name, name, name, name, ca, name, name, name);
	sh(cmd);
}

/* A file of the pki directory, for curl. */
static const char *
pki_path(const struct pki *p, const char *file, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s/%s", p->dir, file);
	return buf;
}

/* The certificate's SHA-256 fingerprint as openssl prints it (AB:CD:...). */
static void
pki_fingerprint(const struct pki *p, const char *name, char *out, size_t outsz)
{
	char	 cmd[600], buf[256], *eq;

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s/%s.pem",
	    p->dir, name);
	ck_assert_int_eq(test_run(cmd, buf, sizeof(buf)), 0);
	eq = strchr(buf, '=');
	ck_assert_ptr_nonnull(eq);
	eq[strcspn(eq, "\n")] = '\0';
	util_strlcpy(out, eq + 1, outsz);
}

/* The subject as nginx reports it: "CN=<cn>,O=Context Broker Test". */
static void
subject_of(const char *cn, char *out, size_t outsz)
{
	snprintf(out, outsz, "CN=%s,O=Context Broker Test", cn);
}

/* cb-admin agent-mtls with `args`; its exit status, stdout+stderr into out. */
static int
admin_mtls(const char *agent, const char *args, char *out, size_t outsz)
{
	char	 cmd[1200];

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin agent-mtls %s %s 2>&1",
	    test_env("CB_BUILD"), agent, args);
	return test_run(cmd, out, outsz);
}

static void
require_subject(const struct seed *s, const char *cn)
{
	char	 dn[200], args[300], out[1024];

	subject_of(cn, dn, sizeof(dn));
	snprintf(args, sizeof(args), "--subject '%s'", dn);
	ck_assert_msg(admin_mtls(s->agent_id, args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"mtls\":\"set\""));
}

/*
 * POST a command for a new context of the seed's form, with `auth` (an API
 * key or an agent JWT) to `base` (https_base() or http_base()) and extra
 * headers; the certificate is the one http_client_cert chose.
 */
static void
send_cmd(const struct seed *s, const char *auth, const char *base, const char *extra1,
    const char *extra2, struct http_resp *r)
{
	char		 ctx[40], tok[64], url[300], a[1200], body[300];
	const char	*h[5];
	static int	 nonce;
	int		 n = 0;

	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#email\","
	    "\"value\":\"m@example.com\",\"nonce\":\"mtls-%ld-%d\",\"expires_in_ms\":30000}",
	    (long)getpid(), nonce++);

	seed_context(s->form_id, ctx, tok);
	snprintf(url, sizeof(url), "%s/api/v1/contexts/%s/commands", base, ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", auth);
	h[n++] = JSON_CT;
	h[n++] = a;
	if (extra1)
		h[n++] = extra1;
	if (extra2)
		h[n++] = extra2;
	h[n] = NULL;
	ck_assert_int_eq(http_do("POST", url, h, body, strlen(body), r), 0);
}

/* The 401 an agent without its certificate gets, its detail containing `why`. */
static void
expect_refused(struct http_resp *r, const char *why)
{
	const char	*d;

	http_expect_problem(r, 401, "/problems/unauthenticated");
	d = http_json_str(r, "detail");
	ck_assert_msg(d != NULL && strstr(d, why) != NULL, "detail %s, want %s", d, why);
	ck_assert_ptr_nonnull(http_header(r, "WWW-Authenticate"));
}

static long
commands_of(const struct seed *s)
{
	return testdb_long("SELECT count(*) FROM commands c JOIN contexts x ON x.id = c.ctx_id"
	    " WHERE x.form_id = $1::uuid", 1,
	    (const char *[]){ s->form_id });
}

START_TEST(required_agent_served_only_with_its_certificate)
{
	struct seed	 s;
	struct pki	 p;
	struct http_resp r;
	char		 c[512], k[512], cn[64], dn[200], fv[300], fd[300];
	int		 i;

	seed_tenant(&s);
	pki_init(&p);
	snprintf(cn, sizeof(cn), "agent-%s", s.slug);
	pki_cert(&p, "a", cn, 0);
	require_subject(&s, cn);

	/* Its own certificate: served, again and again (the key memo warms). */
	http_client_cert(pki_path(&p, "a.pem", c, sizeof(c)), pki_path(&p, "a.key", k, sizeof(k)));
	for (i = 0; i < 6; i++) {
		send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
		ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
		http_free(&r);
	}
	ck_assert_int_eq(commands_of(&s), 6);

	/* Right after, no certificate: a memo hit does not skip the requirement. */
	http_client_cert(NULL, NULL);
	for (i = 0; i < 6; i++) {
		send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
		expect_refused(&r, "requires a client certificate");
		http_free(&r);
	}

	/* Plain HTTP: no certificate at all, whatever the headers claim. */
	send_cmd(&s, s.api_key, http_base(), NULL, NULL, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	subject_of(cn, dn, sizeof(dn));
	snprintf(fd, sizeof(fd), "SSL-Client-S-DN: %s", dn);
	snprintf(fv, sizeof(fv), "SSL-Client-Verify: SUCCESS");
	send_cmd(&s, s.api_key, http_base(), fv, fd, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	/* The parameter names themselves as headers (nginx drops underscores, or they become HTTP_*). */
	send_cmd(&s, s.api_key, http_base(), "SSL_CLIENT_VERIFY: SUCCESS", "HTTPS: on", &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	/* Forged headers over TLS without a certificate: the same. */
	send_cmd(&s, s.api_key, https_base(), fv, fd, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);

	ck_assert_int_eq(commands_of(&s), 6);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action = 'agent.mtls_set'"
	    " AND subject = $1", 1, (const char *[]){ s.agent_id }), 1);
	pki_free(&p);
}
END_TEST

START_TEST(another_agents_or_an_untrusted_certificate_refused)
{
	struct seed	 a, b;
	struct pki	 p;
	struct http_resp r;
	char		 c[512], k[512], cna[64], cnb[64];

	seed_tenant(&a);
	seed_tenant(&b);
	pki_init(&p);
	snprintf(cna, sizeof(cna), "agent-%s", a.slug);
	snprintf(cnb, sizeof(cnb), "agent-%s", b.slug);
	pki_cert(&p, "a", cna, 0);
	pki_cert(&p, "b", cnb, 0);
	pki_cert(&p, "rogue", cna, 1);	/* a's subject, the wrong CA */
	require_subject(&a, cna);
	require_subject(&b, cnb);

	/* b's certificate with a's key, and a's with b's: neither. */
	http_client_cert(pki_path(&p, "b.pem", c, sizeof(c)), pki_path(&p, "b.key", k, sizeof(k)));
	send_cmd(&a, a.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "subject is not the one this agent must present");
	http_free(&r);
	send_cmd(&b, b.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	http_client_cert(pki_path(&p, "a.pem", c, sizeof(c)), pki_path(&p, "a.key", k, sizeof(k)));
	send_cmd(&b, b.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "subject is not the one this agent must present");
	http_free(&r);

	/* The right subject from a CA nginx does not trust. */
	http_client_cert(pki_path(&p, "rogue.pem", c, sizeof(c)),
	    pki_path(&p, "rogue.key", k, sizeof(k)));
	send_cmd(&a, a.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "not verified");
	http_free(&r);
	http_client_cert(NULL, NULL);

	ck_assert_int_eq(commands_of(&a), 0);
	ck_assert_int_eq(commands_of(&b), 1);
	pki_free(&p);
}
END_TEST

START_TEST(pinned_fingerprints_bind_one_certificate)
{
	struct seed	 s;
	struct pki	 p;
	struct http_resp r;
	char		 c[512], k[512], cn[64], f1[200], f2[200], args[600], out[1024];

	seed_tenant(&s);
	pki_init(&p);
	snprintf(cn, sizeof(cn), "agent-%s", s.slug);
	pki_cert(&p, "one", cn, 0);
	pki_cert(&p, "two", cn, 0);	/* a renewal: the same subject, another certificate */
	pki_fingerprint(&p, "one", f1, sizeof(f1));
	pki_fingerprint(&p, "two", f2, sizeof(f2));

	/* Malformed pins are refused and change nothing. */
	ck_assert_int_ne(admin_mtls(s.agent_id, "--sha256 abcd", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "64 hex digits"));
	snprintf(args, sizeof(args), "--sha256 %s,%s", f1, f1);
	ck_assert_int_ne(admin_mtls(s.agent_id, args, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "twice"));
	ck_assert_int_ne(admin_mtls(s.agent_id, "--clear --subject CN=x", out, sizeof(out)), 0);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM agents WHERE id = $1::uuid"
	    " AND mtls_sha256 IS NULL AND mtls_subject IS NULL", 1,
	    (const char *[]){ s.agent_id }), 1);

	/* openssl's colon form is accepted and stored as plain lower-case hex. */
	snprintf(args, sizeof(args), "--sha256 %s", f1);
	ck_assert_msg(admin_mtls(s.agent_id, args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM agents WHERE id = $1::uuid"
	    " AND mtls_sha256[1] ~ '^[0-9a-f]{64}$'", 1, (const char *[]){ s.agent_id }), 1);

	http_client_cert(pki_path(&p, "one.pem", c, sizeof(c)), pki_path(&p, "one.key", k, sizeof(k)));
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	http_client_cert(pki_path(&p, "two.pem", c, sizeof(c)), pki_path(&p, "two.key", k, sizeof(k)));
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "not one pinned for this agent");
	http_free(&r);

	/* Both pinned (a renewal's overlap): the new one is served too. */
	snprintf(args, sizeof(args), "--sha256 %s,%s", f1, f2);
	ck_assert_msg(admin_mtls(s.agent_id, args, out, sizeof(out)) == 0, "%s", out);
	test_sleep_ms(APIKEY_MEMO_WAIT_MS);
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);

	/* Cleared: no certificate needed any more. */
	ck_assert_msg(admin_mtls(s.agent_id, "--clear", out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"mtls\":\"cleared\""));
	test_sleep_ms(APIKEY_MEMO_WAIT_MS);
	http_client_cert(NULL, NULL);
	send_cmd(&s, s.api_key, http_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE subject = $1"
	    " AND action IN ('agent.mtls_set', 'agent.mtls_cleared')", 1,
	    (const char *[]){ s.agent_id }), 3);
	pki_free(&p);
}
END_TEST

START_TEST(agent_token_and_agent_jwt_held_to_it)
{
	struct seed	 s;
	struct pki	 p;
	struct http_resp r;
	char		 c[512], k[512], cn[64], a[200], jwt[1024], url[300];
	const char	*h[2] = { a, NULL };

	seed_tenant(&s);
	pki_init(&p);
	snprintf(cn, sizeof(cn), "agent-%s", s.slug);
	pki_cert(&p, "a", cn, 0);
	require_subject(&s, cn);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", s.api_key);
	snprintf(url, sizeof(url), "%s/api/v1/auth/agent-token", https_base());

	http_do("POST", url, h, NULL, 0, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	http_client_cert(pki_path(&p, "a.pem", c, sizeof(c)), pki_path(&p, "a.key", k, sizeof(k)));
	http_do("POST", url, h, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	util_strlcpy(jwt, http_json_str(&r, "access_token"), sizeof(jwt));
	http_free(&r);
	test_record_secret(jwt);

	send_cmd(&s, jwt, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	http_client_cert(NULL, NULL);
	send_cmd(&s, jwt, https_base(), NULL, NULL, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	pki_free(&p);
}
END_TEST

START_TEST(agent_without_requirement_with_or_without_certificate)
{
	struct seed	 s;
	struct pki	 p;
	struct http_resp r;
	char		 c[512], k[512];

	seed_tenant(&s);
	pki_init(&p);
	pki_cert(&p, "any", "some-other-agent", 0);

	http_client_cert(pki_path(&p, "any.pem", c, sizeof(c)), pki_path(&p, "any.key", k, sizeof(k)));
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	http_client_cert(NULL, NULL);
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	send_cmd(&s, s.api_key, http_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	/* A certificate nobody trusts is refused at the edge, whoever sends it. */
	pki_cert(&p, "rogue", "some-other-agent", 1);
	http_client_cert(pki_path(&p, "rogue.pem", c, sizeof(c)),
	    pki_path(&p, "rogue.key", k, sizeof(k)));
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "not verified");
	http_free(&r);
	http_client_cert(NULL, NULL);
	ck_assert_int_eq(commands_of(&s), 3);
	pki_free(&p);
}
END_TEST

/* PUT or DELETE /api/v1/admin/keys/{key}/mtls as the person with access token tok. */
static void
key_route(const char *method, const char *key, const char *tok, const char *body,
    struct http_resp *r)
{
	char		 url[300], a[TOKSZ + 32];
	const char	*h[] = { a, JSON_CT, NULL };

	snprintf(url, sizeof(url), "%s/api/v1/admin/keys/%s/mtls", https_base(), key);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	ck_assert_int_eq(http_do(method, url, h, body, body ? strlen(body) : 0, r), 0);
}

START_TEST(key_required_through_the_admin_route)
{
	struct seed	 s, other;
	struct pki	 p;
	struct tuser	 adm, op, stranger;
	struct http_resp r;
	char		 c[512], k[512], cn[64], dn[200], body[400], key[40], tok[TOKSZ], tok_op[TOKSZ];
	char		 tok_x[TOKSZ], refresh[80], actor[64];

	seed_tenant(&s);
	seed_tenant(&other);
	new_user(s.slug, "admin", &adm);
	new_user(s.slug, "operator", &op);
	new_user(other.slug, "admin", &stranger);
	login_ok(&adm, tok, refresh);
	login_ok(&op, tok_op, refresh);
	login_ok(&stranger, tok_x, refresh);
	testdb_val(key, sizeof(key), "SELECT id FROM api_keys WHERE agent_id = $1::uuid", 1,
	    (const char *[]){ s.agent_id });
	pki_init(&p);
	snprintf(cn, sizeof(cn), "key-%s", s.slug);
	pki_cert(&p, "k", cn, 0);
	subject_of(cn, dn, sizeof(dn));

	/* The refusals: problem+json, nothing changed. */
	key_route("PUT", key, tok, "{}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	http_free(&r);
	key_route("PUT", key, tok, "{\"sha256\":[\"not-a-fingerprint-at-all-not-a-fingerprint-at-all-not-a-fingerprint\"]}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	http_free(&r);
	key_route("PUT", key, tok, "{\"subject\":\"CN=x\",\"pins\":1}", &r);
	http_expect_problem(&r, 400, "/problems/validation");
	ck_assert_ptr_nonnull(strstr(r.body, "pins"));
	http_free(&r);
	snprintf(body, sizeof(body), "{\"subject\":\"%s\"}", dn);
	key_route("PUT", key, tok_x, body, &r);
	http_expect_problem(&r, 404, "/problems/not-found");
	http_free(&r);
	key_route("PUT", key, tok_op, body, &r);
	http_expect_problem(&r, 403, "/problems/forbidden");
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM api_keys WHERE id = $1::uuid"
	    " AND mtls_subject IS NULL", 1, (const char *[]){ key }), 1);

	/* Set: the key demands its certificate, its agent does not. */
	key_route("PUT", key, tok, body, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"mtls\":\"set\""));
	http_free(&r);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM agents WHERE id = $1::uuid"
	    " AND mtls_subject IS NULL AND mtls_sha256 IS NULL", 1,
	    (const char *[]){ s.agent_id }), 1);
	http_client_cert(NULL, NULL);
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	send_cmd(&s, s.api_key, http_base(), NULL, NULL, &r);
	expect_refused(&r, "requires a client certificate");
	http_free(&r);
	http_client_cert(pki_path(&p, "k.pem", c, sizeof(c)), pki_path(&p, "k.key", k, sizeof(k)));
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	http_client_cert(NULL, NULL);

	/* Cleared through the route: no certificate needed any more. */
	key_route("DELETE", key, tok, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"mtls\":\"cleared\""));
	http_free(&r);
	test_sleep_ms(APIKEY_MEMO_WAIT_MS);
	send_cmd(&s, s.api_key, https_base(), NULL, NULL, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	http_free(&r);
	ck_assert_int_eq(commands_of(&s), 2);
	snprintf(actor, sizeof(actor), "user:%s", adm.id);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE subject = $1"
	    " AND actor = $2 AND action IN ('api_key.mtls_set', 'api_key.mtls_cleared')", 2,
	    (const char *[]){ key, actor }), 2);
	pki_free(&p);
}
END_TEST

static Suite *
mtls_suite(void)
{
	Suite	*s = suite_create("mtls");
	TCase	*tc = tcase_create("tls");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, required_agent_served_only_with_its_certificate);
	tcase_add_test(tc, another_agents_or_an_untrusted_certificate_refused);
	tcase_add_test(tc, pinned_fingerprints_bind_one_certificate);
	tcase_add_test(tc, agent_token_and_agent_jwt_held_to_it);
	tcase_add_test(tc, agent_without_requirement_with_or_without_certificate);
	tcase_add_test(tc, key_required_through_the_admin_route);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(mtls_suite());
}
