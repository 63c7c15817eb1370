/*
 * The call feed (docs/channel.md "The call feed"): a tenant's accepted
 * call events streamed over the channel at /ws/calls, through nginx.
 *
 * Proven: a feed authenticated with an agent API key (scope calls:read)
 * receives a frame per event its tenant's voice platform posts (signed,
 * through the real route), shortly after the 202, with the correlation id,
 * type, times and the phones masked, and never another tenant's event;
 * a reconnect presenting the last position seen gets exactly what came
 * meanwhile, in order, nothing lost and nothing twice; a position ahead of
 * the head is a resync; no position is live from the head; bad auth is
 * refused (a wrong or revoked key, one without the scope, a tab token, a
 * first frame that is not auth, silence); CB_WS_MAX_FEEDS_PER_ORG feeds a
 * tenant at most.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "check_util.h"
#include "fakehooks.h"
#include "http.h"
#include "seed.h"
#include "testdb.h"
#include "util.h"
#include "ws.h"

struct tenant {
	char	 slug[48];
	char	 source[40];
	char	 secret[128];
	char	 agent[40];
	char	 key[96];	/* scope calls:read */
	char	 plain_key[96];	/* the default scopes: no calls:read */
};

/* A tenant with a call source and an agent holding two keys. */
static void
tenant_new(struct tenant *t)
{
	char		 args[512], out[2048];
	static int	 n;

	memset(t, 0, sizeof(*t));
	snprintf(t->slug, sizeof(t->slug), "feed%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)util_now_ms() % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Feed tenant'", t->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "call-source-add %s voice --country-code 1", t->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "source_id", t->source, sizeof(t->source));
	seed_take(out, "secret", t->secret, sizeof(t->secret));
	test_record_secret(t->secret);
	snprintf(args, sizeof(args), "agent-create %s monitor", t->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "agent_id", t->agent, sizeof(t->agent));
	snprintf(args, sizeof(args), "key-create %s calls:read", t->agent);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "api_key", t->key, sizeof(t->key));
	test_record_secret(t->key);
	snprintf(args, sizeof(args), "key-create %s", t->agent);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "api_key", t->plain_key, sizeof(t->plain_key));
	test_record_secret(t->plain_key);
}

/* One signed call event of t's source; answers 202 (asserted). */
static void
post_event(const struct tenant *t, const char *corr, const char *type)
{
	struct http_resp r;
	char		 id[64], body[512];

	snprintf(body, sizeof(body), "{\"correlation_id\":\"%s\",\"event_type\":\"%s\","
	    "\"from\":\"(415) 555-2671\",\"to\":\"+44 20 7946 0958\","
	    "\"started_at\":\"2025-10-18T14:03:07+02:00\",\"duration_s\":61}", corr, type);
	snprintf(id, sizeof(id), "msg_%s_%s", corr, type);
	fakehooks_post_call(t->secret, t->source, id, body, &r);
	ck_assert_msg(r.status == 202, "%ld: %s", r.status, r.body ? r.body : "");
	http_free(&r);
}

/* A feed authenticated with key (last_seq < 0: none presented); its ready frame. */
static cJSON *
feed_open(struct ws *w, const char *key, long long last_seq)
{
	cJSON	*j;

	ck_assert_msg(ws_open(w, "/ws/calls", NULL) == 0, "open failed (%d)", w->http_status);
	ck_assert_str_eq(w->protocol, "cb.calls.v1");
	if (last_seq < 0)
		ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\"}", key);
	else
		ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":%lld}", key, last_seq);
	j = ws_next(w, 5000);
	ck_assert_msg(j != NULL, "no answer to auth");
	ck_assert_msg(strcmp(ws_str(j, "type"), "ready") == 0, "not ready: %s", ws_str(j, "type"));
	return j;
}

/* The next call_event frame (within ms), asserting its seq and correlation id. */
static cJSON *
expect_event(struct ws *w, long long seq, const char *corr, int ms)
{
	cJSON	*j = ws_next(w, ms);

	ck_assert_msg(j != NULL, "no frame for seq %lld", seq);
	ck_assert_str_eq(ws_str(j, "type"), "call_event");
	ck_assert_int_eq(ws_num(j, "seq"), seq);
	ck_assert_str_eq(ws_str(j, "correlation_id"), corr);
	return j;
}

static void
expect_refused(struct ws *w, const char *code, int close_code)
{
	cJSON	*j = ws_next_type(w, "error", 5000);

	ck_assert_msg(j != NULL, "no error frame");
	ck_assert_str_eq(ws_str(j, "code"), code);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(w, 5000), close_code);
	ws_free(w);
}

START_TEST(feed_streams_its_tenant_only)
{
	struct tenant	 a, b;
	struct ws	 w;
	cJSON		*j;
	double		 t0;
	char		 corr[64], other[64], *text;

	tenant_new(&a);
	tenant_new(&b);
	j = feed_open(&w, a.key, -1);
	ck_assert_int_eq(ws_num(j, "last_seq"), 0);
	ck_assert_int_eq(ws_num(j, "resume_from"), 0);
	cJSON_Delete(j);

	snprintf(other, sizeof(other), "other-%s", b.slug);
	post_event(&b, other, "call_started");
	snprintf(corr, sizeof(corr), "run-%s", a.slug);
	t0 = util_now_ms();
	post_event(&a, corr, "call_started");
	j = expect_event(&w, 1, corr, 3000);
	/* Shortly after the 202: the wake-up, not the sweep, brings it. */
	ck_assert_msg(util_now_ms() - t0 < 1500, "frame after %.0f ms", util_now_ms() - t0);
	ck_assert_str_eq(ws_str(j, "event_type"), "call_started");
	ck_assert_str_eq(ws_str(j, "from"), "+*******2671");
	ck_assert_str_eq(ws_str(j, "to"), "+********0958");
	ck_assert_str_eq(ws_str(j, "started_at"), "2025-10-18T12:03:07Z");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "ended_at")));
	ck_assert_int_eq(ws_num(j, "duration_s"), 61);
	ck_assert(util_uuid_ok(ws_str(j, "event_id")));
	ck_assert_ptr_nonnull(ws_str(j, "accepted_at"));
	text = cJSON_PrintUnformatted(j);
	ck_assert_ptr_null(strstr(text, "4155552671"));
	free(text);
	cJSON_Delete(j);
	post_event(&a, corr, "call_ended");
	cJSON_Delete(expect_event(&w, 2, corr, 3000));
	/* b's event never came (it would have been first, or in between). */
	ck_assert_ptr_null(ws_next(&w, 700));
	ws_close(&w, 1000);
	ws_free(&w);
}
END_TEST

START_TEST(resume_loses_and_repeats_nothing)
{
	struct tenant	 t;
	struct ws	 w;
	cJSON		*j;
	char		 corr[8][64];
	int		 i;

	tenant_new(&t);
	cJSON_Delete(feed_open(&w, t.key, 0));
	for (i = 0; i < 3; i++) {
		snprintf(corr[i], sizeof(corr[i]), "r%d-%s", i, t.slug);
		post_event(&t, corr[i], "call_started");
	}
	for (i = 0; i < 3; i++)
		cJSON_Delete(expect_event(&w, i + 1, corr[i], 3000));
	ws_drop(&w);
	ws_free(&w);

	/* Meanwhile, while no feed is connected. */
	for (i = 3; i < 8; i++) {
		snprintf(corr[i], sizeof(corr[i]), "r%d-%s", i, t.slug);
		post_event(&t, corr[i], "call_started");
	}
	j = feed_open(&w, t.key, 3);
	ck_assert_int_eq(ws_num(j, "resume_from"), 3);
	cJSON_Delete(j);
	for (i = 3; i < 8; i++)
		cJSON_Delete(expect_event(&w, i + 1, corr[i], 3000));
	ck_assert_ptr_null(ws_next(&w, 700));
	ws_close(&w, 1000);
	ws_free(&w);

	/* From the start, the whole feed in order; ahead of the head, a resync. */
	cJSON_Delete(feed_open(&w, t.key, 0));
	for (i = 0; i < 8; i++)
		cJSON_Delete(expect_event(&w, i + 1, corr[i], 3000));
	ws_close(&w, 1000);
	ws_free(&w);
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":9}", t.key);
	j = ws_next_type(&w, "resync", 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "reason"), "position_ahead");
	ck_assert_int_eq(ws_num(j, "last_seq"), 8);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(&w, 5000), 4009);
	ws_free(&w);
	/* No position: live from the head, the past not replayed. */
	j = feed_open(&w, t.key, -1);
	ck_assert_int_eq(ws_num(j, "resume_from"), 8);
	cJSON_Delete(j);
	ck_assert_ptr_null(ws_next(&w, 700));
	ws_close(&w, 1000);
	ws_free(&w);
}
END_TEST

START_TEST(bad_auth_is_refused)
{
	struct tenant	 t;
	struct seed	 s;
	struct ws	 w;
	char		 ctx[40], token[64], bad[96];

	tenant_new(&t);
	/* Not an API key of any shape, a key of the right shape but wrong. */
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"nope\"}");
	expect_refused(&w, "unauthorized", 4401);
	util_strlcpy(bad, t.key, sizeof(bad));
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\"}", bad);
	expect_refused(&w, "unauthorized", 4401);
	/* A key without calls:read. */
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\"}", t.plain_key);
	expect_refused(&w, "unauthorized", 4401);
	/* A tab token is no key. */
	seed_tenant(&s);
	seed_context(s.form_id, ctx, token);
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\"}", token);
	expect_refused(&w, "unauthorized", 4401);
	/* Another first frame; a malformed auth. */
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"receipt\",\"seq\":1,\"status\":\"applied\"}");
	expect_refused(&w, "bad_message", 4400);
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":-1}", t.key);
	expect_refused(&w, "bad_message", 4400);
	/* A revoked key, refused at once. */
	testdb_exec("UPDATE api_keys SET revoked_at = now() WHERE agent_id = $1::uuid", 1,
	    (const char *[]){ t.agent });
	ck_assert_int_eq(ws_open(&w, "/ws/calls", NULL), 0);
	ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\"}", t.key);
	expect_refused(&w, "unauthorized", 4401);
}
END_TEST

/* CB_WS_MAX_FEEDS_PER_ORG (2 in scripts/test.sh): the third is refused, another tenant's not. */
START_TEST(feeds_per_tenant_are_capped)
{
	struct tenant	 t, u;
	struct ws	 w[3], x;
	long long	 cap = strtoll(test_env("CB_WS_MAX_FEEDS_PER_ORG"), NULL, 10);
	int		 i;

	ck_assert_int_eq(cap, 2);
	tenant_new(&t);
	tenant_new(&u);
	for (i = 0; i < 2; i++)
		cJSON_Delete(feed_open(&w[i], t.key, -1));
	ck_assert_int_eq(ws_open(&w[2], "/ws/calls", NULL), 0);
	ws_sendf(&w[2], "{\"type\":\"auth\",\"token\":\"%s\"}", t.key);
	expect_refused(&w[2], "too_many_feeds", 1013);
	cJSON_Delete(feed_open(&x, u.key, -1));
	/* The open ones still serve. */
	ws_sendf(&w[0], "{\"type\":\"ping\"}");
	cJSON_Delete(ws_next_type(&w[0], "pong", 3000));
	for (i = 0; i < 2; i++) {
		ws_close(&w[i], 1000);
		ws_free(&w[i]);
	}
	ws_close(&x, 1000);
	ws_free(&x);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("callfeed");
	TCase	*tc = tcase_create("feed");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, feed_streams_its_tenant_only);
	tcase_add_test(tc, resume_loses_and_repeats_nothing);
	tcase_add_test(tc, bad_auth_is_refused);
	tcase_add_test(tc, feeds_per_tenant_are_capped);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
