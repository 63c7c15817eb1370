/*
 * The tab channel (docs/channel.md), end to end through nginx's /ws/ against
 * the private stack: auth, ordered delivery, the window of 2, receipts and
 * their states in Postgres, resume after a drop, resync on a position the
 * broker cannot serve, bad input before and after auth, oversized frames,
 * the LISTEN wake-up, a dropped Postgres connection, a worker restart and
 * the receipt timeout.
 *
 * Each test makes its own org, form, published version and context with a
 * fresh tab token, so tests never see each other's commands.  Commands are
 * inserted the way the commands route does (last_seq bump and insert in one
 * statement).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/rand.h>

#include "check_util.h"
#include "db.h"
#include "errs.h"
#include "http.h"
#include "kv.h"
#include "testdb.h"
#include "tab.h"
#include "util.h"
#include "ws.h"

#define QUIET_MS	1000	/* "nothing else arrives" window */
#define ARRIVE_MS	3000	/* a command that should come, comes within this */
#define STATE_MS	8000	/* a state a receipt or sweep makes is stored within this */
#define CLOSE_SEEN_MS	1000	/* the worker has seen a dropped socket close */

struct fx {
	struct db	*db;
	char		 org[24];
	char		 form[37];
	char		 ctx[37];
	char		 token[TAB_TOKEN_LEN + 1];
	char		 path[96];
};

/* ------------------------------------------------------------ fixtures */

static void
fx_sql(struct fx *f, struct db_res **res, const char *sql, int n, const char *const *p)
{
	int	 rc = db_query(f->db, res, sql, n, p);

	ck_assert_msg(rc == CB_OK, "SQL failed (%s): %s", db_sqlstate(f->db), db_errmsg(f->db));
}

static void
fx_exec(struct fx *f, const char *sql, int n, const char *const *p)
{
	struct db_res	*r = NULL;

	fx_sql(f, &r, sql, n, p);
	db_res_free(r);
}

/* A context of an existing org and form, with a fresh token. */
static void
fx_context(struct fx *f, char ctx[37], char token[TAB_TOKEN_LEN + 1])
{
	char		 hash[2 + TAB_HASH_HEX];
	const char	*p[3];
	struct db_res	*r = NULL;

	tab_token_new(token, hash);
	p[0] = f->org;
	p[1] = f->form;
	p[2] = hash;
	fx_sql(f, &r, "INSERT INTO contexts (org_id, form_id, form_version, tab_token_hash,"
	    " expires_at) VALUES ($1::bigint, $2::uuid, 1, $3::bytea, now() + interval '1 hour')"
	    " RETURNING id", 3, p);
	util_strlcpy(ctx, db_val(r, 0, 0), 37);
	db_res_free(r);
}

static void
fx_init(struct fx *f)
{
	unsigned char	 rnd[6];
	char		 slug[32], hex[16];
	const char	*p[2];
	struct db_res	*r = NULL;

	memset(f, 0, sizeof(*f));
	f->db = db_open(test_env("CB_PG_DSN"));
	ck_assert_int_eq(RAND_bytes(rnd, sizeof(rnd)), 1);
	util_hex(hex, rnd, sizeof(rnd));
	snprintf(slug, sizeof(slug), "chan-%s", hex);
	p[0] = slug;
	fx_sql(f, &r, "INSERT INTO orgs (slug, name) VALUES ($1, 'Channel test') RETURNING id",
	    1, p);
	util_strlcpy(f->org, db_val(r, 0, 0), sizeof(f->org));
	db_res_free(r);
	p[0] = f->org;
	fx_sql(f, &r, "INSERT INTO forms (org_id, name) VALUES ($1::bigint, 'Channel form')"
	    " RETURNING id", 1, p);
	util_strlcpy(f->form, db_val(r, 0, 0), sizeof(f->form));
	db_res_free(r);
	p[0] = f->form;
	p[1] = f->org;
	fx_exec(f, "INSERT INTO form_versions (form_id, version, org_id, definition)"
	    " VALUES ($1::uuid, 1, $2::bigint, '{\"fields\":[]}')", 2, p);
	fx_exec(f, "UPDATE forms SET current_version = 1 WHERE id = $1::uuid", 1, p);
	fx_context(f, f->ctx, f->token);
	snprintf(f->path, sizeof(f->path), "/ws/ctx/%s", f->ctx);
}

static void
fx_free(struct fx *f)
{
	db_close(f->db);
	f->db = NULL;
}

/* Insert a command for the context as the commands route does; its seq. */
static long long
fx_cmd_state(struct fx *f, const char *ctx, const char *type, const char *selector,
    const char *value, const char *state, char id[37])
{
	const char	*p[6] = { ctx, f->org, type, selector, value, state };
	struct db_res	*r = NULL;
	long long	 seq = 0;

	fx_sql(f, &r, "WITH s AS (UPDATE contexts SET last_seq = last_seq + 1"
	    " WHERE id = $1::uuid AND org_id = $2::bigint RETURNING last_seq)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state)"
	    " SELECT $2::bigint, $1::uuid, s.last_seq, $3, $4, $5::jsonb, $6 FROM s"
	    " RETURNING id, seq", 6, p);
	ck_assert_int_eq(db_rows(r), 1);
	if (id)
		util_strlcpy(id, db_val(r, 0, 0), 37);
	ck_assert_int_eq(util_parse_ll(db_val(r, 0, 1), 1, 1LL << 40, &seq), CB_OK);
	db_res_free(r);
	return seq;
}

static long long
fx_cmd(struct fx *f, const char *selector, const char *value)
{
	return fx_cmd_state(f, f->ctx, "set_field", selector, value, "queued", NULL);
}

struct row {
	char		 state[24];
	long long	 attempts;
	int		 delivered;	/* delivered_at set */
	int		 finished;	/* finished_at set */
	char		 reason[256];
	int		 has_reason;
};

static void
fx_row(struct fx *f, long long seq, struct row *out)
{
	char		 s[24];
	const char	*p[3] = { f->ctx, f->org, s };
	struct db_res	*r = NULL;

	snprintf(s, sizeof(s), "%lld", seq);
	fx_sql(f, &r, "SELECT state, attempts, delivered_at IS NOT NULL,"
	    " finished_at IS NOT NULL, reason FROM commands"
	    " WHERE ctx_id = $1::uuid AND org_id = $2::bigint AND seq = $3::bigint", 3, p);
	ck_assert_int_eq(db_rows(r), 1);
	memset(out, 0, sizeof(*out));
	util_strlcpy(out->state, db_val(r, 0, 0), sizeof(out->state));
	ck_assert_int_eq(util_parse_ll(db_val(r, 0, 1), 0, 1000, &out->attempts), CB_OK);
	out->delivered = strcmp(db_val(r, 0, 2), "t") == 0;
	out->finished = strcmp(db_val(r, 0, 3), "t") == 0;
	if (!db_isnull(r, 0, 4)) {
		out->has_reason = 1;
		util_strlcpy(out->reason, db_val(r, 0, 4), sizeof(out->reason));
	}
	db_res_free(r);
}

/* Wait until the row of seq reaches `state`; 1 if it did within ms. */
static int
fx_wait_state(struct fx *f, long long seq, const char *state, int ms)
{
	struct row	 r;
	int		 waited;

	for (waited = 0; waited <= ms; waited += 50) {
		fx_row(f, seq, &r);
		if (strcmp(r.state, state) == 0)
			return 1;
		test_sleep_ms(50);
	}
	return 0;
}

/* -------------------------------------------------------------- helpers */

static void
open_ws(struct ws *w, const char *path)
{
	ck_assert_msg(ws_open(w, path, NULL) == 0, "WebSocket open of %s failed (status %d)",
	    path, w->http_status);
	ck_assert_str_eq(w->protocol, "cb.tab.v1");
}

/* Open, authenticate from `last_seq`, and check the ready message. */
static void
connect_auth(struct ws *w, struct fx *f, long long last_seq, long long expect_last)
{
	cJSON	*j;

	open_ws(w, f->path);
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":%lld}",
	    f->token, last_seq), 0);
	j = ws_next(w, 5000);
	ck_assert_msg(j != NULL, "no ready message (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	ck_assert_str_eq(ws_str(j, "ctx_ref"), f->ctx);
	ck_assert_int_eq(ws_num(j, "resume_from"), last_seq);
	if (expect_last >= 0)
		ck_assert_int_eq(ws_num(j, "last_seq"), expect_last);
	cJSON_Delete(j);
}

/* The next message must be command `seq`; returns it (caller deletes). */
static cJSON *
expect_command(struct ws *w, long long seq, int ms)
{
	cJSON	*j = ws_next(w, ms);

	ck_assert_msg(j != NULL, "command %lld did not arrive within %d ms (close %d)", seq, ms,
	    w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "command");
	ck_assert_int_eq(ws_num(j, "seq"), seq);
	return j;
}

static void
expect_command_del(struct ws *w, long long seq, int ms)
{
	cJSON_Delete(expect_command(w, seq, ms));
}

/* Nothing at all may arrive for ms. */
static void
expect_quiet(struct ws *w, int ms)
{
	char	*m = NULL;
	size_t	 n;
	int	 rc = ws_recv(w, ms, &m, &n);

	ck_assert_msg(rc == WS_TIMEOUT, "expected silence, got rc %d: %s", rc, m ? m : "");
	free(m);
}

static void
send_receipt(struct ws *w, long long seq)
{
	ck_assert_int_eq(ws_sendf(w, "{\"type\":\"receipt\",\"seq\":%lld,\"status\":\"applied\"}",
	    seq), 0);
}

/* The next message is the error bad_message (the connection stays open). */
static void
expect_bad_message(struct ws *w)
{
	cJSON	*j = ws_next(w, 3000);

	ck_assert_msg(j != NULL, "no error message (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "type"), "error");
	ck_assert_str_eq(ws_str(j, "code"), "bad_message");
	cJSON_Delete(j);
}

/* An error message with `code`, then the close with `close_code`. */
static void
expect_error_close(struct ws *w, const char *code, int close_code, int ms)
{
	cJSON	*j = ws_next_type(w, "error", ms);

	ck_assert_msg(j != NULL, "no error message (close %d)", w->close_code);
	ck_assert_str_eq(ws_str(j, "code"), code);
	ck_assert_ptr_nonnull(ws_str(j, "detail"));
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(w, 3000), close_code);
}

/* ---------------------------------------------------------------- tests */

static const struct { const char *path; int status; } path_cases[] = {
	{ "/ws/nope", 404 },
	{ "/ws/ctx/not-a-uuid", 400 },
	{ "/ws/ctx/0000000000000000000000000000000000zz", 400 },
	{ "/ws/ctx/00000000-0000-0000-0000-000000000000/x", 404 },
	{ "/ws/ctx/00000000-0000-0000-0000-000000000000?token=tab_x", 400 },
};

START_TEST(bad_paths_refused_at_upgrade)
{
	struct ws	 w;

	ck_assert_int_eq(ws_open(&w, path_cases[_i].path, NULL), -1);
	ck_assert_int_eq(w.http_status, path_cases[_i].status);
	ws_free(&w);
}
END_TEST

/* Audit rows of this context's commands with that action, by its tab, without a reason. */
static long long
fx_audit(struct fx *f, const char *action)
{
	const char	*p[2] = { f->ctx, action };
	struct db_res	*r = NULL;
	long long	 n = -1;

	fx_sql(f, &r, "SELECT count(*) FROM audit_log WHERE action = $2"
	    " AND actor = 'tab:' || $1 AND detail->>'ctx' = $1 AND NOT detail ? 'reason'", 2, p);
	ck_assert_int_eq(util_parse_ll(db_val(r, 0, 0), 0, 1LL << 40, &n), CB_OK);
	db_res_free(r);
	return n;
}

START_TEST(delivers_in_order_and_applies)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;
	cJSON		*j;
	char		 id1[37];
	long long	 s;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	s = fx_cmd_state(&f, f.ctx, "set_field", "#email", "\"a@example.com\"", "queued", id1);
	ck_assert_int_eq(s, 1);
	ck_assert_int_eq(fx_cmd_state(&f, f.ctx, "focus", "#name", NULL, "queued", NULL), 2);
	ck_assert_int_eq(fx_cmd_state(&f, f.ctx, "show_message", NULL,
	    "{\"text\":\"h\\u00e9llo\"}", "queued", NULL), 3);

	j = expect_command(&w, 1, ARRIVE_MS);
	ck_assert_str_eq(ws_str(j, "id"), id1);
	ck_assert_str_eq(ws_str(j, "command"), "set_field");
	ck_assert_str_eq(ws_str(j, "selector"), "#email");
	ck_assert_str_eq(ws_str(j, "value"), "a@example.com");
	cJSON_Delete(j);
	j = expect_command(&w, 2, ARRIVE_MS);
	ck_assert_str_eq(ws_str(j, "command"), "focus");
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "value"));
	cJSON_Delete(j);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "delivered");
	ck_assert_int_eq(r.attempts, 1);
	ck_assert(r.delivered);
	ck_assert(!r.finished);

	send_receipt(&w, 1);
	j = expect_command(&w, 3, ARRIVE_MS);
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "selector"));
	ck_assert_str_eq(ws_str(cJSON_GetObjectItem(j, "value"), "text"), "h\xc3\xa9llo");
	cJSON_Delete(j);
	send_receipt(&w, 2);
	send_receipt(&w, 3);
	for (s = 1; s <= 3; s++) {
		ck_assert_msg(fx_wait_state(&f, s, "applied", STATE_MS), "seq %lld not applied", s);
		fx_row(&f, s, &r);
		ck_assert(r.finished);
		ck_assert(r.delivered);
		ck_assert_int_eq(r.attempts, 1);
	}
	expect_quiet(&w, 300);
	ck_assert_int_eq(fx_audit(&f, "command.applied"), 3);
	ws_close(&w, 1000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(window_of_two)
{
	struct fx	 f;
	struct ws	 w;
	long long	 s;

	fx_init(&f);
	for (s = 1; s <= 5; s++)
		ck_assert_int_eq(fx_cmd(&f, "#f", "1"), s);
	connect_auth(&w, &f, 0, 5);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 2, ARRIVE_MS);
	expect_quiet(&w, QUIET_MS);
	for (s = 1; s <= 3; s++) {
		send_receipt(&w, s);
		expect_command_del(&w, s + 2, ARRIVE_MS);
		expect_quiet(&w, 300);
	}
	send_receipt(&w, 4);
	send_receipt(&w, 5);
	ck_assert(fx_wait_state(&f, 5, "applied", STATE_MS));
	ck_assert(fx_wait_state(&f, 4, "applied", STATE_MS));
	expect_quiet(&w, 300);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(resume_after_abrupt_drop)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	fx_cmd(&f, "#b", "2");
	fx_cmd(&f, "#c", "3");
	connect_auth(&w, &f, 0, 3);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 2, ARRIVE_MS);
	send_receipt(&w, 1);
	expect_command_del(&w, 3, ARRIVE_MS);
	ck_assert(fx_wait_state(&f, 1, "applied", STATE_MS));
	ws_drop(&w);
	ws_free(&w);

	connect_auth(&w, &f, 1, 3);
	expect_command_del(&w, 2, ARRIVE_MS);
	expect_command_del(&w, 3, ARRIVE_MS);
	expect_quiet(&w, QUIET_MS);
	/* A re-send on a new connection is one more delivery attempt. */
	fx_row(&f, 2, &r);
	ck_assert_str_eq(r.state, "delivered");
	ck_assert_int_eq(r.attempts, 2);
	send_receipt(&w, 2);
	send_receipt(&w, 3);
	ck_assert(fx_wait_state(&f, 3, "applied", STATE_MS));
	ck_assert(fx_wait_state(&f, 2, "applied", STATE_MS));
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "applied");
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(position_ahead_is_resync)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j;

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	fx_cmd(&f, "#b", "2");
	open_ws(&w, f.path);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":5}",
	    f.token), 0);
	j = ws_next(&w, 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "type"), "resync");
	ck_assert_str_eq(ws_str(j, "reason"), "position_ahead");
	ck_assert_int_eq(ws_num(j, "last_seq"), 2);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(&w, 3000), 4009);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(gap_is_resync)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j;
	const char	*p[2];

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	fx_cmd(&f, "#b", "2");
	fx_cmd(&f, "#c", "3");
	p[0] = f.ctx;
	p[1] = f.org;
	fx_exec(&f, "DELETE FROM commands WHERE ctx_id = $1::uuid AND org_id = $2::bigint"
	    " AND seq = 2", 2, p);

	open_ws(&w, f.path);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}",
	    f.token), 0);
	j = ws_next(&w, 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "type"), "resync");
	ck_assert_str_eq(ws_str(j, "reason"), "gap");
	ck_assert_int_eq(ws_num(j, "last_seq"), 3);
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(&w, 3000), 4009);
	ws_free(&w);

	/* Past the hole everything is there: that position is served. */
	connect_auth(&w, &f, 2, 3);
	expect_command_del(&w, 3, ARRIVE_MS);
	expect_quiet(&w, 500);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(gap_while_connected_is_resync)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j;
	const char	*p[2];

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	fx_cmd(&f, "#b", "2");
	fx_cmd(&f, "#c", "3");
	connect_auth(&w, &f, 0, 3);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 2, ARRIVE_MS);
	p[0] = f.ctx;
	p[1] = f.org;
	fx_exec(&f, "DELETE FROM commands WHERE ctx_id = $1::uuid AND org_id = $2::bigint"
	    " AND seq = 3", 2, p);
	send_receipt(&w, 1);
	j = ws_next_type(&w, "resync", 3000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "reason"), "gap");
	cJSON_Delete(j);
	ck_assert_int_eq(ws_wait_close(&w, 3000), 4009);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(wrong_token_unauthorized)
{
	struct fx	 f;
	struct ws	 w;
	char		 tok[TAB_TOKEN_LEN + 1], hash[2 + TAB_HASH_HEX];

	fx_init(&f);
	tab_token_new(tok, hash);
	open_ws(&w, f.path);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\"}", tok), 0);
	expect_error_close(&w, "unauthorized", 4401, 5000);
	ws_free(&w);

	open_ws(&w, f.path);
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"auth\",\"token\":\"tab_short\"}"), 0);
	expect_error_close(&w, "unauthorized", 4401, 5000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(other_context_token_unauthorized)
{
	struct fx	 f;
	struct ws	 w;
	char		 ctx2[37], tok2[TAB_TOKEN_LEN + 1];

	fx_init(&f);
	fx_context(&f, ctx2, tok2);
	fx_cmd_state(&f, ctx2, "focus", "#x", NULL, "queued", NULL);
	open_ws(&w, f.path);
	ck_assert_int_eq(ws_sendf(&w, "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}", tok2),
	    0);
	expect_error_close(&w, "unauthorized", 4401, 5000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(no_auth_is_auth_timeout)
{
	struct fx	 f;
	struct ws	 w;
	double		 t0;

	fx_init(&f);
	open_ws(&w, f.path);
	t0 = util_now_ms();
	/* A ping is answered, but it is not an auth: the clock keeps running. */
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"ping\"}"), 0);
	cJSON_Delete(ws_next_type(&w, "pong", 2000));
	expect_error_close(&w, "auth_timeout", 4408, 9000);
	ck_assert_msg(util_now_ms() - t0 >= 4500, "auth timeout came too early");
	ws_free(&w);
	fx_free(&f);
}
END_TEST

static const char *const bad_first[] = {
	"not json",
	"{}",
	"[1,2]",
	"{\"type\":\"auth\"}",
	"{\"type\":\"auth\",\"token\":\"tab_x\",\"extra\":1}",
	"{\"type\":\"auth\",\"token\":\"tab_x\",\"last_seq\":-1}",
	"{\"type\":\"auth\",\"token\":\"tab_x\",\"last_seq\":\"1\"}",
	"{\"type\":\"receipt\",\"seq\":1,\"status\":\"applied\"}",
	"{\"type\":\"auth\",\"token\":\"tab_x\"} trailing",
	"",
};

START_TEST(malformed_first_frame_is_bad_message)
{
	struct fx	 f;
	struct ws	 w;

	fx_init(&f);
	open_ws(&w, f.path);
	ck_assert_int_eq(ws_send_text(&w, bad_first[_i]), 0);
	expect_error_close(&w, "bad_message", 4400, 5000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(binary_first_frame_is_bad_message)
{
	struct fx	 f;
	struct ws	 w;
	static const char auth[] = "{\"type\":\"ping\"}";

	fx_init(&f);
	open_ws(&w, f.path);
	ck_assert_int_eq(ws_send_frame(&w, 0x2, 1, auth, sizeof(auth) - 1), 0);
	expect_error_close(&w, "bad_message", 4400, 5000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/*
 * A receipt the worker never stored (killed -9 after the tab applied the
 * command): the tab resumes after that seq and sends the receipt
 * again after ready.  Taken for a command that reached a tab and is
 * still delivered; for one that never went out, or finished already, it
 * changes nothing and gets no reply; one more than a window below the
 * position is a receipt for a command not sent here.
 */
START_TEST(receipt_sent_again_after_ready)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;
	long long	 s;

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	connect_auth(&w, &f, 0, 1);
	expect_command_del(&w, 1, ARRIVE_MS);
	/* Applied by the tab; its receipt lost with the worker (kill -9). */
	test_kill_children("cb-worker");
	ws_free(&w);
	ck_assert_msg(ws_open_retry(&w, f.path, 15000) == 0, "worker did not come back");
	ws_free(&w);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "delivered");
	/* Seq 2 never goes out; then seqs 3 to 19 (17 more). */
	fx_cmd_state(&f, f.ctx, "set_field", "#b", "2", "queued", NULL);
	connect_auth(&w, &f, 2, 2);
	send_receipt(&w, 1);
	ck_assert(fx_wait_state(&f, 1, "applied", STATE_MS));
	/* Never sent to a tab: it stays queued, and no error. */
	send_receipt(&w, 2);
	/* Finished already: nothing changes, no reply. */
	send_receipt(&w, 1);
	expect_quiet(&w, QUIET_MS);
	fx_row(&f, 2, &r);
	ck_assert_str_eq(r.state, "queued");
	ck_assert(!r.delivered);
	ws_free(&w);
	for (s = 3; s <= 19; s++)
		fx_cmd(&f, "#c", "3");
	/* A window (16) below the position is the bound: seq 3 of position 19 is past it. */
	connect_auth(&w, &f, 19, 19);
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"receipt\",\"seq\":3,\"status\":\"applied\"}"),
	    0);
	expect_bad_message(&w);
	fx_row(&f, 3, &r);
	ck_assert_str_eq(r.state, "queued");
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(bad_frame_after_auth_only_errors)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j;
	struct row	 r;

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	connect_auth(&w, &f, 0, 1);
	expect_command_del(&w, 1, ARRIVE_MS);
	ck_assert_int_eq(ws_send_text(&w, "{nope"), 0);
	expect_bad_message(&w);
	/* A receipt for a seq never sent here: an error, and nothing changes. */
	ck_assert_int_eq(ws_send_text(&w,
	    "{\"type\":\"receipt\",\"seq\":7,\"status\":\"applied\"}"), 0);
	expect_bad_message(&w);
	ck_assert_int_eq(ws_send_text(&w,
	    "{\"type\":\"receipt\",\"seq\":1,\"status\":\"done\"}"), 0);
	expect_bad_message(&w);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "delivered");
	/* Still open and serving. */
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"ping\"}"), 0);
	j = ws_next(&w, 3000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "type"), "pong");
	cJSON_Delete(j);
	send_receipt(&w, 1);
	ck_assert(fx_wait_state(&f, 1, "applied", STATE_MS));
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/* 0: one frame over the cap; 1: fragments adding up past it; 2: same after auth. */
START_TEST(oversized_message_closes_1009)
{
	struct fx	 f;
	struct ws	 w;
	size_t		 n = 20 * 1024;
	char		*big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	fx_init(&f);
	if (_i == 2)
		connect_auth(&w, &f, 0, 0);
	else
		open_ws(&w, f.path);
	if (_i == 0)
		ck_assert_int_eq(ws_send_textn(&w, big, n), 0);
	else {
		ck_assert_int_eq(ws_send_frame(&w, 0x1, 0, big, 8192), 0);
		ck_assert_int_eq(ws_send_frame(&w, 0x0, 0, big, 8192), 0);
		ck_assert_int_eq(ws_send_frame(&w, 0x0, 1, big, 4096), 0);
	}
	ck_assert_int_eq(ws_wait_close(&w, 5000), 1009);
	free(big);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(fragmented_message_is_reassembled)
{
	struct fx	 f;
	struct ws	 w;
	char		 auth[256];
	cJSON		*j;
	int		 n;

	fx_init(&f);
	open_ws(&w, f.path);
	n = snprintf(auth, sizeof(auth), "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}",
	    f.token);
	ck_assert_int_eq(ws_send_frame(&w, 0x1, 0, auth, 10), 0);
	ck_assert_int_eq(ws_send_frame(&w, 0x0, 0, auth + 10, 20), 0);
	ck_assert_int_eq(ws_send_frame(&w, 0x0, 1, auth + 30, (size_t)n - 30), 0);
	j = ws_next(&w, 5000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "type"), "ready");
	cJSON_Delete(j);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(insert_while_connected_wakes_up)
{
	struct fx	 f;
	struct ws	 w;
	double		 t0;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	expect_quiet(&w, 300);
	t0 = util_now_ms();
	fx_cmd(&f, "#live", "true");
	expect_command_del(&w, 1, ARRIVE_MS);
	ck_assert_msg(util_now_ms() - t0 < ARRIVE_MS, "the wake-up took too long");
	send_receipt(&w, 1);
	ck_assert(fx_wait_state(&f, 1, "applied", STATE_MS));
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(failed_receipt_keeps_reason)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;

	fx_init(&f);
	fx_cmd(&f, "#missing", "1");
	connect_auth(&w, &f, 0, 1);
	expect_command_del(&w, 1, ARRIVE_MS);
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"receipt\",\"seq\":1,\"status\":\"failed\","
	    "\"reason\":\"no element matches #missing\"}"), 0);
	ck_assert(fx_wait_state(&f, 1, "failed", STATE_MS));
	fx_row(&f, 1, &r);
	ck_assert(r.finished);
	ck_assert(r.has_reason);
	ck_assert_str_eq(r.reason, "no element matches #missing");
	/* The same receipt again (or a different one) is acknowledged, changes nothing. */
	send_receipt(&w, 1);
	expect_quiet(&w, 500);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "failed");
	ck_assert_str_eq(r.reason, "no element matches #missing");
	/* One audit row, by the tab, committed with the state: ids, never the reason. */
	ck_assert_int_eq(fx_audit(&f, "command.failed"), 1);
	ck_assert_int_eq(fx_audit(&f, "command.applied"), 0);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(pending_approval_blocks_later_commands)
{
	struct fx	 f;
	struct ws	 w;
	const char	*p[2];

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	fx_cmd_state(&f, f.ctx, "set_field", "#b", "2", "pending_approval", NULL);
	fx_cmd(&f, "#c", "3");
	connect_auth(&w, &f, 0, 3);
	expect_command_del(&w, 1, ARRIVE_MS);
	send_receipt(&w, 1);
	expect_quiet(&w, QUIET_MS);
	/* Approved: it goes out, then the one behind it. */
	p[0] = f.ctx;
	p[1] = f.org;
	fx_exec(&f, "UPDATE commands SET state = 'queued' WHERE ctx_id = $1::uuid"
	    " AND org_id = $2::bigint AND seq = 2", 2, p);
	expect_command_del(&w, 2, ARRIVE_MS);
	expect_command_del(&w, 3, ARRIVE_MS);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(undelivered_finished_command_is_skipped)
{
	struct fx	 f;
	struct ws	 w;

	fx_init(&f);
	fx_cmd(&f, "#a", "1");
	/* Denied before it reached a tab: never sent to one. */
	fx_cmd_state(&f, f.ctx, "set_field", "#b", "2", "dead", NULL);
	fx_cmd(&f, "#c", "3");
	connect_auth(&w, &f, 0, 3);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 3, ARRIVE_MS);
	expect_quiet(&w, 500);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(ping_pong)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"ping\"}"), 0);
	j = ws_next(&w, 3000);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(ws_str(j, "type"), "pong");
	cJSON_Delete(j);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(postgres_connection_drop_recovers)
{
	struct fx	 f;
	struct ws	 w;
	struct db	*su;
	struct db_res	*r = NULL;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	fx_cmd(&f, "#before", "1");
	expect_command_del(&w, 1, ARRIVE_MS);

	/* Cut every broker connection to Postgres (the channel's LISTEN among them). */
	su = db_open(test_env("CB_PG_SUPER_DSN"));
	ck_assert_int_eq(db_query(su, &r, "SELECT count(pg_terminate_backend(pid))"
	    " FROM pg_stat_activity WHERE usename = 'cb_app' AND pid <> pg_backend_pid()",
	    0, NULL), CB_OK);
	db_res_free(r);
	db_close(su);

	/* Inserted right away: it may land before the channel listens again. */
	fx_cmd(&f, "#after", "2");
	send_receipt(&w, 1);
	expect_command_del(&w, 2, 8000);
	ck_assert(fx_wait_state(&f, 1, "applied", 8000));
	send_receipt(&w, 2);
	ck_assert(fx_wait_state(&f, 2, "applied", 5000));
	/* And the wake-up works again. */
	fx_cmd(&f, "#later", "3");
	expect_command_del(&w, 3, ARRIVE_MS);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(worker_restart_then_resume)
{
	struct fx	 f;
	struct ws	 w;
	long long	 s;
	int		 code;

	fx_init(&f);
	for (s = 1; s <= 4; s++)
		fx_cmd(&f, "#r", "1");
	connect_auth(&w, &f, 0, 4);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 2, ARRIVE_MS);
	send_receipt(&w, 1);
	expect_command_del(&w, 3, ARRIVE_MS);
	send_receipt(&w, 2);
	expect_command_del(&w, 4, ARRIVE_MS);
	send_receipt(&w, 3);
	ck_assert(fx_wait_state(&f, 3, "applied", STATE_MS));

	test_stack_env("", "restart-worker");
	/* The old connection was told the broker was going away. */
	code = ws_wait_close(&w, 5000);
	ck_assert_msg(code == 1001, "close code %d", code);
	ws_free(&w);
	fx_cmd(&f, "#r", "5");
	fx_cmd(&f, "#r", "6");

	ck_assert_msg(ws_open_retry(&w, f.path, 15000) == 0, "worker did not come back");
	ws_free(&w);
	connect_auth(&w, &f, 3, 6);
	expect_command_del(&w, 4, ARRIVE_MS);
	expect_command_del(&w, 5, ARRIVE_MS);
	expect_quiet(&w, 500);
	send_receipt(&w, 4);
	expect_command_del(&w, 6, ARRIVE_MS);
	send_receipt(&w, 5);
	send_receipt(&w, 6);
	for (s = 4; s <= 6; s++)
		ck_assert(fx_wait_state(&f, s, "applied", STATE_MS));
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/* --------------------------------------------- receipt timeout (own worker) */

static void
short_receipt_timeout(void)
{
	test_stack_env("CB_RECEIPT_TIMEOUT_S=1", "restart-worker");
}

static void
default_receipt_timeout(void)
{
	test_stack_env("env -u CB_RECEIPT_TIMEOUT_S", "restart-worker");
}

START_TEST(receipt_timeout_resends_then_dead)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;
	double		 t0;
	cJSON		*j;
	int		 sends1 = 0;

	fx_init(&f);
	fx_cmd(&f, "#t1", "1");
	fx_cmd(&f, "#t2", "2");
	fx_cmd(&f, "#t3", "3");
	ck_assert_msg(ws_open_retry(&w, f.path, 15000) == 0, "worker did not come back");
	ws_free(&w);
	connect_auth(&w, &f, 0, 3);
	expect_command_del(&w, 1, ARRIVE_MS);
	sends1 = 1;
	expect_command_del(&w, 2, ARRIVE_MS);
	send_receipt(&w, 2);
	expect_command_del(&w, 3, ARRIVE_MS);
	send_receipt(&w, 3);

	/* Seq 1 never gets a receipt: sent again with backoff, 3 attempts in all. */
	t0 = util_now_ms();
	for (;;) {
		fx_row(&f, 1, &r);
		if (strcmp(r.state, "dead") == 0)
			break;
		ck_assert_msg(util_now_ms() - t0 < 20000, "seq 1 never ended dead");
		j = ws_next(&w, 200);
		if (j == NULL)
			continue;
		ck_assert_str_eq(ws_str(j, "type"), "command");
		ck_assert_int_eq(ws_num(j, "seq"), 1);
		sends1++;
		cJSON_Delete(j);
	}
	/* Anything still buffered for seq 1. */
	while ((j = ws_next(&w, 300)) != NULL) {
		ck_assert_int_eq(ws_num(j, "seq"), 1);
		sends1++;
		cJSON_Delete(j);
	}
	ck_assert_int_eq(sends1, 3);
	fx_row(&f, 1, &r);
	ck_assert_int_eq(r.attempts, 3);
	ck_assert(r.finished);
	ck_assert(r.has_reason);
	ck_assert_str_eq(r.reason, "no receipt after 3 attempts");
	fx_row(&f, 2, &r);
	ck_assert_str_eq(r.state, "applied");

	/* The window is free again: the queue moves on. */
	fx_cmd(&f, "#t4", "4");
	fx_cmd(&f, "#t5", "5");
	expect_command_del(&w, 4, ARRIVE_MS);
	expect_command_del(&w, 5, ARRIVE_MS);
	send_receipt(&w, 4);
	send_receipt(&w, 5);
	ck_assert(fx_wait_state(&f, 5, "applied", STATE_MS));
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/* ------------------------------------------------------ promises (guards) */

/* A command that expires `ms` from now (negative: already past); its seq. */
static long long
fx_cmd_expiring(struct fx *f, long long ms, char id[37])
{
	char		 m[24];
	const char	*p[3] = { f->ctx, f->org, m };
	struct db_res	*r = NULL;
	long long	 seq = 0;

	snprintf(m, sizeof(m), "%lld", ms);
	fx_sql(f, &r, "WITH s AS (UPDATE contexts SET last_seq = last_seq + 1"
	    " WHERE id = $1::uuid AND org_id = $2::bigint RETURNING last_seq)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state, expires_at)"
	    " SELECT $2::bigint, $1::uuid, s.last_seq, 'set_field', '#exp', '1', 'queued',"
	    " now() + make_interval(secs => $3::float8 / 1000) FROM s RETURNING id, seq", 3, p);
	ck_assert_int_eq(db_rows(r), 1);
	if (id)
		util_strlcpy(id, db_val(r, 0, 0), 37);
	ck_assert_int_eq(util_parse_ll(db_val(r, 0, 1), 1, 1LL << 40, &seq), CB_OK);
	db_res_free(r);
	return seq;
}

/* The form's agent policy with this window. */
static void
fx_policy(struct fx *f, int max_in_flight)
{
	char		 m[16];
	const char	*p[3] = { f->form, f->org, m };

	snprintf(m, sizeof(m), "%d", max_in_flight);
	fx_exec(f, "INSERT INTO agent_policies (form_id, org_id, allowed_types, max_in_flight)"
	    " VALUES ($1::uuid, $2::bigint, '{set_field}', $3::int)", 3, p);
}

/* Open and authenticate from 0, ready checked. */
static void
auth_from_zero(struct ws *w, struct fx *f)
{
	connect_auth(w, f, 0, -1);
}

START_TEST(expired_command_is_never_sent_on_connect)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;

	fx_init(&f);
	fx_cmd_expiring(&f, -1000, NULL);	/* expired before any tab came */
	fx_cmd(&f, "#live", "2");
	connect_auth(&w, &f, 0, 2);
	/* Seq 1 is skipped, never sent; seq 2 comes. */
	expect_command_del(&w, 2, ARRIVE_MS);
	expect_quiet(&w, 500);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "expired");
	ck_assert(!r.delivered);
	ck_assert(r.finished);
	ck_assert_int_eq(r.attempts, 0);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(expired_command_swept_without_any_tab)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;

	fx_init(&f);
	fx_cmd_expiring(&f, 1200, NULL);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "queued");
	/* Nobody connected: the sweep alone ends it (ticks once a second). */
	ck_assert_msg(fx_wait_state(&f, 1, "expired", 8000), "never swept to expired");
	fx_row(&f, 1, &r);
	ck_assert(r.has_reason);
	ck_assert_str_eq(r.reason, "expired before it could be sent");
	/* A tab that comes late gets nothing of it. */
	connect_auth(&w, &f, 0, 1);
	expect_quiet(&w, QUIET_MS);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(expired_while_in_flight_is_not_resent)
{
	struct fx	 f;
	struct ws	 w, w2;
	struct row	 r;

	fx_init(&f);
	fx_cmd_expiring(&f, 1500, NULL);
	fx_cmd(&f, "#next", "2");
	connect_auth(&w, &f, 0, 2);
	expect_command_del(&w, 1, ARRIVE_MS);
	expect_command_del(&w, 2, ARRIVE_MS);
	/* No receipt for 1: it expires while in flight. */
	ck_assert_msg(fx_wait_state(&f, 1, "expired", 8000), "in-flight command never expired");
	ws_drop(&w);
	ws_free(&w);
	/* A new connection from 0 resends 2 (it reached a tab), never 1. */
	connect_auth(&w2, &f, 0, 2);
	expect_command_del(&w2, 2, ARRIVE_MS);
	expect_quiet(&w2, 500);
	fx_row(&f, 1, &r);
	ck_assert_str_eq(r.state, "expired");
	ck_assert_int_eq(r.attempts, 1);
	ws_free(&w2);
	fx_free(&f);
}
END_TEST

/* Command frames (seqs) that arrive on any of n sockets within ms. */
static int
collect_commands(struct ws *w, int n, int ms, long long *seqs, int *which, int max)
{
	double	 end = util_now_ms() + ms;
	int	 got = 0, i, any;
	cJSON	*j;

	while (util_now_ms() < end) {
		any = 0;
		for (i = 0; i < n; i++) {
			if ((j = ws_next(&w[i], 50)) == NULL)
				continue;
			any = 1;
			ck_assert_str_eq(ws_str(j, "type"), "command");
			ck_assert_msg(got < max, "more command frames than expected");
			seqs[got] = ws_num(j, "seq");
			which[got] = i;
			got++;
			cJSON_Delete(j);
		}
		(void)any;
	}
	return got;
}

START_TEST(three_sockets_share_the_tabs_window)
{
	struct fx	 f;
	struct ws	 w[3];
	long long	 seqs[32];
	int		 which[32], i, got;

	fx_init(&f);
	fx_policy(&f, 3);
	for (i = 0; i < 3; i++)
		auth_from_zero(&w[i], &f);
	for (i = 0; i < 10; i++)
		fx_cmd(&f, "#w", "1");
	/* Ten queued, three sockets: at most three unreceipted frames in all. */
	got = collect_commands(w, 3, 2000, seqs, which, 32);
	ck_assert_msg(got == 3, "%d command frames in flight across 3 sockets (policy: 3)", got);
	/* One receipt frees exactly one slot, on whichever socket. */
	send_receipt(&w[which[0]], seqs[0]);
	got = collect_commands(w, 3, 1500, seqs + 3, which + 3, 29);
	ck_assert_msg(got == 1, "%d frames after one receipt (want 1)", got);
	for (i = 0; i < 3; i++)
		ws_free(&w[i]);
	fx_free(&f);
}
END_TEST

/*
 * Attempts are rounds, not sockets: three sockets of one tab carrying a
 * command without a receipt spend one attempt per round, so it is sent
 * again (on all three) before it ends dead after 3 rounds.  Runs with the
 * 1 s receipt timeout of the receipt-timeout case.
 */
START_TEST(three_sockets_one_attempt_per_round)
{
	struct fx	 f;
	struct ws	 w[3];
	struct row	 r;
	double		 t0;
	cJSON		*j;
	int		 sends[3] = { 0, 0, 0 }, i;

	fx_init(&f);
	fx_policy(&f, 3);
	ck_assert_msg(ws_open_retry(&w[0], f.path, 15000) == 0, "worker did not come back");
	ws_free(&w[0]);
	for (i = 0; i < 3; i++)
		auth_from_zero(&w[i], &f);
	fx_cmd(&f, "#round", "1");
	t0 = util_now_ms();
	for (;;) {
		fx_row(&f, 1, &r);
		if (strcmp(r.state, "dead") == 0)
			break;
		ck_assert_msg(util_now_ms() - t0 < 20000, "seq 1 never ended dead");
		for (i = 0; i < 3; i++) {
			if ((j = ws_next(&w[i], 50)) == NULL)
				continue;
			ck_assert_str_eq(ws_str(j, "type"), "command");
			ck_assert_int_eq(ws_num(j, "seq"), 1);
			sends[i]++;
			cJSON_Delete(j);
		}
	}
	for (i = 0; i < 3; i++)
		while ((j = ws_next(&w[i], 300)) != NULL) {
			ck_assert_int_eq(ws_num(j, "seq"), 1);
			sends[i]++;
			cJSON_Delete(j);
		}
	/* Every socket had it in every round: 3 rounds, 3 attempts. */
	for (i = 0; i < 3; i++)
		ck_assert_msg(sends[i] == 3, "socket %d got seq 1 %d times (want 3: one per round)",
		    i, sends[i]);
	fx_row(&f, 1, &r);
	ck_assert_int_eq(r.attempts, 3);
	ck_assert_str_eq(r.reason, "no receipt after 3 attempts");
	for (i = 0; i < 3; i++)
		ws_free(&w[i]);
	fx_free(&f);
}
END_TEST

START_TEST(policy_window_applies_to_one_socket)
{
	struct fx	 f;
	struct ws	 w;
	long long	 s;

	fx_init(&f);
	fx_policy(&f, 4);
	for (s = 1; s <= 6; s++)
		fx_cmd(&f, "#w", "1");
	connect_auth(&w, &f, 0, 6);
	for (s = 1; s <= 4; s++)
		expect_command_del(&w, s, ARRIVE_MS);
	expect_quiet(&w, QUIET_MS);
	send_receipt(&w, 1);
	expect_command_del(&w, 5, ARRIVE_MS);
	expect_quiet(&w, 300);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(reconnects_do_not_resend_forever)
{
	struct fx	 f;
	struct ws	 w;
	struct row	 r;
	int		 i;

	fx_init(&f);
	fx_cmd(&f, "#again", "1");
	/*
	 * Three connections each get it and drop it without a receipt.  Each
	 * waits until the worker has surely seen the last one close: a socket
	 * it still counts open when the next authenticates makes the next a
	 * sibling in the same round, which is the same attempt (a loaded CI
	 * machine once counted 2 here).
	 */
	for (i = 0; i < 3; i++) {
		connect_auth(&w, &f, 0, 1);
		expect_command_del(&w, 1, ARRIVE_MS);
		ws_drop(&w);
		ws_free(&w);
		test_sleep_ms(CLOSE_SEEN_MS);
	}
	fx_row(&f, 1, &r);
	ck_assert_int_eq(r.attempts, 3);
	/* The fourth gets nothing: the command is dead, with its reason. */
	connect_auth(&w, &f, 0, 1);
	expect_quiet(&w, QUIET_MS);
	ck_assert(fx_wait_state(&f, 1, "dead", STATE_MS));
	fx_row(&f, 1, &r);
	ck_assert_int_eq(r.attempts, 3);
	ck_assert(r.finished);
	ck_assert_str_eq(r.reason, "no receipt after 3 attempts");
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/* An upgrade answered 429 with Retry-After and problem+json (seen through nginx). */
static void
expect_upgrade_refused(const char *path, const char *const *extra)
{
	struct http_resp	 resp;
	const char		*hdrs[8];
	int			 n = 0;

	hdrs[n++] = "Connection: Upgrade";
	hdrs[n++] = "Upgrade: websocket";
	hdrs[n++] = "Sec-WebSocket-Version: 13";
	hdrs[n++] = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
	hdrs[n++] = "Sec-WebSocket-Protocol: cb.tab.v1";
	while (extra != NULL && *extra != NULL && n < 7)
		hdrs[n++] = *extra++;
	hdrs[n] = NULL;
	memset(&resp, 0, sizeof(resp));
	ck_assert_int_eq(http_do("GET", path, hdrs, NULL, 0, &resp), 0);
	http_expect_problem(&resp, 429, "/problems/rate-limited");
	ck_assert_ptr_nonnull(http_header(&resp, "retry-after"));
	http_free(&resp);
}

START_TEST(per_context_cap_refuses_more_sockets)
{
	struct fx	 f;
	struct ws	 w[4], extra;
	cJSON		*j;
	long long	 s;
	int		 i, got = 0;

	fx_init(&f);
	for (i = 0; i < 4; i++)
		auth_from_zero(&w[i], &f);
	/* The fifth (CB_WS_MAX_PER_CTX = 4) is refused at the upgrade. */
	ck_assert_int_ne(ws_open(&extra, f.path, NULL), 0);
	ck_assert_int_eq(extra.http_status, 429);
	ws_free(&extra);
	expect_upgrade_refused(f.path, NULL);
	/* The four keep working: pings answered, a command delivered. */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(ws_send_text(&w[i], "{\"type\":\"ping\"}"), 0);
		j = ws_next_type(&w[i], "pong", 3000);
		ck_assert_ptr_nonnull(j);
		cJSON_Delete(j);
	}
	s = fx_cmd(&f, "#cap", "1");
	for (i = 0; i < 4; i++)
		if ((j = ws_next(&w[i], i == 0 ? ARRIVE_MS : 200)) != NULL) {
			ck_assert_int_eq(ws_num(j, "seq"), s);
			got++;
			cJSON_Delete(j);
		}
	ck_assert_int_ge(got, 1);
	/* Another context is not affected. */
	{
		struct fx	 g;
		struct ws	 o;

		fx_init(&g);
		auth_from_zero(&o, &g);
		ws_free(&o);
		fx_free(&g);
	}
	/* One closes: there is room again. */
	ws_close(&w[3], 1000);
	ws_free(&w[3]);
	ck_assert_msg(ws_open_retry(&extra, f.path, 5000) == 0, "no room after a close");
	ws_free(&extra);
	for (i = 0; i < 3; i++)
		ws_free(&w[i]);
	fx_free(&f);
}
END_TEST

/* ----------------------------------------- per-address cap (own worker) */

static void
small_addr_cap(void)
{
	test_stack_env("CB_WS_MAX_PER_ADDR=3", "restart-worker");
}

static void
default_addr_cap(void)
{
	test_stack_env("env -u CB_WS_MAX_PER_ADDR", "restart-worker");
}

START_TEST(per_address_cap_refuses_more_sockets)
{
	struct fx	 f[3];
	struct ws	 w[3], extra;
	const char	*spoof[] = { "X-Forwarded-For: 198.51.100.7", NULL };
	cJSON		*j;
	int		 i;

	for (i = 0; i < 3; i++)
		fx_init(&f[i]);
	ck_assert_msg(ws_open_retry(&extra, f[0].path, 15000) == 0, "worker did not come back");
	ws_close(&extra, 1000);
	ws_free(&extra);
	/* Three contexts, one address (everything reaches nginx from loopback). */
	for (i = 0; i < 3; i++) {
		if (i == 0)
			test_sleep_ms(300);	/* the probe above is gone */
		auth_from_zero(&w[i], &f[i]);
	}
	ck_assert_int_ne(ws_open(&extra, f[0].path, NULL), 0);
	ck_assert_int_eq(extra.http_status, 429);
	ws_free(&extra);
	/* A forged X-Forwarded-For changes nothing: nginx sets its own. */
	expect_upgrade_refused(f[1].path, spoof);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(ws_send_text(&w[i], "{\"type\":\"ping\"}"), 0);
		j = ws_next_type(&w[i], "pong", 3000);
		ck_assert_ptr_nonnull(j);
		cJSON_Delete(j);
	}
	fx_cmd(&f[2], "#addr", "1");
	expect_command_del(&w[2], 1, ARRIVE_MS);
	for (i = 0; i < 3; i++) {
		ws_free(&w[i]);
		fx_free(&f[i]);
	}
}
END_TEST

/* ------------------------------------------- wake-ups (own worker) */

static void
slow_sweep(void)
{
	test_stack_env("CB_CHANNEL_SWEEP_MS=20000", "restart-worker");
}

static void
default_sweep(void)
{
	test_stack_env("env -u CB_CHANNEL_SWEEP_MS", "restart-worker");
}

static void
publish_wake(const char *ctx)
{
	struct kv	*kv = testdb_kv_open();
	const char	*argv[3] = { "PUBLISH", "cb:cmd", ctx };
	struct kv_reply	*r = NULL;

	ck_assert_int_eq(kv_cmd(kv, &r, 3, argv, NULL), CB_OK);
	ck_assert_int_ge(kv_reply_int(r), 1);	/* the channel is subscribed */
	kv_reply_free(r);
	kv_close(kv);
}

START_TEST(no_notify_trigger_on_commands)
{
	struct fx	 f;
	struct db_res	*r = NULL;

	fx_init(&f);
	/* Any NOTIFY (the erasure index's AFTER DELETE trigger is no wake-up). */
	fx_sql(&f, &r, "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
	    " JOIN pg_proc p ON p.oid = t.tgfoid WHERE c.relname = 'commands'"
	    " AND NOT t.tgisinternal AND p.prosrc ~* 'notify'", 0, NULL);
	ck_assert_str_eq(db_val(r, 0, 0), "0");
	db_res_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(redis_wakeup_delivers_at_once)
{
	struct fx	 f;
	struct ws	 w;
	double		 t0;

	fx_init(&f);
	ck_assert_msg(ws_open_retry(&w, f.path, 15000) == 0, "worker did not come back");
	ws_free(&w);
	/*
	 * The round the auth makes reads the tab's commands after it answers
	 * ready: one inserted now would race it.  Command 1 is there before:
	 * once it arrives, that round has read, and nothing else looks until
	 * a wake-up, a receipt or the sweep (1 of the window's 2 is taken).
	 */
	fx_cmd(&f, "#wake", "1");
	connect_auth(&w, &f, 0, 1);
	expect_command_del(&w, 1, 5000);
	/*
	 * The worker started moments ago and sweeps first after 20 s: no
	 * trigger, no sweep, nothing wakes the channel for this insert...
	 */
	fx_cmd(&f, "#wake", "2");
	expect_quiet(&w, QUIET_MS);
	/* ...until the PUBLISH the command route makes after its commit. */
	t0 = util_now_ms();
	publish_wake(f.ctx);
	/* At once: well before this worker's first sweep, 20 s after its start. */
	expect_command_del(&w, 2, 5000);
	ck_assert_msg(util_now_ms() - t0 < 5000, "the Redis wake-up took too long");
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(lost_wakeup_found_by_sweep)
{
	struct fx	 f;
	struct ws	 w;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	/* Inserted with no wake-up at all: the sweep (250 ms) finds it. */
	fx_cmd(&f, "#nowake", "1");
	expect_command_del(&w, 1, 2000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(redis_paused_sweep_delivers)
{
	struct fx	 f;
	struct ws	 w;
	cJSON		*j1, *j2;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	test_stack_env("", "pause-redis");
	fx_cmd(&f, "#paused", "1");
	fx_cmd(&f, "#paused", "2");
	j1 = ws_next(&w, 3000);
	j2 = ws_next(&w, ARRIVE_MS);
	/* Thaw before asserting: the suites after this one need Redis. */
	test_stack_env("", "resume-redis");
	ck_assert_msg(j1 != NULL && j2 != NULL, "the sweep did not deliver with Redis paused");
	ck_assert_int_eq(ws_num(j1, "seq"), 1);
	ck_assert_int_eq(ws_num(j2, "seq"), 2);
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	send_receipt(&w, 1);
	ck_assert(fx_wait_state(&f, 1, "applied", 5000));
	ws_free(&w);
	fx_free(&f);
}
END_TEST

START_TEST(a_locked_tab_does_not_stall_others)
{
	struct fx	 f, g;
	struct ws	 wf, wg;
	struct db	*lk;
	struct db_res	*r = NULL;
	const char	*p[2];
	long long	 s;
	double		 t0;

	fx_init(&f);
	fx_init(&g);
	fx_cmd(&f, "#locked", "1");
	/* Another session holds tab f's queued command locked... */
	lk = testdb_open();
	ck_assert_int_eq(db_begin(lk), CB_OK);
	p[0] = f.ctx;
	p[1] = f.org;
	ck_assert_int_eq(db_query(lk, &r, "SELECT id FROM commands WHERE ctx_id = $1::uuid"
	    " AND org_id = $2::bigint FOR UPDATE", 2, p), CB_OK);
	ck_assert_int_eq(db_rows(r), 1);
	db_res_free(r);
	connect_auth(&wf, &f, 0, 1);
	connect_auth(&wg, &g, 0, 0);
	/* ...while tab g receives and receipts, as if nothing were locked. */
	for (s = 1; s <= 3; s++) {
		t0 = util_now_ms();
		fx_cmd(&g, "#free", "1");
		expect_command_del(&wg, s, ARRIVE_MS);
		ck_assert_msg(util_now_ms() - t0 < ARRIVE_MS, "tab g waited on tab f's lock");
		send_receipt(&wg, s);
		ck_assert(fx_wait_state(&g, s, "applied", STATE_MS));
	}
	expect_quiet(&wf, 300);
	/* The lock goes: tab f gets its command. */
	ck_assert_int_eq(db_rollback(lk), CB_OK);
	db_close(lk);
	expect_command_del(&wf, 1, 3000);
	ck_assert(fx_wait_state(&f, 1, "delivered", STATE_MS));
	/* A receipt for a row held locked waits; the others' do not. */
	lk = testdb_open();
	ck_assert_int_eq(db_begin(lk), CB_OK);
	ck_assert_int_eq(db_query(lk, &r, "SELECT id FROM commands WHERE ctx_id = $1::uuid"
	    " AND org_id = $2::bigint FOR UPDATE", 2, p), CB_OK);
	db_res_free(r);
	send_receipt(&wf, 1);
	t0 = util_now_ms();
	fx_cmd(&g, "#free", "1");
	expect_command_del(&wg, 4, ARRIVE_MS);
	send_receipt(&wg, 4);
	ck_assert(fx_wait_state(&g, 4, "applied", STATE_MS));
	ck_assert_msg(util_now_ms() - t0 < 3000, "tab g waited on tab f's lock");
	ck_assert_int_eq(db_rollback(lk), CB_OK);
	db_close(lk);
	ck_assert_msg(fx_wait_state(&f, 1, "applied", STATE_MS), "the held receipt was never stored");
	ws_free(&wf);
	ws_free(&wg);
	fx_free(&f);
	fx_free(&g);
}
END_TEST

/*
 * A statement that waits does not stop the loop: while another session
 * holds contexts and commands locked (every statement of the channel
 * waits for its lock_timeout, then fails), the tab's pings are answered
 * at once; a command committed by that session when it lets go arrives.
 * The worker of this case waits 3 s on a lock (CB_CHANNEL_LOCK_TIMEOUT_MS,
 * tiny_expire_batch): a loop that waited with its statement would hold a
 * pong for up to that long, far beyond any slowness of a loaded machine.
 */
START_TEST(a_waiting_statement_does_not_freeze_the_loop)
{
	struct fx	 f;
	struct ws	 w;
	struct db	*lk;
	struct db_res	*r = NULL;
	const char	*p[2];
	double		 t0, worst = 0, ms;
	cJSON		*j;
	int		 i;

	fx_init(&f);
	connect_auth(&w, &f, 0, 0);
	lk = testdb_open();
	ck_assert_int_eq(db_begin(lk), CB_OK);
	ck_assert_int_eq(db_exec(lk, "LOCK TABLE contexts, commands IN ACCESS EXCLUSIVE MODE",
	    0, NULL), CB_OK);
	/* The sweep (every 250 ms) and the expiry sweep now wait on the lock. */
	for (i = 0; i < 15; i++) {
		usleep(100 * 1000);
		t0 = util_now_ms();
		ck_assert_int_eq(ws_send_text(&w, "{\"type\":\"ping\"}"), 0);
		j = ws_next(&w, 3000);
		ms = util_now_ms() - t0;
		ck_assert_msg(j != NULL, "no pong while Postgres waited on a lock");
		ck_assert_str_eq(ws_str(j, "type"), "pong");
		cJSON_Delete(j);
		if (ms > worst)
			worst = ms;
	}
	fprintf(stderr, "channel: slowest pong during a 1.5 s table lock: %.0f ms\n", worst);
	ck_assert_msg(worst < 1000, "a pong took %.0f ms while a statement waited", worst);
	/*
	 * The setting holds: a statement of the channel's session (the sweep,
	 * or the expiry sweep queued before it on that one session) has waited
	 * on the lock for over a second, past the 200 ms default.
	 */
	ck_assert_int_eq(db_query(lk, &r, "SELECT count(*) FILTER (WHERE (query LIKE '%last_seq%'"
	    " OR query LIKE 'WITH x AS (SELECT id FROM commands%')"
	    " AND clock_timestamp() - query_start > interval '1 second'), string_agg(wait_event_type || ' '"
	    " || (clock_timestamp() - query_start)::text || ' ' || left(query, 80), ' | ')"
	    " FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active'", 0, NULL), CB_OK);
	ck_assert_msg(strcmp(db_val(r, 0, 0), "0") != 0,
	    "no channel statement waited over 1 s (CB_CHANNEL_LOCK_TIMEOUT_MS ignored?): %s", db_val(r, 0, 1));
	db_res_free(r);
	p[0] = f.ctx;
	p[1] = f.org;
	ck_assert_int_eq(db_exec(lk, "WITH s AS (UPDATE contexts SET last_seq = last_seq + 1"
	    " WHERE id = $1::uuid AND org_id = $2::bigint RETURNING last_seq)"
	    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value)"
	    " SELECT $2::bigint, $1::uuid, s.last_seq, 'set_field', '#after', '1' FROM s",
	    2, p), CB_OK);
	ck_assert_int_eq(db_commit(lk), CB_OK);
	db_close(lk);
	/* No wake-up was published: the sweep finds it once the lock is gone. */
	expect_command_del(&w, 1, 3000);
	ws_free(&w);
	fx_free(&f);
}
END_TEST

/* --------------------------------------------------- expiry batch (own worker) */

static void
tiny_expire_batch(void)
{
	test_stack_env("CB_CHANNEL_EXPIRE_BATCH=2 CB_CHANNEL_LOCK_TIMEOUT_MS=3000", "restart-worker");
}

static void
default_expire_batch(void)
{
	test_stack_env("env -u CB_CHANNEL_EXPIRE_BATCH -u CB_CHANNEL_LOCK_TIMEOUT_MS", "restart-worker");
}

static long long
fx_count_state(struct fx *f, const char *state)
{
	const char	*p[2] = { f->ctx, state };
	struct db_res	*r = NULL;
	long long	 n = -1;

	fx_sql(f, &r, "SELECT count(*) FROM commands WHERE ctx_id = $1::uuid AND state = $2",
	    2, p);
	ck_assert_int_eq(util_parse_ll(db_val(r, 0, 0), 0, 1LL << 40, &n), CB_OK);
	db_res_free(r);
	return n;
}

/*
 * CB_CHANNEL_EXPIRE_BATCH rows a statement, CHAN_EXPIRE_ROUNDS (5)
 * statements a tick (one a second): with a batch of 2, 40 expired commands
 * take several ticks, never all in one, and all of them end expired.
 */
START_TEST(expiry_sweep_keeps_to_its_batch)
{
	struct fx	 f;
	struct ws	 w;
	long long	 n, i;
	double		 t0;

	ck_assert_msg(ws_open_retry(&w, "/ws/ctx/00000000-0000-0000-0000-000000000000", 15000) == 0,
	    "worker did not come back");
	ws_free(&w);
	fx_init(&f);
	for (i = 0; i < 40; i++)
		fx_cmd_expiring(&f, -1000, NULL);
	t0 = util_now_ms();
	while ((n = fx_count_state(&f, "expired")) == 0 && util_now_ms() - t0 < 5000)
		usleep(20 * 1000);
	ck_assert_msg(n > 0, "the expiry sweep never ran");
	/* The first tick's statements: at most 5 batches of 2. */
	usleep(300 * 1000);
	n = fx_count_state(&f, "expired");
	ck_assert_msg(n <= 10, "%lld expired in one tick with a batch of 2", n);
	t0 = util_now_ms();
	while (fx_count_state(&f, "expired") < 40 && util_now_ms() - t0 < 10000)
		usleep(100 * 1000);
	ck_assert_int_eq(fx_count_state(&f, "expired"), 40);
	fx_free(&f);
}
END_TEST

/* --------------------------------------------------------- throughput */

#define TP_TABS		50
#define TP_PER_TAB	40

/*
 * Many tabs at once: every command of every tab arrives, in order, each
 * receipted at once; prints the rate (a figure for the report, not a
 * benchmark: the sanitizer build, a shared machine).
 */
START_TEST(many_tabs_all_delivered_in_order)
{
	struct fx	 f;
	struct ws	*w = calloc(TP_TABS, sizeof(*w));
	char		(*ctx)[37] = calloc(TP_TABS, 37);
	char		(*tok)[TAB_TOKEN_LEN + 1] = calloc(TP_TABS, TAB_TOKEN_LEN + 1);
	long long	 next[TP_TABS];
	char		 n[16], path[96];
	const char	*p[3];
	double		 t0, ms;
	cJSON		*j;
	int		 i, total = 0;

	ck_assert(w != NULL && ctx != NULL && tok != NULL);
	fx_init(&f);
	for (i = 0; i < TP_TABS; i++) {
		fx_context(&f, ctx[i], tok[i]);
		snprintf(path, sizeof(path), "/ws/ctx/%s", ctx[i]);
		ck_assert_int_eq(ws_open(&w[i], path, NULL), 0);
		ck_assert_int_eq(ws_sendf(&w[i], "{\"type\":\"auth\",\"token\":\"%s\",\"last_seq\":0}",
		    tok[i]), 0);
		j = ws_next_type(&w[i], "ready", 5000);
		ck_assert_ptr_nonnull(j);
		cJSON_Delete(j);
		next[i] = 1;
	}
	snprintf(n, sizeof(n), "%d", TP_PER_TAB);
	t0 = util_now_ms();
	for (i = 0; i < TP_TABS; i++) {
		p[0] = ctx[i];
		p[1] = f.org;
		p[2] = n;
		fx_exec(&f, "WITH s AS (UPDATE contexts SET last_seq = last_seq + $3::int"
		    " WHERE id = $1::uuid AND org_id = $2::bigint RETURNING last_seq)"
		    " INSERT INTO commands (org_id, ctx_id, seq, type, selector, value, state)"
		    " SELECT $2::bigint, $1::uuid, s.last_seq - $3::int + g, 'set_field', '#f', '1',"
		    " 'queued' FROM s, generate_series(1, $3::int) g", 3, p);
	}
	while (total < TP_TABS * TP_PER_TAB) {
		ck_assert_msg(util_now_ms() - t0 < 90000, "only %d of %d commands in 90 s", total,
		    TP_TABS * TP_PER_TAB);
		for (i = 0; i < TP_TABS; i++) {
			if ((j = ws_next(&w[i], 0)) == NULL)
				continue;
			ck_assert_str_eq(ws_str(j, "type"), "command");
			ck_assert_int_eq(ws_num(j, "seq"), next[i]);
			send_receipt(&w[i], next[i]);
			next[i]++;
			total++;
			cJSON_Delete(j);
		}
	}
	ms = util_now_ms() - t0;
	fprintf(stderr, "channel throughput: %d commands to %d tabs (window 2) in %.0f ms:"
	    " %.0f commands/s\n", total, TP_TABS, ms, total * 1000.0 / (ms > 1 ? ms : 1));
	for (i = 0; i < TP_TABS; i++)
		ws_free(&w[i]);
	free(w);
	free(ctx);
	free(tok);
	fx_free(&f);
}
END_TEST

static Suite *
channel_suite(void)
{
	Suite	*s = suite_create("channel");
	TCase	*tc = tcase_create("through-nginx");
	TCase	*tr = tcase_create("restarts");
	TCase	*tt = tcase_create("receipt-timeout");
	TCase	*tg = tcase_create("guards");
	TCase	*ta = tcase_create("per-address-cap");
	TCase	*tw = tcase_create("wake-ups");
	TCase	*tp = tcase_create("throughput");
	TCase	*te = tcase_create("expiry-batch");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, bad_paths_refused_at_upgrade, 0, (int)CU_NELEM(path_cases));
	tcase_add_test(tc, delivers_in_order_and_applies);
	tcase_add_test(tc, window_of_two);
	tcase_add_test(tc, resume_after_abrupt_drop);
	tcase_add_test(tc, position_ahead_is_resync);
	tcase_add_test(tc, gap_is_resync);
	tcase_add_test(tc, gap_while_connected_is_resync);
	tcase_add_test(tc, wrong_token_unauthorized);
	tcase_add_test(tc, other_context_token_unauthorized);
	tcase_add_test(tc, no_auth_is_auth_timeout);
	tcase_add_loop_test(tc, malformed_first_frame_is_bad_message, 0, (int)CU_NELEM(bad_first));
	tcase_add_test(tc, binary_first_frame_is_bad_message);
	tcase_add_test(tc, bad_frame_after_auth_only_errors);
	tcase_add_test(tc, receipt_sent_again_after_ready);
	tcase_add_loop_test(tc, oversized_message_closes_1009, 0, 3);
	tcase_add_test(tc, fragmented_message_is_reassembled);
	tcase_add_test(tc, insert_while_connected_wakes_up);
	tcase_add_test(tc, failed_receipt_keeps_reason);
	tcase_add_test(tc, pending_approval_blocks_later_commands);
	tcase_add_test(tc, undelivered_finished_command_is_skipped);
	tcase_add_test(tc, ping_pong);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tr, 90);
	tcase_add_test(tr, postgres_connection_drop_recovers);
	tcase_add_test(tr, worker_restart_then_resume);
	suite_add_tcase(s, tr);

	/* Its own worker, started with a 1 s receipt timeout, restored after. */
	tcase_set_timeout(tt, 90);
	tcase_add_unchecked_fixture(tt, short_receipt_timeout, default_receipt_timeout);
	tcase_add_test(tt, receipt_timeout_resends_then_dead);
	tcase_add_test(tt, three_sockets_one_attempt_per_round);
	suite_add_tcase(s, tt);

	tcase_set_timeout(tg, 60);
	tcase_add_test(tg, expired_command_is_never_sent_on_connect);
	tcase_add_test(tg, expired_command_swept_without_any_tab);
	tcase_add_test(tg, expired_while_in_flight_is_not_resent);
	tcase_add_test(tg, three_sockets_share_the_tabs_window);
	tcase_add_test(tg, policy_window_applies_to_one_socket);
	tcase_add_test(tg, reconnects_do_not_resend_forever);
	tcase_add_test(tg, per_context_cap_refuses_more_sockets);
	tcase_add_test(tg, lost_wakeup_found_by_sweep);
	tcase_add_test(tg, redis_paused_sweep_delivers);
	tcase_add_test(tg, a_locked_tab_does_not_stall_others);
	suite_add_tcase(s, tg);

	/* Its own worker, with a per-address cap of 3, restored after. */
	tcase_set_timeout(ta, 90);
	tcase_add_unchecked_fixture(ta, small_addr_cap, default_addr_cap);
	tcase_add_test(ta, per_address_cap_refuses_more_sockets);
	suite_add_tcase(s, ta);

	/* Its own worker, first sweeping 20 s after it starts: wake-ups alone. */
	tcase_set_timeout(tw, 90);
	tcase_add_unchecked_fixture(tw, slow_sweep, default_sweep);
	tcase_add_test(tw, redis_wakeup_delivers_at_once);
	tcase_add_test(tw, no_notify_trigger_on_commands);
	suite_add_tcase(s, tw);

	/* Its own worker, expiring 2 rows a statement and waiting 3 s on a lock. */
	tcase_set_timeout(te, 90);
	tcase_add_unchecked_fixture(te, tiny_expire_batch, default_expire_batch);
	tcase_add_test(te, expiry_sweep_keeps_to_its_batch);
	tcase_add_test(te, a_waiting_statement_does_not_freeze_the_loop);
	suite_add_tcase(s, te);

	tcase_set_timeout(tp, 120);
	tcase_add_test(tp, many_tabs_all_delivered_in_order);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return cu_run(channel_suite());
}
