/*
 * test_twonode: two broker nodes on the engines the broker already uses.
 *
 * Node A and node B each run their own nginx, responders and worker in a
 * network namespace of their own, and share one Postgres, one Redis and
 * the fakes in the root namespace (scripts/twonode.sh builds that, runs
 * this program inside it, and takes it down; docs/scale-out.md).  Started
 * without CB_TWONODE in its environment, this program re-runs itself
 * through scripts/twonode.sh, so scripts/test.sh runs it like any suite.
 *
 * What it proves, each case printing its figures:
 *   1. a tab connected to A's channel receives, in order, the commands an
 *      agent posts to B's API, and its receipts make them applied;
 *   2. submissions spread over both nodes, with both workers delivering the
 *      outbox, reach the fake Salesforce exactly once each (one record, one
 *      upsert);
 *   3. both workers' audit duties seal the one hash chain, which verifies;
 *   4. killing A's worker (SIGKILL to its master) sends the tab to B, which
 *      resumes it from its last seq: every command exactly once, in order,
 *      including those posted while it was away; the gap from the kill to
 *      the first frame on B is measured.
 * The fourth case runs last: A has no worker after it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "fakesf.h"
#include "http.h"
#include "seed.h"
#include "submit.h"
#include "testdb.h"
#include "ws.h"

#define CMDS		20	/* commands per case */
#define SUBMITS		200	/* submissions, half on each node */
#define ARRIVE_MS	10000	/* a frame that should come, comes within this */
#define DELIVER_MS	90000	/* every submission reaches the fake within this */

/* Later requests and WebSockets go to node A or B. */
static void
use_node(char which)
{
	setenv("CB_HTTP_URL", test_env(which == 'A' ? "CB_TWONODE_A_URL" : "CB_TWONODE_B_URL"), 1);
}

/* An agent posts one command for ctx to the current node: 202. */
static void
post_command(const struct seed *s, const char *ctx, int i)
{
	struct http_resp r;
	char		 path[160], body[256], auth[160];
	const char	*h[] = { "Content-Type: application/json", auth, NULL };

	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"#message\","
	    "\"value\":\"step %d\",\"nonce\":\"tn-%08d\",\"expires_in_ms\":120000}", i, i);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->api_key);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "command %d: %ld %s", i, r.status, r.body);
	http_free(&r);
}

/* Open the tab's WebSocket on the current node and authenticate from last. */
static double
tab_connect(struct ws *w, const char *ctx, const char *tok, long long last, int retry_ms)
{
	char	 path[96];
	cJSON	*j;
	double	 t;

	snprintf(path, sizeof(path), "/ws/ctx/%s", ctx);
	ck_assert_msg(ws_open_retry(w, path, retry_ms) == 0, "WebSocket to %s: status %d",
	    getenv("CB_HTTP_URL"), w->http_status);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":%lld}",
	    tok, last), 0);
	j = ws_next(w, ARRIVE_MS);
	t = test_now_s();
	ck_assert_msg(j != NULL, "no ready (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	ck_assert_int_eq(ws_num(j, "resume_from"), last);
	cJSON_Delete(j);
	return t;
}

/*
 * The tab applies commands as they come until it has `upto`: each must be
 * the next seq (nothing skipped, nothing twice); it sends a receipt for
 * each.  *last is its position.  Returns the time the first arrived.
 */
static double
tab_apply(struct ws *w, long long *last, long long upto)
{
	double	 first = 0;
	cJSON	*j;

	while (*last < upto) {
		j = ws_next(w, ARRIVE_MS);
		ck_assert_msg(j != NULL, "command %lld did not arrive (close %d)", *last + 1,
		    w->close_code);
		if (first == 0)
			first = test_now_s();
		ck_assert_str_eq(ws_str(j, "type"), "command");
		ck_assert_msg(ws_num(j, "seq") == *last + 1, "got seq %lld after %lld",
		    ws_num(j, "seq"), *last);
		*last = ws_num(j, "seq");
		cJSON_Delete(j);
		ck_assert_int_eq(ws_sendf(w, "{\"type\":\"receipt\",\"seq\":%lld,"
		    "\"status\":\"applied\"}", *last), 0);
	}
	return first;
}

/* Commands of ctx in `state`, once there are `want` (or ms pass). */
static long
wait_commands(const char *ctx, const char *state, long want, int ms)
{
	const char	*p[] = { ctx, state };
	long		 n = 0;
	int		 waited;

	for (waited = 0; waited <= ms; waited += 100) {
		n = testdb_long("SELECT count(*) FROM commands WHERE ctx_id = $1::uuid"
		    " AND state = $2", 2, p);
		if (n >= want)
			break;
		test_sleep_ms(100);
	}
	return n;
}

/*
 * Salesforce rows a node's worker delivered, from its log's outbox_batch
 * lines: a figure (which node takes a row is a race), never asserted.
 */
static long
node_delivered(const char *state_var)
{
	char	 path[512], line[4096];
	FILE	*f;
	long	 n = 0;
	char	*p;

	snprintf(path, sizeof(path), "%s/log/cb-worker.log", test_env(state_var));
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "\"event\":\"outbox_batch\"") == NULL ||
		    strstr(line, "\"sink\":\"salesforce\"") == NULL ||
		    (p = strstr(line, "\"done\":\"")) == NULL)
			continue;
		n += strtol(p + 8, NULL, 10);
	}
	fclose(f);
	return n;
}

START_TEST(commands_cross_nodes)
{
	struct seed	 s;
	struct ws	 w;
	char		 ctx[40], tok[64];
	long long	 last = 0;
	long		 applied;
	int		 i;

	seed_tenant(&s);
	use_node('A');
	seed_context(s.form_id, ctx, tok);
	tab_connect(&w, ctx, tok, 0, 5000);
	use_node('B');
	for (i = 1; i <= CMDS; i++)
		post_command(&s, ctx, i);
	tab_apply(&w, &last, CMDS);
	applied = wait_commands(ctx, "applied", CMDS, ARRIVE_MS);
	printf("figure: commands accepted on B: %d, received in order on A's channel: %lld, "
	    "applied: %ld\n", CMDS, last, applied);
	fflush(stdout);
	ck_assert_int_eq(applied, CMDS);
	ws_close(&w, 1000);
	ws_free(&w);
}
END_TEST

START_TEST(outbox_exactly_once)
{
	struct seed	 s;
	char		 (*ids)[40], key[64];
	int		 i, missing = SUBMITS, dupes = 0, once = 0, waited;
	long		 upserts;

	ids = calloc(SUBMITS, sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	seed_tenant(&s);
	for (i = 0; i < SUBMITS; i++) {
		use_node(i % 2 == 0 ? 'A' : 'B');
		snprintf(key, sizeof(key), "tn-%ld-%d", (long)getpid(), i);
		submit_form_new_tab(s.form_id, key, NULL, ids[i]);
	}
	for (waited = 0; waited <= DELIVER_MS && missing > 0; waited += 500) {
		fakesf_count(ids, SUBMITS, &missing, &dupes);
		if (missing > 0)
			test_sleep_ms(500);
	}
	for (i = 0; i < SUBMITS; i++) {
		upserts = 0;
		if (fakesf_records(ids[i], &upserts) == 1 && upserts == 1)
			once++;
	}
	printf("figure: submitted %d (%d on A, %d on B); at the fake: %d records, %d missing, "
	    "%d duplicated, %d upserted exactly once; delivered by A's worker %ld, B's %ld\n",
	    SUBMITS, (SUBMITS + 1) / 2, SUBMITS / 2, SUBMITS - missing, missing, dupes, once,
	    node_delivered("CB_TWONODE_A_STATE"), node_delivered("CB_TWONODE_B_STATE"));
	fflush(stdout);
	ck_assert_int_eq(missing, 0);
	ck_assert_int_eq(dupes, 0);
	ck_assert_int_eq(once, SUBMITS);
	free(ids);
}
END_TEST

/*
 * Both nodes' audit duties seal the trail (tenants, forms, policies, agents
 * and keys the cases made wrote audit rows): the chain still verifies whole.
 */
START_TEST(audit_chain_two_sealers)
{
	char	 cmd[1024], out[4096];
	int	 rc = 1, waited;

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin audit verify", test_env("CB_BUILD"));
	for (waited = 0; waited <= 30000; waited += 500) {
		rc = test_run(cmd, out, sizeof(out));
		if (rc != 0 || strstr(out, "\"unsealed\":0,") != NULL)
			break;
		test_sleep_ms(500);
	}
	printf("figure: audit chain sealed by both workers: %s", out);
	fflush(stdout);
	ck_assert_msg(rc == 0, "audit verify: %s", out);
	ck_assert_msg(strstr(out, "\"unsealed\":0,") != NULL, "rows left unsealed: %s", out);
}
END_TEST

START_TEST(failover_resumes)
{
	struct seed	 s;
	struct ws	 a, b;
	char		 ctx[40], tok[64], pidf[512];
	long long	 last = 0;
	long		 pid, applied;
	double		 t_kill, t_ready, t_first;
	int		 i, rc;

	seed_tenant(&s);
	use_node('A');
	seed_context(s.form_id, ctx, tok);
	tab_connect(&a, ctx, tok, 0, 5000);
	use_node('B');
	for (i = 1; i <= CMDS / 2; i++)
		post_command(&s, ctx, i);
	tab_apply(&a, &last, CMDS / 2);
	ck_assert_int_eq(wait_commands(ctx, "applied", CMDS / 2, ARRIVE_MS), CMDS / 2);

	/* A's worker dies at once, with the tab's socket on it. */
	snprintf(pidf, sizeof(pidf), "%s/run/cb-worker.pid", test_env("CB_TWONODE_A_STATE"));
	pid = test_pidfile(pidf);
	ck_assert_msg(pid > 1 && kill((pid_t)pid, 0) == 0, "no worker pid in %s", pidf);
	t_kill = test_now_s();
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	/* The agent goes on on B while the tab is away. */
	for (i = CMDS / 2 + 1; i <= CMDS; i++)
		post_command(&s, ctx, i);
	/* The tab sees its socket end, and goes to B with its position. */
	rc = ws_wait_close(&a, ARRIVE_MS);
	ck_assert_msg(rc != -1, "the socket on A did not end after its worker was killed");
	ws_free(&a);
	use_node('B');
	t_ready = tab_connect(&b, ctx, tok, last, ARRIVE_MS);
	t_first = tab_apply(&b, &last, CMDS);
	applied = wait_commands(ctx, "applied", CMDS, ARRIVE_MS);
	printf("figure: after SIGKILL of A's worker: ready on B in %.0f ms, first command on B "
	    "in %.0f ms; %lld commands in order, each once; applied %ld of %d\n",
	    (t_ready - t_kill) * 1000.0, (t_first - t_kill) * 1000.0, last, applied, CMDS);
	fflush(stdout);
	ck_assert_int_eq(last, CMDS);
	ck_assert_int_eq(applied, CMDS);
	/* Nothing more: no command is sent twice. */
	{
		char	*m = NULL;
		size_t	 n;

		rc = ws_recv(&b, 1000, &m, &n);
		ck_assert_msg(rc == WS_TIMEOUT, "a frame after the last command: %s", m ? m : "");
		free(m);
	}
	ws_close(&b, 1000);
	ws_free(&b);
}
END_TEST

static Suite *
twonode_suite(void)
{
	Suite	*s = suite_create("twonode");
	TCase	*tc = tcase_create("two nodes");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, commands_cross_nodes);
	tcase_add_test(tc, outbox_exactly_once);
	tcase_add_test(tc, audit_chain_two_sealers);
	tcase_add_test(tc, failover_resumes);	/* last: A keeps no worker */
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	char		 script[1024], self[1024];
	const char	*repo = getenv("CB_REPO");
	ssize_t		 n;

	(void)argc;
	if (getenv("CB_TWONODE") == NULL) {
		/* Build the two nodes and run this program again inside them. */
		if (repo == NULL) {
			fprintf(stderr, "test_twonode: CB_REPO is not set (run it from scripts/test.sh)\n");
			return 1;
		}
		snprintf(script, sizeof(script), "%s/scripts/twonode.sh", repo);
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			perror("readlink /proc/self/exe");
			return 1;
		}
		self[n] = '\0';
		execl(script, script, self, (char *)NULL);
		perror(script);
		return 1;
	}
	(void)argv;
	return cu_run(twonode_suite());
}
