/*
 * test_metrics: the shared-memory counters and the exposition writer.
 * A child's counts outlive the child (its slot keeps them, and the child
 * respawned into it adds to them); a slot's gauges start at zero for each
 * new child; a segment whose master is gone is not read, and the next
 * master of that service removes it.  The text is the Prometheus format:
 * HELP and TYPE once per family before its samples, label values escaped,
 * histogram buckets cumulative and ending in +Inf equal to _count, _sum in
 * seconds, statuses without a series of their own under their class.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/check_util.h"
#include "errs.h"
#include "metrics.h"
#include "util.h"

static char	 dir[64];

static void
mkdir_tmp(void)
{
	util_strlcpy(dir, "/tmp/cb-metrics-XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const struct metrics_route routes[] = {
	{ "GET", "/a/{id}" },
	{ "POST", "/a/{id}/submit" },
};

static void
open_svc(const char *svc, unsigned nslots)
{
	char	 err[256] = "";

	ck_assert_msg(metrics_open(dir, svc, nslots, routes, 2, err, sizeof(err)) == CB_OK,
	    "%s", err);
}

/* Run fn in a child process that took slot i, and wait for it. */
static void
in_child(unsigned i, void (*fn)(void))
{
	pid_t	 pid;
	int	 st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		metrics_enter(i);
		fn();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static char *
scrape(size_t *nseg)
{
	struct metrics_view	*v = metrics_collect(dir);
	struct buf		 b;
	char			*s;

	buf_init(&b, 1u << 22);
	metrics_expose(&b, v);
	if (nseg)
		*nseg = metrics_view_segments(v);
	metrics_view_free(v);
	s = util_strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void
expect_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
		p += n;
	}
	ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

static void
work_a(void)
{
	metrics_request(0, 200, 0.004);
	metrics_request(0, 200, 0.3);
	metrics_request(0, 418, 20);
	metrics_add(MF_WS_OPEN, 0, 0, 1);
	metrics_add(MF_DELIVERIES, MS_SALESFORCE, MO_DONE, 5);
}

static void
work_b(void)
{
	metrics_request(1, 503, 0.05);
	metrics_add(MF_DELIVERIES, MS_SALESFORCE, MO_DONE, 2);
	metrics_add(MF_DEAD_LETTERS, MS_WEBHOOK, 0, 1);
}

START_TEST(test_dead_children_keep_their_counts_and_gauges_restart)
{
	char	*t;
	size_t	 nseg;

	mkdir_tmp();
	open_svc("svc", 2);
	in_child(0, work_a);
	/* The same slot again, as the supervisor respawns a dead child. */
	in_child(0, work_b);
	in_child(1, work_b);
	t = scrape(&nseg);
	ck_assert_uint_eq(nseg, 1);
	expect_line(t, "cb_process_starts_total{service=\"svc\"} 3");
	expect_line(t, "cb_http_requests_total{service=\"svc\",method=\"GET\",route=\"/a/{id}\","
	    "status=\"200\"} 2");
	/* 418 has no series of its own: its class still matches status=~"4..". */
	expect_line(t, "cb_http_requests_total{service=\"svc\",method=\"GET\",route=\"/a/{id}\","
	    "status=\"4xx\"} 1");
	expect_line(t, "cb_http_requests_total{service=\"svc\",method=\"POST\","
	    "route=\"/a/{id}/submit\",status=\"503\"} 2");
	expect_line(t, "cb_outbox_deliveries_total{sink=\"salesforce\",outcome=\"done\"} 9");
	expect_line(t, "cb_outbox_deliveries_total{sink=\"slack\",outcome=\"done\"} 0");
	expect_line(t, "cb_dead_letters_total{sink=\"webhook\"} 2");
	/* The first child's open socket died with it: the respawn starts at 0. */
	expect_line(t, "cb_ws_connections 0");
	free(t);
	metrics_close();
	rm_tmp();
}
END_TEST

static void
work_ws(void)
{
	metrics_add(MF_WS_OPEN, 0, 0, 3);
	metrics_add(MF_WS_OPEN, 0, 0, -1);
	metrics_add(MF_DELIVERIES, MS_WEBHOOK, MO_RETRY, 4);
	metrics_add(MF_DELIVERIES, MS_SLACK, MO_DONE, 1);
}

static void
work_ws_closed(void)
{
	metrics_add(MF_WS_OPEN, 0, 0, -1);
}

/* What the operator console reads (GET /api/v1/admin/live): a family's sum, signed. */
START_TEST(test_a_familys_total_sums_slots_and_labels)
{
	struct metrics_view	*v;

	mkdir_tmp();
	open_svc("svc", 3);
	in_child(1, work_ws);
	in_child(2, work_ws);
	v = metrics_collect(dir);
	ck_assert_int_eq(metrics_view_total(v, MF_WS_OPEN), 4);
	ck_assert_int_eq(metrics_view_total(v, MF_DELIVERIES), 10);
	ck_assert_int_eq(metrics_view_total(v, MF_DEAD_LETTERS), 0);
	metrics_view_free(v);
	/* A slot's gauge below zero (a close counted in another slot) still sums right. */
	in_child(0, work_ws_closed);
	v = metrics_collect(dir);
	ck_assert_int_eq(metrics_view_total(v, MF_WS_OPEN), 3);
	ck_assert_int_eq(metrics_view_total(v, MF__COUNT), 0);
	metrics_view_free(v);
	metrics_close();
	rm_tmp();
}
END_TEST

START_TEST(test_histogram_buckets_are_cumulative_and_end_in_inf)
{
	char	*t;

	mkdir_tmp();
	open_svc("svc", 1);
	in_child(0, work_a);
	t = scrape(NULL);
	/* 0.004 s, 0.3 s and 20 s. */
	expect_line(t, "cb_http_request_duration_seconds_bucket{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\",le=\"0.005\"} 1");
	expect_line(t, "cb_http_request_duration_seconds_bucket{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\",le=\"0.2\"} 1");
	expect_line(t, "cb_http_request_duration_seconds_bucket{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\",le=\"0.3\"} 2");
	expect_line(t, "cb_http_request_duration_seconds_bucket{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\",le=\"10\"} 2");
	expect_line(t, "cb_http_request_duration_seconds_bucket{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\",le=\"+Inf\"} 3");
	expect_line(t, "cb_http_request_duration_seconds_sum{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\"} 20.304000");
	expect_line(t, "cb_http_request_duration_seconds_count{service=\"svc\",method=\"GET\","
	    "route=\"/a/{id}\"} 3");
	/* A route with no request has no histogram at all. */
	ck_assert_ptr_null(strstr(t, "route=\"/a/{id}/submit\",le="));
	/* The other histograms are always there, empty. */
	expect_line(t, "cb_salesforce_request_duration_seconds_bucket{le=\"+Inf\"} 0");
	expect_line(t, "cb_command_apply_seconds_count 0");
	free(t);
	metrics_close();
	rm_tmp();
}
END_TEST

/*
 * Every line is a comment (# HELP name text, # TYPE name type) or a sample
 * `name{labels} value` of the family whose TYPE came last, and each family
 * has exactly one HELP and one TYPE.
 */
START_TEST(test_every_line_follows_the_text_format)
{
	char	*t, *line, *save = NULL, fam[128] = "";
	size_t	 helps = 0, types = 0;

	mkdir_tmp();
	open_svc("svc", 2);
	in_child(0, work_a);
	in_child(1, work_b);
	t = scrape(NULL);
	ck_assert(t[strlen(t) - 1] == '\n');
	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], *sp;
		size_t n;

		if (strncmp(line, "# HELP ", 7) == 0) {
			helps++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			types++;
			ck_assert_int_eq(sscanf(line + 7, "%127s", fam), 1);
			ck_assert_msg(strstr(line, " counter") || strstr(line, " gauge") ||
			    strstr(line, " histogram"), "%s", line);
			continue;
		}
		ck_assert_msg(line[0] != '#', "unknown comment: %s", line);
		n = strcspn(line, "{ ");
		ck_assert_uint_lt(n, sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		ck_assert_msg(strncmp(name, fam, strlen(fam)) == 0, "%s outside family %s", line,
		    fam);
		ck_assert_msg(line[n] == ' ' || strchr(line, '}') != NULL, "%s", line);
		sp = strrchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		ck_assert_msg(strspn(sp + 1, "0123456789.-e+") == strlen(sp + 1), "value: %s",
		    line);
	}
	ck_assert_uint_eq(helps, types);
	ck_assert_uint_ge(types, 15);
	free(t);
	metrics_close();
	rm_tmp();
}
END_TEST

START_TEST(test_label_values_are_escaped)
{
	struct buf			 b;
	const struct metrics_label	 lab[] = { { "path", "a\"b\\c\nd" }, { "k", "v" } };
	uint64_t			 bk[METRICS_NBUCKETS + 1] = { 0 };

	buf_init(&b, 4096);
	metrics_escape(&b, "x\"y\\z\n");
	ck_assert_str_eq(buf_cstr(&b), "x\\\"y\\\\z\\n");
	buf_reset(&b);
	metrics_sample(&b, "m_total", lab, 2, 7);
	ck_assert_str_eq(buf_cstr(&b), "m_total{path=\"a\\\"b\\\\c\\nd\",k=\"v\"} 7\n");
	buf_reset(&b);
	metrics_family_head(&b, "m", "gauge", "two\nlines \\ here");
	ck_assert_str_eq(buf_cstr(&b), "# HELP m two\\nlines \\\\ here\n# TYPE m gauge\n");
	buf_reset(&b);
	bk[0] = 1;
	bk[METRICS_NBUCKETS] = 2;
	metrics_histogram(&b, "h_seconds", lab + 1, 1, bk, 3, 1500000);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "h_seconds_bucket{k=\"v\",le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "h_seconds_bucket{k=\"v\",le=\"10\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "h_seconds_bucket{k=\"v\",le=\"+Inf\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "h_seconds_sum{k=\"v\"} 1.500000\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "h_seconds_count{k=\"v\"} 3\n"));
	buf_free(&b);
}
END_TEST

static void
orphan(void)
{
	open_svc("ghost", 1);
	metrics_enter(0);
	metrics_add(MF_PG_ERRORS, 0, 0, 41);
	/* Exits without metrics_close: the master was killed. */
}

START_TEST(test_a_dead_masters_segment_is_skipped_then_swept)
{
	char	*t, path[128];
	size_t	 nseg;
	pid_t	 pid;
	int	 st;

	mkdir_tmp();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		orphan();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	snprintf(path, sizeof(path), "%s/ghost.%ld.seg", dir, (long)pid);
	ck_assert_int_eq(access(path, F_OK), 0);
	t = scrape(&nseg);
	ck_assert_uint_eq(nseg, 0);
	expect_line(t, "cb_postgres_errors_total 0");
	free(t);
	/* The service's next master removes what the killed one left. */
	open_svc("ghost", 1);
	ck_assert_int_ne(access(path, F_OK), 0);
	metrics_close();
	ck_assert_int_ne(access(path, F_OK), 0);
	rm_tmp();
}
END_TEST

START_TEST(test_without_a_directory_everything_is_a_no_op)
{
	char	 err[64];

	ck_assert_int_eq(metrics_open("", "svc", 2, routes, 2, err, sizeof(err)), CB_OK);
	metrics_enter(0);
	metrics_request(0, 200, 0.1);
	metrics_add(MF_COMMANDS, MC_QUEUED, 0, 1);
	metrics_observe(MH_SF_CALL, 0.2);
	metrics_close();
	/* A directory that cannot hold the file is a configuration error. */
	ck_assert_int_eq(metrics_open("/nonexistent/cb-metrics", "svc", 2, routes, 2, err,
	    sizeof(err)), CB_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "CB_METRICS_DIR"));
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_dead_children_keep_their_counts_and_gauges_restart);
	tcase_add_test(tc, test_a_familys_total_sums_slots_and_labels);
	tcase_add_test(tc, test_histogram_buckets_are_cumulative_and_end_in_inf);
	tcase_add_test(tc, test_every_line_follows_the_text_format);
	tcase_add_test(tc, test_label_values_are_escaped);
	tcase_add_test(tc, test_a_dead_masters_segment_is_skipped_then_swept);
	tcase_add_test(tc, test_without_a_directory_everything_is_a_no_op);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(metrics_suite());
}
