/*
 * test_routespec: routes.tab and the responders agree.  Every responder
 * built from a cgi/ file prints its route descriptors (`--routes`); the table
 * must list exactly those routes, under that binary, with the same body cap
 * and rate class (tests/support/routespec.h; tests/unit/test_routespec.c
 * shows the comparison failing on each kind of disagreement).  Every route
 * under /api/ declares who may call it, but the public ones listed here,
 * and every admin route a person's roles.  The route generator must read
 * the table as the responders do (--spec).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/check_util.h"
#include "../support/http.h"
#include "../support/routespec.h"

#define RS_OUT	(256u * 1024u)
#define RS_MAX_BINS	64

/* Every responder built from a cgi/ file, with what its --routes printed. */
static size_t
load_bins(struct routespec_bin *bins, char **outs)
{
	const char		*repo = test_env("CB_REPO"), *build = test_env("CB_BUILD");
	char			 path[512], cmd[1024];
	struct dirent		*de;
	size_t			 n = 0, len;
	DIR			*d;
	int			 rc;

	snprintf(path, sizeof(path), "%s/cgi", repo);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 3 || strcmp(de->d_name + len - 2, ".c") != 0)
			continue;
		ck_assert_uint_lt(n, RS_MAX_BINS);
		outs[n] = malloc(RS_OUT);
		de->d_name[len - 2] = '\0';
		snprintf(cmd, sizeof(cmd), "'%s/bin/%s' --routes 2>/dev/null", build, de->d_name);
		rc = test_run(cmd, outs[n], RS_OUT);
		ck_assert_msg(rc == 0, "%s --routes exited %d", de->d_name, rc);
		ck_assert_msg(outs[n][0] != '\0', "%s --routes printed nothing", de->d_name);
		bins[n].binary = strdup(de->d_name);
		bins[n].printed = outs[n];
		n++;
	}
	closedir(d);
	ck_assert_uint_ge(n, 5);
	return n;
}

static void
free_bins(struct routespec_bin *bins, char **outs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free((char *)(uintptr_t)bins[i].binary);
		free(outs[i]);
	}
}

START_TEST(test_table_matches_descriptors)
{
	const char		*repo = test_env("CB_REPO");
	struct routespec_bin	 bins[RS_MAX_BINS];
	char			 path[512], *table, *outs[RS_MAX_BINS];
	struct buf		 rep;
	size_t			 n;
	int			 bad;

	snprintf(path, sizeof(path), "%s/routes.tab", repo);
	table = cu_slurp(path);
	n = load_bins(bins, outs);
	buf_init(&rep, 1u << 20);
	bad = routespec_compare(table, bins, n, &rep);
	ck_assert_msg(bad == 0, "routes.tab and the descriptors disagree (%d):\n%s", bad,
	    buf_cstr(&rep));
	buf_free(&rep);
	free_bins(bins, outs, n);
	free(table);
}
END_TEST

/*
 * The routes under /api/ that anyone may call, on purpose: a route added
 * without declaring who may call it (.auth) fails here until it is
 * authenticated or listed.
 */
static const char *const public_routes[] = {
	"GET /api/health",
	"GET /api/health/{component}",
	"POST /api/v1/contexts",		/* a tab opens its context from a published form */
	"POST /api/v1/auth/login",		/* the credential is in the body */
	"POST /api/v1/auth/refresh",
	"POST /api/v1/auth/logout",
	"POST /api/v1/slack/interactions",	/* Slack's v0 signature authenticates it */
	NULL,
};

/* Who may call each route is declared: admin routes by a person's roles. */
START_TEST(test_routes_declare_auth)
{
	struct routespec_bin	 bins[RS_MAX_BINS];
	char			*outs[RS_MAX_BINS];
	struct buf		 rep;
	size_t			 n = load_bins(bins, outs), i;
	const char		*p;
	int			 bad, admin = 0;

	buf_init(&rep, 1u << 20);
	bad = routespec_check_auth(bins, n, public_routes, &rep);
	ck_assert_msg(bad == 0, "routes without the authentication they need (%d):\n%s", bad,
	    buf_cstr(&rep));
	/* The admin surface is there to be checked at all. */
	for (i = 0; i < n; i++)
		for (p = outs[i]; (p = strstr(p, " /api/v1/admin/")) != NULL; p++)
			admin++;
	ck_assert_int_ge(admin, 20);
	buf_free(&rep);
	free_bins(bins, outs, n);
}
END_TEST

/* The generator reads the same table: its --spec equals the routes' lines. */
START_TEST(test_generator_reads_the_same_table)
{
	const char	*repo = test_env("CB_REPO");
	char		 cmd[1024], *out = malloc(RS_OUT), *table, path[512];
	char		*line, *save = NULL;
	int		 lines = 0;

	snprintf(cmd, sizeof(cmd), "'%s/scripts/gen-nginx-routes.sh' --spec '%s/routes.tab'",
	    repo, repo);
	ck_assert_int_eq(test_run(cmd, out, RS_OUT), 0);
	snprintf(path, sizeof(path), "%s/routes.tab", repo);
	table = cu_slurp(path);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char	 m[16], p[256], c[32];
		long	 b;

		ck_assert_msg(sscanf(line, "%15s %255s %ld %31s", m, p, &b, c) == 4,
		    "bad --spec line: %s", line);
		ck_assert_msg(strstr(table, p) != NULL, "%s not in routes.tab", p);
		lines++;
	}
	ck_assert_int_ge(lines, 20);
	free(table);
	free(out);
}
END_TEST

/* A table in the old 5-column format is refused, naming the column. */
START_TEST(test_generator_refuses_missing_class)
{
	const char	*repo = test_env("CB_REPO"), *state = test_env("CB_STATE");
	char		 cmd[1024], out[4096], path[512];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/routespec-5col.tab", state);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("GET /api/v1/commands commands 4 0\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s/scripts/gen-nginx-routes.sh' --check '%s' 2>&1", repo, path);
	ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "rate_class") != NULL, "no mention of rate_class: %s", out);
	f = fopen(path, "w");
	fputs("GET /api/v1/commands commands 4 0 bulk\n", f);
	fclose(f);
	ck_assert_int_ne(test_run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "unknown rate_class \"bulk\"") != NULL, "%s", out);
	remove(path);
}
END_TEST

static Suite *
routespec_suite(void)
{
	Suite	*s = suite_create("routespec");
	TCase	*tc = tcase_create("agreement");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_table_matches_descriptors);
	tcase_add_test(tc, test_routes_declare_auth);
	tcase_add_test(tc, test_generator_reads_the_same_table);
	tcase_add_test(tc, test_generator_refuses_missing_class);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cu_run(routespec_suite());
}
