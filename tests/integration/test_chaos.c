/*
 * Nothing lost, nothing doubled: the two write routes under faults,
 * counted.
 *
 * Clients in their own processes send submits (each under its own
 * Idempotency-Key, each from its own tab) and agent commands (each with
 * its own nonce) and retry every one that did not get its answer (a
 * dropped connection, a 502 from nginx, a 503, a 429 after Retry-After)
 * with the same key or nonce and the same body, as a client should; and
 * each one is sent once more after its success, as a client whose answer
 * was lost would, so replays happen under the faults too.
 * Meanwhile the test freezes Redis (SIGSTOP: every process's breaker
 * opens), kills every child of the submit and commands responders with
 * SIGKILL twice, and crashes Postgres (immediate shutdown) and starts it
 * again.  Then it counts:
 *   - every request got its success in the end (201/200 for a submit,
 *     202/200 for a command), none a 409 or 422 (a retry taken for another
 *     request);
 *   - per key, exactly one submission and one Salesforce outbox row, and
 *     every answer for that key named that submission;
 *   - per nonce, exactly one command, and every answer named it; the
 *     context's seqs are dense (1..N, no gap from a rolled-back bump).
 * Beside them, under the same faults (and the responders of approvals,
 * Slack and call events, and the worker's duties, killed too):
 *   - an agent's commands that a policy holds for a person, each then
 *     approved as soon as its message reached the fake Slack, half by a
 *     signed Slack click, half through POST /api/v1/approvals/{id}/decision,
 *     each decision sent again as by a person whose answer was lost (409):
 *     one approval per command, one decision (its audit row) per
 *     approval, every one approved, one Slack message per approval once
 *     the outbox is drained (the worker posts through Slack's Web API,
 *     where a retried message is looked for in the channel's history
 *     before it is posted again: an incoming webhook cannot be asked);
 *   - a voice platform's call events, each retried and sent again with
 *     its webhook-id: one call event (and one outbox row) per event.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <cjson/cJSON.h>

#include "check_util.h"
#include "fakehooks.h"
#include "http.h"
#include "people.h"
#include "seed.h"
#include "slackclick.h"
#include "testdb.h"
#include "util.h"

#define CLIENTS		3	/* of each kind */
#define PER_CLIENT	40	/* requests each */
#define PACE_MS		40	/* between a client's requests: they span the faults */
#define GIVE_UP_S	60.0	/* one request's retries, at most */
#define HELD		12	/* commands held for approval, then approved */
#define EVENTS		30	/* call events */
#define SLOW_PACE_MS	200	/* theirs: fewer requests, spread over the same faults */
#define NAMES_MAX	(2 * CLIENTS * PER_CLIENT + 2 * HELD + EVENTS)
#define NPROCS		(2 * CLIENTS + 2)	/* and one held-commands client, one events client */

static struct seed	 s;
static char		 run[24];
/* The tenant whose policy holds set_field for a person; its approver and call source. */
static struct seed	 sh;
static struct tuser	 approver;
static char		 approver_tok[TOKSZ], member[24], src_id[40], src_secret[128];

/* Retry-After in ms (at least 50), from a 429 or 503. */
static long
backoff_ms(const struct http_resp *r)
{
	const char	*ra = http_header(r, "retry-after");
	long long	 v = 0;

	if (ra && util_parse_ll(ra, 0, 60, &v) == 0 && v > 0)
		return (long)v * 1000;
	return 50;
}

/*
 * After an answer that is not a success: 1 for a refusal no retry can fix
 * (written to out), else 0 once the retry's wait (Retry-After, 2 s at
 * most) is over.  A 409 "in-flight" (an idempotent request still running)
 * is retried when in_flight_ok.  r is freed either way.
 */
static int
refused_or_waited(FILE *out, const char *name, int rc, struct http_resp *r, int in_flight_ok)
{
	long	 wait;

	if (rc == 0 && r->status != 429 && r->status != 502 && r->status != 503 &&
	    r->status != 504 && !(in_flight_ok && r->status == 409 && strstr(r->body, "in-flight"))) {
		fprintf(out, "%s refused %ld %.200s\n", name, r->status, r->body);
		fflush(out);
		http_free(r);
		return 1;
	}
	wait = rc == 0 ? backoff_ms(r) : 50;
	http_free(r);
	test_sleep_ms(wait > 2000 ? 2000 : wait);
	return 0;
}

/*
 * One request until it succeeds; writes "<name> <id> <status>" for every
 * success (and how many tries it took), and returns 0 on
 * success, 1 on a refusal no retry can fix, 2 when it gave up.
 */
static int
until_done_id(FILE *out, const char *name, const char *path, const char *const *h,
    const char *body, const char *id_member, char id_out[40])
{
	struct http_resp r;
	double		 t0 = test_now_s();
	int		 rc, tries = 0;

	while (test_now_s() - t0 < GIVE_UP_S) {
		memset(&r, 0, sizeof(r));
		tries++;
		rc = http_do("POST", path, h, body, strlen(body), &r);
		if (rc == 0 && (r.status == 200 || r.status == 201 || r.status == 202)) {
			const char *id = http_json_str(&r, id_member);

			fprintf(out, "%s %s %ld %d\n", name, id ? id : "-", r.status, tries);
			fflush(out);
			if (id_out != NULL)
				util_strlcpy(id_out, id ? id : "", 40);
			http_free(&r);
			return id ? 0 : 1;
		}
		if (refused_or_waited(out, name, rc, &r, 1))
			return 1;
	}
	fprintf(out, "%s gave-up\n", name);
	fflush(out);
	return 2;
}

static int
until_done(FILE *out, const char *name, const char *path, const char *const *h,
    const char *body, const char *id_member)
{
	return until_done_id(out, name, path, h, body, id_member, NULL);
}

/* A new tab, retried through the faults (a context is cheap: extras are harmless). */
static int
open_ctx(char ctx[40], char tok[64])
{
	struct http_resp r;
	char		 body[128];
	const char	*h[] = { "Content-Type: application/json", NULL };
	double		 t0 = test_now_s();

	snprintf(body, sizeof(body), "{\"form_id\":\"%s\"}", s.form_id);
	while (test_now_s() - t0 < GIVE_UP_S) {
		memset(&r, 0, sizeof(r));
		if (http_do("POST", "/api/v1/contexts", h, body, strlen(body), &r) == 0 &&
		    r.status == 201 && http_json_str(&r, "ctx_ref") && http_json_str(&r, "tab_token")) {
			util_strlcpy(ctx, http_json_str(&r, "ctx_ref"), 40);
			util_strlcpy(tok, http_json_str(&r, "tab_token"), 64);
			test_record_secret(tok);
			http_free(&r);
			return 0;
		}
		http_free(&r);
		test_sleep_ms(100);
	}
	return 2;
}

/*
 * The parent starts the faults once every client has said it is ready,
 * and every client starts writing then (the end of the go pipe), so none
 * is done before the faults begin.
 */
static int	 ready_fd = -1, go_fd = -1;

static void
say_ready(void)
{
	char	 b = 'r';

	if (write(ready_fd, &b, 1) != 1)
		_exit(3);
	close(ready_fd);
	if (read(go_fd, &b, 1) != 0)	/* EOF: the parent closed its end */
		_exit(3);
	close(go_fd);
}

static void
submit_client(int c, FILE *out)
{
	char		 ctx[PER_CLIENT][40], tok[PER_CLIENT][64];
	char		 path[160], a[128], k[96], key[64], body[256];
	const char	*h[] = { "Content-Type: application/json", a, k, NULL };
	int		 i, bad = 0;

	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", s.form_id);
	/*
	 * A tab of its own for each submission (one key, one submission, one
	 * context), all opened before the faults: during them this client
	 * sends nothing but submits.
	 */
	for (i = 0; i < PER_CLIENT; i++)
		if (open_ctx(ctx[i], tok[i]) != 0) {
			fprintf(out, "context gave-up\n");
			_exit(2);
		}
	say_ready();
	for (i = 0; i < PER_CLIENT; i++) {
		snprintf(a, sizeof(a), "Authorization: Bearer %.63s", tok[i]);
		snprintf(key, sizeof(key), "%s-s%d-%03d", run, c, i);
		snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
		snprintf(body, sizeof(body), "{\"data\":{\"full_name\":\"Chaos %d\","
		    "\"email\":\"chaos%d@example.com\",\"message\":\"%s\"}}", c, i, key);
		bad |= until_done(out, key, path, h, body, "submission_id");
		/* Again, as a client whose answer was lost would: the same submission. */
		bad |= until_done(out, key, path, h, body, "submission_id");
		test_sleep_ms(PACE_MS);
	}
	_exit(bad);
}

static void
command_client(int c, const char *ctx, FILE *out)
{
	char		 path[160], a[128], nonce[64], body[256];
	const char	*h[] = { "Content-Type: application/json", a, NULL };
	int		 i, bad = 0;

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", s.api_key);
	say_ready();
	for (i = 0; i < PER_CLIENT; i++) {
		snprintf(nonce, sizeof(nonce), "%s-c%d-%03d", run, c, i);
		snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#message\","
		    "\"value\":\"%s\",\"nonce\":\"%s\"}", nonce, nonce);
		bad |= until_done(out, nonce, path, h, body, "id");
		bad |= until_done(out, nonce, path, h, body, "id");
		test_sleep_ms(PACE_MS);
	}
	_exit(bad);
}

/* The button value ("<approval>:<hash>") of command cmd's approval message, once it came. */
static int
approval_value(const char *cmd, char value[112])
{
	double		 t0 = test_now_s();
	cJSON		*arr;
	const cJSON	*m, *t;
	const char	*v;

	while (test_now_s() - t0 < GIVE_UP_S) {
		arr = fakehooks_messages(0);
		cJSON_ArrayForEach(m, arr) {
			t = cJSON_GetObjectItem(m, "text");
			if (cJSON_IsString(t) && strstr(t->valuestring, cmd) != NULL &&
			    strncmp(t->valuestring, "Approval needed", 15) == 0 &&
			    (v = slackclick_button_value(m)) != NULL && strlen(v) == 101) {
				util_strlcpy(value, v, 112);
				cJSON_Delete(arr);
				return 0;
			}
		}
		cJSON_Delete(arr);
		test_sleep_ms(100);
	}
	return 2;
}

/*
 * Approve until an answer says it is decided: 200, or 409 (decided
 * already: an earlier try whose answer was lost, or the same decision sent
 * again; the database then holds exactly one, counted at the end).  A
 * Slack click is signed anew each try (another action_ts: a person
 * clicking again), never a replay of the same request.  Writes
 * "<name> <approval id> <status> <tries>".
 */
static int
decide_until_done(FILE *out, const char *name, int slack, const char *value)
{
	struct http_resp r;
	char		 path[128], body[SLACKCLICK_BODY_MAX], h1[SLACKCLICK_HDR_MAX];
	char		 h2[SLACKCLICK_HDR_MAX + TOKSZ + 32], ats[32], id[40];
	const char	*h[] = { h1, h2, NULL, NULL };
	double		 t0 = test_now_s();
	int		 rc, tries = 0;

	snprintf(id, sizeof(id), "%.36s", value);
	while (test_now_s() - t0 < GIVE_UP_S) {
		memset(&r, 0, sizeof(r));
		tries++;
		if (slack) {
			snprintf(ats, sizeof(ats), "%ld.%d", (long)time(NULL), tries);
			ck_assert_int_eq(slackclick_body(member, "approve", value,
			    test_env("CB_FAKEHOOKS_URL"), ats, body, sizeof(body)), 0);
			ck_assert_int_eq(slackclick_headers(test_env("CB_SLACK_SIGNING_SECRET"),
			    (long long)time(NULL), body, strlen(body), h1, h2), 0);
			h[2] = "Content-Type: application/x-www-form-urlencoded";
			rc = http_do("POST", "/api/v1/slack/interactions", h, body, strlen(body), &r);
		} else {
			snprintf(path, sizeof(path), "/api/v1/approvals/%s/decision", id);
			snprintf(h1, sizeof(h1), "Content-Type: application/json");
			snprintf(h2, sizeof(h2), "Authorization: Bearer %s", approver_tok);
			snprintf(body, sizeof(body), "{\"decision\":\"approve\",\"hash\":\"%s\"}",
			    value + 37);
			rc = http_do("POST", path, h, body, strlen(body), &r);
		}
		if (rc == 0 && (r.status == 200 || r.status == 409)) {
			fprintf(out, "%s %s %ld %d\n", name, id, r.status, tries);
			fflush(out);
			http_free(&r);
			return 0;
		}
		if (refused_or_waited(out, name, rc, &r, 0))
			return 1;
	}
	fprintf(out, "%s gave-up\n", name);
	fflush(out);
	return 2;
}

/* Commands held for approval on ctx, each approved (Slack, then the route, in turn). */
static void
held_client(const char *ctx, FILE *out)
{
	char		 path[160], a[128], nonce[64], dname[64], body[256], cmd[40], value[112];
	const char	*h[] = { "Content-Type: application/json", a, NULL };
	int		 i, bad = 0;

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", sh.api_key);
	say_ready();
	for (i = 0; i < HELD; i++) {
		snprintf(nonce, sizeof(nonce), "%s-h-%03d", run, i);
		snprintf(dname, sizeof(dname), "%s-d-%03d", run, i);
		snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#message\","
		    "\"value\":\"%s\",\"nonce\":\"%s\"}", nonce, nonce);
		if (until_done_id(out, nonce, path, h, body, "id", cmd) != 0) {
			bad = 1;
			continue;
		}
		bad |= until_done(out, nonce, path, h, body, "id");
		if (approval_value(cmd, value) != 0) {
			fprintf(out, "%s gave-up\n", dname);
			bad = 1;
			continue;
		}
		bad |= decide_until_done(out, dname, i % 2 == 0, value);
		bad |= decide_until_done(out, dname, i % 2 == 0, value);
		test_sleep_ms(SLOW_PACE_MS);
	}
	_exit(bad);
}

/* Call events from the voice platform, each sent again with its webhook-id. */
static void
events_client(FILE *out)
{
	char		 path[160], corr[64], body[256], hid[96], hts[64], hsig[256], ts[24];
	char		 sig[160];
	const char	*h[] = { "Content-Type: application/json", hid, hts, hsig, NULL };
	int		 i, bad = 0;

	snprintf(path, sizeof(path), "/api/v1/webhooks/calls/%s", src_id);
	say_ready();
	for (i = 0; i < EVENTS; i++) {
		snprintf(corr, sizeof(corr), "%s-e-%03d", run, i);
		snprintf(body, sizeof(body), "{\"correlation_id\":\"%s\",\"event_type\":"
		    "\"call_started\",\"from\":\"+14155552671\"}", corr);
		snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
		snprintf(hid, sizeof(hid), "webhook-id: msg_%s", corr);
		snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
		fakehooks_sign(src_secret, hid + 12, ts, body, strlen(body), sig, sizeof(sig));
		snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
		bad |= until_done(out, corr, path, h, body, "event_id");
		bad |= until_done(out, corr, path, h, body, "event_id");
		test_sleep_ms(SLOW_PACE_MS);
	}
	_exit(bad);
}

/* name -> the one id every success for it named; fails on a second id. */
struct seen {
	char	 name[64];
	char	 id[40];
};

static int
record(struct seen *v, int *n, int max, const char *name, const char *id)
{
	int	 i;

	for (i = 0; i < *n; i++)
		if (strcmp(v[i].name, name) == 0) {
			ck_assert_msg(strcmp(v[i].id, id) == 0, "%s answered %s, then %s", name,
			    v[i].id, id);
			return 0;
		}
	ck_assert_int_lt(*n, max);
	util_strlcpy(v[*n].name, name, sizeof(v[0].name));
	util_strlcpy(v[*n].id, id, sizeof(v[0].id));
	(*n)++;
	return 1;
}

/* Every child of the write responders and of the worker (its duties respawn). */
static void
kill_all(void)
{
	static const char *const who[] = { "submit", "commands", "approvals", "slack", "calls",
	    "cb-worker" };
	size_t	 i;

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++)
		test_kill_children(who[i]);
}

/*
 * The held commands, their approvals, decisions and Slack messages, and
 * the call events: each exactly once.
 */
static void
held_counted(void)
{
	char		 like[48], cnt[64], want[64], needle[80], ids[HELD * 40 + 1];
	const char	*p;
	double		 t0;
	int		 n;

	snprintf(like, sizeof(like), "%s-h-%%", run);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || count(DISTINCT c.nonce) || '/' ||"
	    " count(a.id) || '/' || count(*) FILTER (WHERE a.state = 'approved') || '/' ||"
	    " count(*) FILTER (WHERE c.state IN ('queued', 'delivered'))"
	    " FROM commands c LEFT JOIN approvals a ON a.command_id = c.id WHERE c.nonce LIKE $1", 1,
	    (const char *[]){ like });
	snprintf(want, sizeof(want), "%d/%d/%d/%d/%d", HELD, HELD, HELD, HELD, HELD);
	ck_assert_str_eq(cnt, want);
	/* One decision each: its audit row (the second sends changed nothing). */
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || count(DISTINCT l.subject)"
	    " FROM audit_log l JOIN approvals a ON a.id::text = l.subject JOIN commands c"
	    " ON c.id = a.command_id WHERE l.action = 'approval.decided' AND c.nonce LIKE $1", 1,
	    (const char *[]){ like });
	snprintf(want, sizeof(want), "%d/%d", HELD, HELD);
	ck_assert_str_eq(cnt, want);
	/* One Slack message per approval, once the outbox has nothing left to send. */
	t0 = test_now_s();
	while (testdb_long("SELECT count(*) FROM outbox WHERE org_id = (SELECT id FROM orgs"
	    " WHERE slug = $1) AND kind LIKE 'slack.%' AND state IN ('pending', 'running')", 1,
	    (const char *[]){ sh.slug }) > 0) {
		ck_assert_msg(test_now_s() - t0 < 30, "the Slack rows were not sent within 30 s");
		test_sleep_ms(100);
	}
	ck_assert_int_eq(testdb_long("SELECT count(*) FROM outbox o JOIN approvals a"
	    " ON a.id = o.ref_id JOIN commands c ON c.id = a.command_id"
	    " WHERE o.kind = 'slack.approval' AND c.nonce LIKE $1", 1, (const char *[]){ like }),
	    HELD);
	testdb_val(ids, sizeof(ids), "SELECT string_agg(id::text, ',') FROM commands"
	    " WHERE nonce LIKE $1", 1, (const char *[]){ like });
	for (p = ids; p != NULL && *p != '\0'; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		snprintf(needle, sizeof(needle), "Approval needed: command %.36s", p);
		n = fakehooks_messages_with(0, needle);
		ck_assert_msg(n == 1, "%d Slack messages for the approval of command %.36s", n, p);
	}
	fprintf(stderr, "chaos: %ld Slack messages tried again, %ld of them found posted already\n",
	    testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.approval' AND attempts > 1"
	    " AND org_id = (SELECT id FROM orgs WHERE slug = $1)", 1, (const char *[]){ sh.slug }),
	    testdb_long("SELECT count(*) FROM outbox WHERE kind = 'slack.approval'"
	    " AND result->>'found' = 'conversations.history'"
	    " AND org_id = (SELECT id FROM orgs WHERE slug = $1)", 1, (const char *[]){ sh.slug }));
	/* One call event (and its Salesforce row) per event. */
	snprintf(like, sizeof(like), "%s-e-%%", run);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || count(DISTINCT e.correlation_id)"
	    " || '/' || (SELECT count(*) FROM outbox o JOIN call_events x ON x.id = o.ref_id"
	    "   WHERE x.correlation_id LIKE $1 AND o.kind = 'salesforce.upsert')"
	    " FROM call_events e WHERE e.correlation_id LIKE $1", 1, (const char *[]){ like });
	snprintf(want, sizeof(want), "%d/%d/%d", EVENTS, EVENTS, EVENTS);
	ck_assert_str_eq(cnt, want);
}

START_TEST(writes_survive_faults_counted)
{
	char		 ctxs[CLIENTS][40], tok[64], files[NPROCS][512], line[512];
	char		 name[64], id[40], like[48], cnt[32], want[32], hctx[40];
	long		 status;
	int		 tries, retried[3] = { 0, 0, 0 }, replayed = 0;
	double		 t0 = test_now_s();
	struct seen	*seen = calloc(NAMES_MAX, sizeof(*seen));
	pid_t		 pids[NPROCS];
	int		 i, st, nseen = 0, failed = 0, ready[2], go[2];
	FILE		*f;
	struct db	*db;

	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	for (i = 0; i < CLIENTS; i++)
		seed_context(s.form_id, ctxs[i], tok);
	seed_context(sh.form_id, hctx, tok);
	for (i = 0; i < NPROCS; i++) {
		snprintf(files[i], sizeof(files[i]), "%s/chaos-%s-%d.log", test_env("CB_RUN_DIR"),
		    run, i);
		ck_assert_ptr_nonnull(f = fopen(files[i], "w"));
		fflush(NULL);
		if ((pids[i] = fork()) == 0) {
			close(ready[0]);
			close(go[1]);
			ready_fd = ready[1];
			go_fd = go[0];
			if (i < CLIENTS)
				submit_client(i, f);
			if (i < 2 * CLIENTS)
				command_client(i - CLIENTS, ctxs[i - CLIENTS], f);
			if (i == 2 * CLIENTS)
				held_client(hctx, f);
			events_client(f);
		}
		ck_assert_int_gt(pids[i], 0);
		fclose(f);
	}

	/* The faults, once every client is ready, while they write. */
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < NPROCS; i++) {
		char	 b;

		ck_assert_int_eq(read(ready[0], &b, 1), 1);
	}
	close(ready[0]);
	close(go[1]);	/* go */
	/*
	 * Postgres first, while every client is surely sending (each
	 * request during the restart fails and is retried), then the kills,
	 * then Redis, then the kills again (new children, closed breakers).
	 */
	test_sleep_ms(200);
	test_stack("restart-postgres");
	test_sleep_ms(300);
	kill_all();
	test_sleep_ms(300);
	test_stack("pause-redis");
	test_sleep_ms(1200);
	test_stack("resume-redis");
	test_sleep_ms(200);
	kill_all();

	for (i = 0; i < NPROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	/* Every answer: one id per key or nonce, however often it was asked. */
	for (i = 0; i < NPROCS; i++) {
		ck_assert_ptr_nonnull(f = fopen(files[i], "r"));
		while (fgets(line, sizeof(line), f)) {
			ck_assert_msg(sscanf(line, "%63s %39s %ld %d", name, id, &status, &tries) == 4 &&
			    strcmp(id, "refused") != 0 && strcmp(id, "gave-up") != 0,
			    "client %d: %s", i, line);
			retried[i < CLIENTS ? 0 : i < 2 * CLIENTS ? 1 : 2] += tries > 1;
			replayed += status == 200;
			(void)record(seen, &nseen, NAMES_MAX, name, id);
		}
		fclose(f);
		unlink(files[i]);
	}
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(nseen, NAMES_MAX);
	fprintf(stderr, "chaos: %.1f s; retried after a fault: %d submits, %d commands, %d held"
	    " commands, decisions and call events; %d answered 200 (a replay)\n",
	    test_now_s() - t0, retried[0], retried[1], retried[2], replayed);
	/* The faults hit both routes (else this test proves nothing). */
	ck_assert_int_gt(retried[0], 0);
	ck_assert_int_gt(retried[1], 0);
	ck_assert_int_gt(retried[2], 0);

	/* Postgres: exactly one row per key and per nonce, and the ids answered. */
	snprintf(like, sizeof(like), "%s-s%%", run);
	snprintf(want, sizeof(want), "%d", CLIENTS * PER_CLIENT);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || count(DISTINCT s.id) || '/' ||"
	    " count(DISTINCT k.idem_key) FROM idempotency_keys k JOIN submissions s"
	    " ON s.id = (k.response::jsonb->>'submission_id')::uuid"
	    " WHERE k.idem_key LIKE $1 AND k.status = 201", 1, (const char *[]){ like });
	snprintf(want, sizeof(want), "%d/%d/%d", CLIENTS * PER_CLIENT, CLIENTS * PER_CLIENT,
	    CLIENTS * PER_CLIENT);
	ck_assert_str_eq(cnt, want);
	snprintf(want, sizeof(want), "%d", CLIENTS * PER_CLIENT);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) FROM submissions s JOIN contexts c"
	    " ON c.id = s.ctx_id JOIN orgs g ON g.id = c.org_id WHERE g.slug = $1", 1,
	    (const char *[]){ s.slug });
	ck_assert_str_eq(cnt, want);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) FROM outbox o JOIN submissions s"
	    " ON s.id = o.ref_id JOIN orgs g ON g.id = s.org_id"
	    " WHERE g.slug = $1 AND o.kind = 'salesforce.upsert'", 1, (const char *[]){ s.slug });
	ck_assert_str_eq(cnt, want);
	snprintf(like, sizeof(like), "%s-c%%", run);
	testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || count(DISTINCT nonce)"
	    " FROM commands WHERE nonce LIKE $1", 1, (const char *[]){ like });
	snprintf(want, sizeof(want), "%d/%d", CLIENTS * PER_CLIENT, CLIENTS * PER_CLIENT);
	ck_assert_str_eq(cnt, want);
	/* Dense seqs per context: no bump without its command. */
	for (i = 0; i < CLIENTS; i++) {
		testdb_val(cnt, sizeof(cnt), "SELECT count(*) || '/' || max(seq) || '/' ||"
		    " (SELECT last_seq FROM contexts WHERE id = $1) FROM commands WHERE ctx_id = $1",
		    1, (const char *[]){ ctxs[i] });
		snprintf(want, sizeof(want), "%d/%d/%d", PER_CLIENT, PER_CLIENT, PER_CLIENT);
		ck_assert_str_eq(cnt, want);
	}
	/* And each answered id is the row of its key or nonce (one connection). */
	held_counted();
	db = testdb_open();
	for (i = 0; i < nseen; i++) {
		if (strstr(seen[i].name, "-c") == NULL && strstr(seen[i].name, "-s") == NULL)
			continue;	/* held commands, decisions, events: held_counted */
		if (strstr(seen[i].name, "-c") != NULL)
			testdb_one(db, cnt, sizeof(cnt), "SELECT count(*) FROM commands"
			    " WHERE nonce = $1 AND id = $2::uuid", 2,
			    (const char *[]){ seen[i].name, seen[i].id });
		else
			testdb_one(db, cnt, sizeof(cnt), "SELECT count(*) FROM idempotency_keys"
			    " WHERE idem_key = $1 AND response::jsonb->>'submission_id' = $2", 2,
			    (const char *[]){ seen[i].name, seen[i].id });
		ck_assert_msg(strcmp(cnt, "1") == 0, "%s: %s is not its row", seen[i].name,
		    seen[i].id);
	}
	db_close(db);
	free(seen);
}
END_TEST

static void
setup(void)
{
	char	 args[1024], out[4096], refresh[80];

	seed_tenant(&s);
	snprintf(run, sizeof(run), "ch%ld", (long)getpid());
	/* A second tenant: set_field held for its approver, linked to a Slack member. */
	seed_tenant(&sh);
	snprintf(args, sizeof(args), "policy-set %s set_field,focus,highlight,show_message "
	    "'#full_name,#email,#topic,#message,#subscribe' 6000 set_field", sh.form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	new_user(sh.slug, "approver", &approver);
	login_ok(&approver, approver_tok, refresh);
	snprintf(member, sizeof(member), "U0CH%ld", (long)getpid() % 1000000);
	snprintf(args, sizeof(args), "user-slack %s %s", approver.id, member);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "call-source-add %s voice --country-code 1", sh.slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "source_id", src_id, sizeof(src_id));
	seed_take(out, "secret", src_secret, sizeof(src_secret));
	test_record_secret(src_secret);
}

static Suite *
chaos_suite(void)
{
	Suite	*su = suite_create("chaos");
	TCase	*tc = tcase_create("counted");

	tcase_add_unchecked_fixture(tc, fakehooks_worker_web_api_default, fakehooks_worker_webhook);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, writes_survive_faults_counted);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return cu_run(chaos_suite());
}
