/*
 * Approvals (docs/approvals.md) through nginx against the private stack.
 *
 * Each test seeds its own tenant whose form's policy holds set_field for a
 * human (cb-admin policy-set ... set_field), an approver who logs in, and
 * a tab.  An agent's set_field is accepted 202 pending_approval with its
 * approval (random id, the hash of the command's canonical form, computed
 * here independently from the documented byte layout) and the audit rows
 * command.accepted and approval.requested; a policy refusal writes
 * command.blocked naming the rule.  The tab gets nothing, not even a later
 * command, until a decision: approve queues it and the tab receives it and
 * the one behind it, in order; deny ends it denied with the reason (GET
 * shows it) and the tab receives only the later one.  Refusals, each with
 * its status and problem+json: a second decision (409, nothing changes), a
 * wrong hash (422), a changed command (409 for approve), an agent's key or
 * agent JWT (403), another tenant's approver (404), an operator (403), an
 * expired approval (410).  Expiry: the worker's duty ends an approval past
 * its expires_at as expired, its command denied "approval expired", and
 * releases the tab; its interval CB_APPROVAL_SWEEP_MS holds (scripts/
 * test.sh sets 1500 ms: the default 5000 would miss the upper bound).
 * Slack: the fake Slack receives the approval message (Block Kit, the
 * value masked, the buttons carrying id and hash); a click signed as Slack
 * signs approves, the tab receives the command, and the message is
 * replaced through response_url; the refusals of the interactions route
 * (forged, tampered, unsigned, stale, replayed, unlinked user, another
 * tenant's approver, an operator, bad payload, foreign response_url,
 * changed command) each with status and problem+json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "check_util.h"
#include "errs.h"
#include "fakehooks.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "slackclick.h"
#include "slacksig.h"
#include "stacklog.h"
#include "testdb.h"
#include "util.h"
#include "ws.h"

#define ARRIVE_MS	3000

struct fx {
	struct seed	 s;
	struct tuser	 approver;
	char		 tok[TOKSZ];
	char		 ctx[40];
	char		 tab[64];
	char		 org[24];
};

static void
fx_init(struct fx *f)
{
	char	 args[1024], out[4096], refresh[80];

	memset(f, 0, sizeof(*f));
	seed_tenant(&f->s);
	snprintf(args, sizeof(args), "policy-set %s set_field,focus,highlight,show_message "
	    "'#full_name,#email,#topic,#message,#subscribe' 600 set_field", f->s.form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	new_user(f->s.slug, "approver", &f->approver);
	login_ok(&f->approver, f->tok, refresh);
	util_strlcpy(f->org, f->approver.org, sizeof(f->org));
	seed_context(f->s.form_id, f->ctx, f->tab);
}

/* An agent's command; its status, and its id into id (may be NULL). */
static long
command(const struct fx *f, const char *type, const char *selector, const char *value,
    char id[40])
{
	static int	 n;
	struct http_resp r;
	char		 path[128], body[512], auth[160], sel[300];
	const char	*h[] = { auth, "Content-Type: application/json", NULL };
	long		 st;

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", f->ctx);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->s.api_key);
	if (selector)
		snprintf(sel, sizeof(sel), "\"selector\":\"%s\",", selector);
	else
		sel[0] = '\0';
	snprintf(body, sizeof(body), "{\"type\":\"%s\",%s%s%s%s\"nonce\":\"nonce-%ld-%d\"}",
	    type, sel, value ? "\"value\":" : "", value ? value : "", value ? "," : "",
	    (long)getpid(), n++);
	http_do("POST", path, h, body, strlen(body), &r);
	st = r.status;
	if (id && st == 202)
		util_strlcpy(id, http_json_str(&r, "id"), 40);
	http_free(&r);
	return st;
}

/* The approval of a command: its id and stored hash. */
static void
approval_of(const char *cmd, char id[40], char hash[72])
{
	testdb_val(id, 40, "SELECT id FROM approvals WHERE command_id = $1::uuid", 1,
	    (const char *[]){ cmd });
	ck_assert_msg(util_uuid_ok(id), "no approval for command %s", cmd);
	testdb_val(hash, 72, "SELECT cmd_hash FROM approvals WHERE command_id = $1::uuid", 1,
	    (const char *[]){ cmd });
}

static void
decide(const char *bearer, const char *id, const char *decision, const char *hash,
    const char *reason, struct http_resp *r)
{
	char		 path[128], body[512], auth[1200];
	const char	*h[] = { auth, "Content-Type: application/json", NULL };

	snprintf(path, sizeof(path), "/api/v1/approvals/%s/decision", id);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	if (reason)
		snprintf(body, sizeof(body), "{\"decision\":\"%s\",\"hash\":\"%s\",\"reason\":\"%s\"}",
		    decision, hash, reason);
	else
		snprintf(body, sizeof(body), "{\"decision\":\"%s\",\"hash\":\"%s\"}", decision, hash);
	http_do("POST", path, h, body, strlen(body), r);
}

static void
expect_refused(const char *bearer, const char *id, const char *decision, const char *hash,
    long status, const char *type)
{
	struct http_resp r;

	decide(bearer, id, decision, hash, NULL, &r);
	http_expect_problem(&r, status, type);
	http_free(&r);
}

static void
cmd_state(const char *cmd, char *state, size_t n)
{
	testdb_val(state, n, "SELECT state FROM commands WHERE id = $1::uuid", 1,
	    (const char *[]){ cmd });
}

static void
open_tab(struct ws *w, const struct fx *f)
{
	char	 path[96];
	cJSON	*j;

	snprintf(path, sizeof(path), "/ws/ctx/%s", f->ctx);
	ck_assert_int_eq(ws_open(w, path, NULL), 0);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}",
	    f->tab), 0);
	j = ws_next(w, 5000);
	ck_assert_msg(j != NULL, "no ready message (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	cJSON_Delete(j);
}

/*
 * The next message is command seq, with value (a string) unless NULL;
 * applied at once (its receipt sent).
 */
static void
expect_command_value(struct ws *w, long long seq, const char *selector, const char *value)
{
	cJSON	*j = ws_next_type(w, "command", ARRIVE_MS);

	ck_assert_msg(j != NULL, "command %lld did not arrive (close %d)", seq, w->close_code);
	ck_assert_int_eq(ws_num(j, "seq"), seq);
	ck_assert_str_eq(ws_str(j, "selector"), selector);
	if (value != NULL)
		ck_assert_str_eq(ws_str(j, "value"), value);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"receipt\",\"seq\":%lld,\"status\":\"applied\"}",
	    seq), 0);
}

static void
expect_command(struct ws *w, long long seq, const char *selector)
{
	expect_command_value(w, seq, selector, NULL);
}

static void
expect_quiet(struct ws *w, int ms)
{
	cJSON	*j = ws_next_type(w, "command", ms);

	ck_assert_msg(j == NULL, "a command arrived while one waits for approval (seq %lld)",
	    ws_num(j, "seq"));
}

static long
audit_count(const char *org, const char *action, const char *subject)
{
	return testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = $2 AND subject = $3", 3, (const char *[]){ org, action, subject });
}

/* The documented canonical layout (sql/0012), computed here on its own. */
static void
canonical_hash(const char *ctx, long long seq, const char *type, const char *selector,
    const char *value_json, int form_version, int policy_version, char out[65])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 buf[2048];
	int		 n;

	n = snprintf(buf, sizeof(buf), "cb-approval-v1\n%s\n%lld\n%zu:%s\n%zu:%s\n%zu:%s\n%d\n%d\n",
	    ctx, seq, strlen(type), type, strlen(selector), selector, strlen(value_json),
	    value_json, form_version, policy_version);
	ck_assert(n > 0 && (size_t)n < sizeof(buf));
	crypto_hash_sha256(h, (const unsigned char *)buf, (unsigned long long)n);
	util_hex(out, h, sizeof(h));
}

/* ------------------------------------------------------------------ tests */

START_TEST(approve_releases_the_tab_in_order)
{
	struct fx	 f;
	struct ws	 w;
	struct http_resp r;
	char		 c1[40], c2[40], id[40], hash[72], want[65], st[24], pv[16], sv[96];

	fx_init(&f);
	open_tab(&w, &f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"ann@example.test\"", c1), 202);
	ck_assert_int_eq(command(&f, "focus", "#topic", NULL, c2), 202);
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "pending_approval");
	/* Later commands wait behind it, in order. */
	expect_quiet(&w, 1000);

	approval_of(c1, id, hash);
	testdb_val(pv, sizeof(pv), "SELECT version FROM agent_policies WHERE form_id = $1::uuid",
	    1, (const char *[]){ f.s.form_id });
	/*
	 * The value is sealed (sql/0024): the hash covers the command's keyed
	 * fingerprint instead, so it confirms no guessed value.
	 */
	canonical_hash(f.ctx, 1, "set_field", "#email", "\"ann@example.test\"", 1,
	    (int)strtol(pv, NULL, 10), want);
	ck_assert_str_ne(hash, want);
	testdb_val(sv, sizeof(sv), "SELECT '\"sealed:' || encode(fingerprint, 'hex') || '\"'"
	    " FROM commands WHERE id = $1::uuid AND value IS NULL AND value_sealed LIKE 'v1.%'",
	    1, (const char *[]){ c1 });
	canonical_hash(f.ctx, 1, "set_field", "#email", sv, 1, (int)strtol(pv, NULL, 10), want);
	ck_assert_str_eq(hash, want);
	ck_assert_int_eq(audit_count(f.org, "command.accepted", c1), 1);
	ck_assert_int_eq(audit_count(f.org, "command.accepted", c2), 1);
	ck_assert_int_eq(audit_count(f.org, "approval.requested", id), 1);
	/* The audit detail holds ids and hashes, never the value. */
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND detail::text LIKE '%ann@example%'", 1, (const char *[]){ f.org }), 0);

	decide(f.tok, id, "approve", hash, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "state"), "approved");
	http_free(&r);
	/* The tab gets the value in clear, opened by the channel. */
	expect_command_value(&w, 1, "#email", "ann@example.test");
	expect_command(&w, 2, "#topic");
	ck_assert_int_eq(audit_count(f.org, "approval.decided", id), 1);
	testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	ck_assert_str_eq(st, "approved");

	/* Single use: a second decision changes nothing. */
	expect_refused(f.tok, id, "deny", hash, 409, "/problems/conflict");
	testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	ck_assert_str_eq(st, "approved");
	ck_assert_int_eq(audit_count(f.org, "approval.decided", id), 1);
	ws_free(&w);
}
END_TEST

START_TEST(deny_ends_the_command_denied)
{
	struct fx	 f;
	struct ws	 w;
	struct http_resp r;
	char		 c1[40], c2[40], id[40], hash[72], path[96], auth[160];
	const char	*h[] = { auth, NULL };

	fx_init(&f);
	open_tab(&w, &f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"bob@example.test\"", c1), 202);
	ck_assert_int_eq(command(&f, "highlight", "#topic", NULL, c2), 202);
	approval_of(c1, id, hash);
	decide(f.tok, id, "deny", hash, "not this address", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(http_json_str(&r, "state"), "denied");
	http_free(&r);
	/* The tab never sees it; the one behind it comes. */
	expect_command(&w, 2, "#topic");
	snprintf(path, sizeof(path), "/api/v1/commands/%s", c1);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f.s.api_key);
	http_do("GET", path, h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_json_str(&r, "state"), "denied");
	ck_assert_str_eq(http_json_str(&r, "reason"), "not this address");
	http_free(&r);
	expect_refused(f.tok, id, "approve", hash, 409, "/problems/conflict");
	ws_free(&w);
}
END_TEST

START_TEST(refusals)
{
	struct fx	 f, other;
	struct tuser	 op;
	struct http_resp r;
	char		 c1[40], id[40], hash[72], bad[72], st[24], tok[TOKSZ], refresh[80];
	char		 agent_jwt[TOKSZ], a[160];
	const char	*h[] = { a, NULL };

	fx_init(&f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"cy@example.test\"", c1), 202);
	approval_of(c1, id, hash);

	/* A hash that is not the approval's: 422; a malformed one: 400. */
	util_strlcpy(bad, hash, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	expect_refused(f.tok, id, "approve", bad, 422, "/problems/unprocessable");
	expect_refused(f.tok, id, "approve", "abc", 400, "/problems/validation");
	expect_refused(f.tok, id, "maybe", hash, 400, "/problems/validation");

	/* An agent never decides: its key, or its agent JWT. */
	expect_refused(f.s.api_key, id, "approve", hash, 403, "/problems/forbidden");
	snprintf(a, sizeof(a), "Authorization: Bearer %s", f.s.api_key);
	http_do("POST", "/api/v1/auth/agent-token", h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	util_strlcpy(agent_jwt, http_json_str(&r, "access_token"), sizeof(agent_jwt));
	test_record_secret(agent_jwt);
	http_free(&r);
	expect_refused(agent_jwt, id, "approve", hash, 403, "/problems/forbidden");
	/* A bad token is still a 401. */
	expect_refused("not-a-token", id, "approve", hash, 401, "/problems/unauthenticated");

	/* An operator of the tenant is no approver. */
	new_user(f.s.slug, "operator", &op);
	login_ok(&op, tok, refresh);
	expect_refused(tok, id, "approve", hash, 403, "/problems/forbidden");

	/* Another tenant's approver does not even see it. */
	fx_init(&other);
	expect_refused(other.tok, id, "approve", hash, 404, "/problems/not-found");
	expect_refused(f.tok, "00000000-0000-4000-8000-000000000000", "approve", hash, 404,
	    "/problems/not-found");

	/*
	 * A changed command no longer has the hash: it cannot be approved.
	 * Its value is sealed (sql/0024): here it is swapped for a clear one.
	 */
	testdb_exec("UPDATE commands SET value_sealed = NULL, value = '\"evil@example.test\"'"
	    " WHERE id = $1::uuid", 1, (const char *[]){ c1 });
	expect_refused(f.tok, id, "approve", hash, 409, "/problems/conflict");
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "pending_approval");
	testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	ck_assert_str_eq(st, "pending");
	/* It can still be denied. */
	decide(f.tok, id, "deny", hash, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	http_free(&r);
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "denied");
	ck_assert_int_eq(audit_count(f.org, "approval.decided", id), 1);

	/* A policy refusal is audited with the rule that refused it. */
	ck_assert_int_eq(command(&f, "set_field", "#nowhere", "\"x\"", NULL), 403);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE org_id = $1::bigint"
	    " AND action = 'command.blocked' AND subject = $2 AND detail->>'rule' LIKE '%#nowhere%'",
	    2, (const char *[]){ f.org, f.ctx }), 1);
}
END_TEST

START_TEST(expiry_denies_and_releases)
{
	struct fx	 f;
	struct ws	 w;
	char		 c1[40], c2[40], id[40], hash[72], st[24], reason[64];
	double		 t0;

	fx_init(&f);
	open_tab(&w, &f);
	/* The policy's own expiry (not the 15 min default) is the one used. */
	testdb_exec("UPDATE agent_policies SET approval_ttl_s = 120 WHERE form_id = $1::uuid", 1,
	    (const char *[]){ f.s.form_id });
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"dee@example.test\"", c1), 202);
	ck_assert_int_eq(command(&f, "focus", "#message", NULL, c2), 202);
	approval_of(c1, id, hash);
	/* The policy's expiry, held by the command too. */
	ck_assert_int_eq(testdb_long("SELECT (abs(extract(epoch FROM a.expires_at - a.created_at)"
	    " - 120) < 2)::int FROM approvals a WHERE id = $1::uuid", 1, (const char *[]){ id }), 1);
	ck_assert_int_eq(testdb_long("SELECT (m.expires_at > a.expires_at)::int FROM approvals a"
	    " JOIN commands m ON m.id = a.command_id WHERE a.id = $1::uuid", 1,
	    (const char *[]){ id }), 1);
	expect_quiet(&w, 500);
	/* Its time has come. */
	testdb_exec("UPDATE approvals SET expires_at = now() WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	t0 = test_now_s();
	expect_command(&w, 2, "#message");
	ck_assert_msg(test_now_s() - t0 < 1.5 + 1.5, "released after %.1f s", test_now_s() - t0);
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "denied");
	testdb_val(reason, sizeof(reason), "SELECT reason FROM commands WHERE id = $1::uuid", 1,
	    (const char *[]){ c1 });
	ck_assert_str_eq(reason, "approval expired");
	testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	ck_assert_str_eq(st, "expired");
	ck_assert_int_eq(audit_count(f.org, "approval.expired", id), 1);
	expect_refused(f.tok, id, "approve", hash, 410, "/problems/gone");
	ws_free(&w);
}
END_TEST

/* Past its expiry but not yet swept: a decision finds it gone all the same. */
START_TEST(expired_before_the_sweep_is_gone)
{
	struct fx	 f;
	char		 c1[40], id[40], hash[72], st[24];

	fx_init(&f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"eve@example.test\"", c1), 202);
	approval_of(c1, id, hash);
	/* The duty may or may not have swept it yet: either way it is gone. */
	testdb_exec("UPDATE approvals SET expires_at = now() - interval '1 second'"
	    " WHERE id = $1::uuid", 1, (const char *[]){ id });
	expect_refused(f.tok, id, "approve", hash, 410, "/problems/gone");
	cmd_state(c1, st, sizeof(st));
	ck_assert(strcmp(st, "pending_approval") == 0 || strcmp(st, "denied") == 0);
}
END_TEST

/*
 * CB_APPROVAL_SWEEP_MS (1500 in scripts/test.sh) holds: right after a
 * sweep expired one approval, another made due at once waits about the
 * interval (not before 700 ms), and is ended within it (plus margin).
 */
START_TEST(sweep_interval_holds)
{
	struct fx	 f;
	char		 c1[40], c2[40], a1[40], a2[40], hash[72], st[24];
	double		 t0, t1;

	fx_init(&f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"fay@example.test\"", c1), 202);
	ck_assert_int_eq(command(&f, "set_field", "#full_name", "\"Fay\"", c2), 202);
	approval_of(c1, a1, hash);
	approval_of(c2, a2, hash);
	testdb_exec("UPDATE approvals SET expires_at = now() WHERE id = $1::uuid", 1,
	    (const char *[]){ a1 });
	t0 = test_now_s();
	for (;;) {
		testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
		    (const char *[]){ a1 });
		if (strcmp(st, "expired") == 0)
			break;
		ck_assert_msg(test_now_s() - t0 < 3.0, "not expired within 3 s");
		test_sleep_ms(20);
	}
	testdb_exec("UPDATE approvals SET expires_at = now() WHERE id = $1::uuid", 1,
	    (const char *[]){ a2 });
	t1 = test_now_s();
	for (;;) {
		testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
		    (const char *[]){ a2 });
		if (strcmp(st, "expired") == 0)
			break;
		ck_assert_msg(test_now_s() - t1 < 2.5, "the second not expired within 2.5 s");
		test_sleep_ms(20);
	}
	ck_assert_msg(test_now_s() - t1 >= 0.7, "expired %.2f s after the sweep before: the "
	    "interval was not kept", test_now_s() - t1);
}
END_TEST

/*
 * CB_APPROVAL_EXPIRE_BATCH (3 in scripts/test.sh) holds: ten approvals due
 * at once end in statements of at most 3 (the duty's approvals_expired
 * lines, one a statement: at least 4 of them, none over 3), one after the
 * other within the same sweep.  Ignored (the default, 100), one line of 10.
 */
START_TEST(expiry_keeps_to_its_batch)
{
	struct fx	 f;
	char		 c[40], path[512], *line = NULL;
	const char	*v;
	int		 before, after = 0, i;
	double		 t0;

	fx_init(&f);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(command(&f, "set_field", "#email", "\"gus@example.test\"", c), 202);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM approvals WHERE ctx_id = $1::uuid"
	    " AND state = 'pending'", 1, (const char *[]){ f.ctx }), 10);
	stacklog_path("cb-worker", path, sizeof(path));
	before = stacklog_lines(path, "approvals_expired", NULL, NULL);
	testdb_exec("UPDATE approvals SET expires_at = now() WHERE ctx_id = $1::uuid", 1,
	    (const char *[]){ f.ctx });
	t0 = test_now_s();
	while (testdb_long("SELECT count(*) FROM approvals WHERE ctx_id = $1::uuid"
	    " AND state = 'expired'", 1, (const char *[]){ f.ctx }) < 10) {
		ck_assert_msg(test_now_s() - t0 < 5.0, "not all expired within 5 s");
		test_sleep_ms(20);
	}
	while ((after = stacklog_lines(path, "approvals_expired", NULL, &line)) - before < 4 &&
	    test_now_s() - t0 < 5.0) {
		free(line);
		line = NULL;
		test_sleep_ms(20);
	}
	ck_assert_msg(after - before >= 4, "%d expiry statements for 10 approvals with a batch "
	    "of 3", after - before);
	ck_assert_ptr_nonnull(line);
	v = strstr(line, "\"count\":\"");
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(v[9] >= '1' && v[9] <= '3' && v[10] == '"', "a statement ended more "
	    "than 3: %s", line);
	free(line);
}
END_TEST

/* ------------------------------------------------------------------ Slack */

/* A block_actions click's form body: action approve|deny on approval id:hash. */
static void
click_body(const char *slack_user, const char *action, const char *id, const char *hash,
    char *out, size_t outsz)
{
	char	 value[128];

	snprintf(value, sizeof(value), "%s:%s", id, hash);
	ck_assert_int_eq(slackclick_body(slack_user, action, value, test_env("CB_FAKEHOOKS_URL"),
	    NULL, out, outsz), 0);
}

/* POST the body signed at ts with secret (NULL: the stack's). */
static void
slack_post(const char *body, long long ts, const char *secret, struct http_resp *r)
{
	char		 h1[SLACKCLICK_HDR_MAX], h2[SLACKCLICK_HDR_MAX];
	const char	*h[] = { h1, h2, "Content-Type: application/x-www-form-urlencoded",
	    NULL };

	if (secret == NULL)
		secret = test_env("CB_SLACK_SIGNING_SECRET");
	test_record_secret(secret);
	ck_assert_int_eq(slackclick_headers(secret, ts, body, strlen(body), h1, h2), 0);
	http_do("POST", "/api/v1/slack/interactions", h, body, strlen(body), r);
}

static void
slack_refused(const char *body, long long ts, const char *secret, long status,
    const char *type)
{
	struct http_resp r;

	slack_post(body, ts, secret, &r);
	http_expect_problem(&r, status, type);
	http_free(&r);
}

/* A Slack member id for a user, set with cb-admin user-slack. */
static void
slack_link(const struct tuser *u, char out[24])
{
	static int	 n;
	char		 args[256], res[512];

	snprintf(out, 24, "U%05ld%02dX", (long)getpid() % 100000, n++ % 100);
	snprintf(args, sizeof(args), "user-slack %s %s", u->id, out);
	ck_assert_int_eq(seed_admin(args, res, sizeof(res)), 0);
}

/*
 * The approval message the fake Slack received for command cmd: its
 * buttons' value ("<approval id>:<hash>") into value.  The message shows
 * the value masked, never in clear (`clear`).
 */
static void
approval_message(long since, const char *cmd, const char *clear, char *value, size_t valuesz)
{
	cJSON		*arr = NULL;
	const cJSON	*m, *t, *blocks, *el;
	char		*txt;
	int		 waited;

	value[0] = '\0';
	for (waited = 0; waited <= 5000 && value[0] == '\0'; waited += 200) {
		cJSON_Delete(arr);
		arr = fakehooks_messages(since);
		cJSON_ArrayForEach(m, arr) {
			t = cJSON_GetObjectItem(m, "text");
			if (!cJSON_IsString(t) || strstr(t->valuestring, cmd) == NULL ||
			    strncmp(t->valuestring, "Approval needed", 15) != 0)
				continue;
			blocks = cJSON_GetObjectItem(m, "blocks");
			txt = cJSON_PrintUnformatted(blocks);
			ck_assert_ptr_nonnull(txt);
			ck_assert_msg(strstr(txt, clear) == NULL, "the value in clear: %s", txt);
			ck_assert_msg(strstr(txt, "*** (") != NULL, "no masked value: %s", txt);
			free(txt);
			el = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 1),
			    "elements"), 0);
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(el, "action_id")),
			    "approve");
			util_strlcpy(value, cJSON_GetStringValue(cJSON_GetObjectItem(el, "value")),
			    valuesz);
		}
		if (value[0] == '\0')
			test_sleep_ms(200);
	}
	cJSON_Delete(arr);
	ck_assert_msg(value[0] != '\0', "no approval message for command %s", cmd);
}

START_TEST(slack_click_approves_and_updates_the_message)
{
	struct fx	 f;
	struct ws	 w;
	struct http_resp r;
	char		 c1[40], c2[40], id[40], hash[72], su[24], body[8192];
	char		 by[64], want[128], val[128];
	long		 since = fakehooks_last_message();
	long long	 now = (long long)util_now_s();

	fx_init(&f);
	slack_link(&f.approver, su);
	open_tab(&w, &f);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"gus@example.test\"", c1), 202);
	ck_assert_int_eq(command(&f, "focus", "#topic", NULL, c2), 202);
	/* The fake Slack got the message; its Approve button carries id and hash. */
	approval_message(since, c1, "gus@example", val, sizeof(val));
	approval_of(c1, id, hash);
	snprintf(want, sizeof(want), "%s:%s", id, hash);
	ck_assert_str_eq(val, want);
	expect_quiet(&w, 500);
	click_body(su, "approve", id, hash, body, sizeof(body));
	slack_post(body, now, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	http_free(&r);
	expect_command(&w, 1, "#email");
	expect_command(&w, 2, "#topic");
	testdb_val(by, sizeof(by), "SELECT decided_by FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	snprintf(want, sizeof(want), "user:%s", f.approver.id);
	ck_assert_str_eq(by, want);
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM audit_log WHERE action ="
	    " 'approval.decided' AND subject = $1 AND detail->>'via' = 'slack'", 1,
	    (const char *[]){ id }), 1);
	/* The message is updated through its response_url, by the outbox. */
	snprintf(want, sizeof(want), "Command %s was approved.", c1);
	ck_assert_int_eq(fakehooks_wait_messages_with(since, want, 1, 5000), 1);

	/* The same request again: a replay. */
	slack_refused(body, now, NULL, 409, "/problems/conflict");
	/* A second click (a new request): already decided. */
	click_body(su, "deny", id, hash, body, sizeof(body));
	slack_refused(body, now, NULL, 409, "/problems/conflict");
	ws_free(&w);
}
END_TEST

START_TEST(slack_refusals)
{
	struct fx	 f, other;
	struct tuser	 op;
	char		 c1[40], id[40], hash[72], st[24], su[24], su_other[24], su_op[24];
	char		 body[8192], tampered[8192];
	long long	 now = (long long)util_now_s();
	size_t		 n;

	fx_init(&f);
	slack_link(&f.approver, su);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"hal@example.test\"", c1), 202);
	approval_of(c1, id, hash);
	click_body(su, "approve", id, hash, body, sizeof(body));

	/* Forged: another secret, or the body changed after signing. */
	slack_refused(body, now, "0123456789abcdef0123456789abcdef", 401,
	    "/problems/unauthenticated");
	{
		struct slacksig_secret	 sec;
		char			 sig[SLACKSIG_SIG_BUFSZ], h1[64], h2[96];
		const char		*h[] = { h1, h2,
		    "Content-Type: application/x-www-form-urlencoded", NULL };
		struct http_resp	 r;

		sec.s = test_env("CB_SLACK_SIGNING_SECRET");
		sec.len = strlen(sec.s);
		ck_assert_int_eq(slacksig_sign(&sec, now, body, strlen(body), sig), CB_OK);
		util_strlcpy(tampered, body, sizeof(tampered));
		n = strlen(tampered);
		tampered[n - 5] = tampered[n - 5] == 'A' ? 'B' : 'A';
		snprintf(h1, sizeof(h1), "X-Slack-Request-Timestamp: %lld", now);
		snprintf(h2, sizeof(h2), "X-Slack-Signature: %s", sig);
		http_do("POST", "/api/v1/slack/interactions", h, tampered, strlen(tampered), &r);
		http_expect_problem(&r, 401, "/problems/unauthenticated");
		http_free(&r);
		/* No signature at all. */
		http_do("POST", "/api/v1/slack/interactions", h + 2, body, strlen(body), &r);
		http_expect_problem(&r, 401, "/problems/unauthenticated");
		http_free(&r);
	}
	/* Stale: signed correctly, outside the 300 s window. */
	slack_refused(body, now - 400, NULL, 401, "/problems/unauthenticated");

	/* A Slack user nobody linked, another tenant's approver, an operator: 403. */
	click_body("U0NOBODY99", "approve", id, hash, body, sizeof(body));
	slack_refused(body, now, NULL, 403, "/problems/forbidden");
	fx_init(&other);
	slack_link(&other.approver, su_other);
	click_body(su_other, "approve", id, hash, body, sizeof(body));
	slack_refused(body, now, NULL, 403, "/problems/forbidden");
	new_user(f.s.slug, "operator", &op);
	slack_link(&op, su_op);
	click_body(su_op, "approve", id, hash, body, sizeof(body));
	slack_refused(body, now, NULL, 403, "/problems/forbidden");

	/* A malformed payload: 400 naming it. */
	slack_refused("payload=%7B%7D", now, NULL, 400, "/problems/validation");
	/* A response_url that is not Slack's: 400. */
	click_body(su, "approve", id, hash, body, sizeof(body));
	{
		char	*p = strstr(body, "actions%2FT000");

		ck_assert_ptr_nonnull(p);
		memcpy(p, "xctions", 7);
	}
	slack_refused(body, now, NULL, 400, "/problems/validation");

	/* A changed command: 409, nothing decided. */
	testdb_exec("UPDATE commands SET selector = '#full_name' WHERE id = $1::uuid", 1,
	    (const char *[]){ c1 });
	click_body(su, "approve", id, hash, body, sizeof(body));
	slack_refused(body, now, NULL, 409, "/problems/conflict");
	testdb_val(st, sizeof(st), "SELECT state FROM approvals WHERE id = $1::uuid", 1,
	    (const char *[]){ id });
	ck_assert_str_eq(st, "pending");
	/* Denied from Slack: fine. */
	{
		struct http_resp r;

		click_body(su, "deny", id, hash, body, sizeof(body));
		slack_post(body, now, NULL, &r);
		ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
		http_free(&r);
	}
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "denied");
}
END_TEST

/* scripts/slack-click.sh (the README's one-line decision) signs and posts a click. */
START_TEST(slack_click_script)
{
	struct fx	 f;
	char		 c1[40], id[40], hash[72], su[24], cmd[512], out[4096], st[24];
	long		 since = fakehooks_last_message();

	fx_init(&f);
	slack_link(&f.approver, su);
	ck_assert_int_eq(command(&f, "set_field", "#email", "\"ivy@example.test\"", c1), 202);
	approval_of(c1, id, hash);
	approval_message(since, c1, "ivy@example", out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "SLACK_USER=%s '%s/scripts/slack-click.sh' %s deny 2>&1", su,
	    test_env("CB_REPO"), id);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "slack-click.sh: %s", out);
	cmd_state(c1, st, sizeof(st));
	ck_assert_str_eq(st, "denied");
	/* Again: already decided, and the script says so by its status. */
	ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "HTTP 409") != NULL, "%s", out);
}
END_TEST

static Suite *
approvals_suite(void)
{
	Suite	*s = suite_create("approvals");
	TCase	*tc = tcase_create("decide");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, approve_releases_the_tab_in_order);
	tcase_add_test(tc, deny_ends_the_command_denied);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, expiry_denies_and_releases);
	tcase_add_test(tc, expired_before_the_sweep_is_gone);
	tcase_add_test(tc, sweep_interval_holds);
	tcase_add_test(tc, expiry_keeps_to_its_batch);
	tcase_add_test(tc, slack_click_approves_and_updates_the_message);
	tcase_add_test(tc, slack_refusals);
	tcase_add_test(tc, slack_click_script);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(approvals_suite());
}
