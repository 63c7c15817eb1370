/*
 * The operator CLI as a newcomer meets it: `cb-admin help` lists every
 * command, each command answers `--help` with its usage (exit 0), the
 * README names every command, and `cb-admin config` prints the values in
 * effect with where each came from (environment, config file, default),
 * never a secret's value; a definition file only its caller can read (a
 * clone under /root) is read before cb-admin becomes the service user.
 * Runs against the test stack's environment
 * (stack.env is sourced by scripts/test.sh, so CB_PG_DSN and friends are
 * set as for every process).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "check_util.h"
#include "http.h"

#include <cjson/cJSON.h>

#define OUTSZ	65536

static char	out[OUTSZ];

static int
admin(const char *args)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin %s 2>&1", test_env("CB_BUILD"), args);
	return test_run(cmd, out, sizeof(out));
}

/* The repository's README: the build directory's parent holds it. */
static char *
readme(void)
{
	char	 path[1024];

	snprintf(path, sizeof(path), "%s/../README.md", test_env("CB_BUILD"));
	return cu_slurp(path);
}

/* The command names of `cb-admin help`: the lines indented by two spaces. */
static size_t
commands(char names[][32], size_t max)
{
	char	*line, *save = NULL;
	size_t	 n = 0;

	ck_assert_int_eq(admin("help"), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || n == max)
			continue;
		ck_assert_int_eq(sscanf(line + 2, "%31s", names[n]), 1);
		n++;
	}
	return n;
}

START_TEST(every_command_has_help_and_is_in_the_readme)
{
	char	 names[64][32], want[64], needle[64], *doc = readme();
	size_t	 n = commands(names, 64), i;

	ck_assert_uint_ge(n, 14);
	for (i = 0; i < n; i++) {
		char	 args[64];

		snprintf(args, sizeof(args), "%s --help", names[i]);
		ck_assert_msg(admin(args) == 0, "%s --help failed: %s", names[i], out);
		snprintf(want, sizeof(want), "usage: cb-admin %s", names[i]);
		ck_assert_msg(strstr(out, want) != NULL, "%s --help: %s", names[i], out);
		snprintf(needle, sizeof(needle), "cb-admin %s", names[i]);
		ck_assert_msg(strstr(doc, needle) != NULL ||
		    (snprintf(needle, sizeof(needle), "`%s", names[i]), strstr(doc, needle) != NULL),
		    "README.md never names cb-admin %s", names[i]);
	}
	free(doc);
	/* A wrong command is a usage error on stderr, not a silent success. */
	ck_assert_int_eq(admin("no-such-command"), 2);
	ck_assert_ptr_nonnull(strstr(out, "unknown command"));
}
END_TEST

/* The line of `name` in the config output. */
static const char *
config_line(const char *name, char *line, size_t linesz)
{
	const char	*p = out;
	size_t		 n = strlen(name), len;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == out || p[-1] == '\n') && p[n] == ' ') {
			len = strcspn(p, "\n");
			ck_assert_uint_lt(len, linesz);
			memcpy(line, p, len);
			line[len] = '\0';
			return line;
		}
		p += n;
	}
	ck_abort_msg("config does not show %s:\n%s", name, out);
	return NULL;
}

START_TEST(config_shows_effective_values_and_sources)
{
	char	 line[512], file[512], cmd[1024], v[64];
	FILE	*f;

	/* scripts/test.sh exports a short lease: the environment wins. */
	ck_assert_int_eq(admin("config"), 0);
	snprintf(v, sizeof(v), "%s", test_env("CB_OUTBOX_LEASE_S"));
	config_line("CB_OUTBOX_LEASE_S", line, sizeof(line));
	ck_assert_msg(strstr(line, v) != NULL && strstr(line, "environment") != NULL, "%s", line);
	/* Secrets: set, never shown. */
	config_line("CB_API_KEY_PEPPER", line, sizeof(line));
	ck_assert_msg(strstr(line, "(set)") != NULL, "%s", line);
	ck_assert_ptr_null(strstr(out, test_env("CB_API_KEY_PEPPER")));
	ck_assert_ptr_null(strstr(out, test_env("CB_PG_DSN")));

	/* A value from a config file says so; one from nowhere is the default. */
	snprintf(file, sizeof(file), "%s/cli-config-%d.env", test_env("CB_STATE"), (int)getpid());
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# a comment\nCB_SF_BATCH=150\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "env -u CB_SF_BATCH -u CB_WEBHOOK_BATCH CB_CONFIG_FILE=%s "
	    "%s/bin/cb-admin config 2>&1", file, test_env("CB_BUILD"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	config_line("CB_SF_BATCH", line, sizeof(line));
	ck_assert_msg(strstr(line, " 150 ") != NULL && strstr(line, file) != NULL, "%s", line);
	config_line("CB_SF_API_VERSION", line, sizeof(line));
	ck_assert_msg(getenv("CB_SF_API_VERSION") != NULL || strstr(line, "default") != NULL,
	    "%s", line);
	unlink(file);

	/* --defaults is the documentation table. */
	ck_assert_int_eq(admin("config --defaults"), 0);
	ck_assert_ptr_nonnull(strstr(out, "default="));
	ck_assert_int_eq(admin("config --bogus"), 2);
}
END_TEST

/* GET a command that does not exist with `key`: 404 when the key works, 401 when not. */
static long
key_status(const char *key)
{
	struct http_resp	 r;
	char			 a[128];
	long			 st;

	snprintf(a, sizeof(a), "Authorization: Bearer %s", key);
	ck_assert_int_eq(http_do("GET", "/api/v1/commands/00000000-0000-4000-8000-000000000000",
	    (const char *[]){ a, NULL }, NULL, 0, &r), 0);
	st = r.status;
	http_free(&r);
	return st;
}

static void
demo_key(char *key, size_t keysz)
{
	cJSON		*j, *k;

	ck_assert_int_eq(admin("demo-seed 2>/dev/null"), 0);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "demo-seed printed no JSON: %s", out);
	k = cJSON_GetObjectItemCaseSensitive(j, "api_key");
	ck_assert(cJSON_IsString(k));
	snprintf(key, keysz, "%s", k->valuestring);
	test_record_secret(key);
	cJSON_Delete(j);
}

START_TEST(demo_seed_again_revokes_the_previous_key)
{
	char	 k1[128], k2[128];

	demo_key(k1, sizeof(k1));
	ck_assert_int_eq(key_status(k1), 404);
	demo_key(k2, sizeof(k2));
	ck_assert_str_ne(k1, k2);
	ck_assert_int_eq(key_status(k2), 404);
	ck_assert_int_eq(key_status(k1), 401);
}
END_TEST

/*
 * cb-admin runs as the service user, but a file named on its command line
 * is read as the caller first: a definition in a private directory (0700,
 * root's, as a clone under /root is) still creates the form.
 */
START_TEST(definition_file_is_read_as_the_caller)
{
	char	 dir[] = "/tmp/cb-def.XXXXXX", path[128], args[512], *def, slug[48];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/docs/examples/contact-form.json", test_env("CB_REPO"));
	ck_assert_ptr_nonnull(def = cu_slurp(path));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/form.json", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(def, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0600), 0);
	free(def);
	snprintf(slug, sizeof(slug), "cli-def-%ld", (long)getpid());
	snprintf(args, sizeof(args), "org-create %s 'Private definition'", slug);
	ck_assert_msg(admin(args) == 0, "%s", out);
	snprintf(args, sizeof(args), "form-create %s 'Private' %s", slug, path);
	ck_assert_msg(admin(args) == 0, "form-create: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"form_id\""));
	/* A file that is not there is still named in the refusal. */
	snprintf(args, sizeof(args), "form-create %s 'Missing' %s/none.json", slug, dir);
	ck_assert_int_eq(admin(args), 1);
	ck_assert_ptr_nonnull(strstr(out, "none.json"));
	unlink(path);
	rmdir(dir);
}
END_TEST

/* scripts/cb runs the tools with the stack's environment (CB_STATE: this stack). */
START_TEST(cb_wrapper_finds_the_stack)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "env -u CB_PG_DSN -u CB_API_KEY_PEPPER %s/../scripts/cb admin config"
	    " 2>&1", test_env("CB_BUILD"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "CB_PG_DSN"));
	snprintf(cmd, sizeof(cmd), "env -u CB_PG_OWNER_DSN %s/../scripts/cb migrate status 2>&1",
	    test_env("CB_BUILD"));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "0001_core"));
	/* No stack: a message that says what to do, not a libpq error. */
	snprintf(cmd, sizeof(cmd), "CB_STATE=/nonexistent %s/../scripts/cb admin help 2>&1",
	    test_env("CB_BUILD"));
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "make run"));
}
END_TEST

/* One capacity run with the Salesforce settings pinned: its exit status, out holds the rest. */
static int
capacity(const char *env, const char *args)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "env CB_SF_CONTACT_TTL_S=300 CB_SF_SESSION_S=7200 "
	    "CB_SF_REFRESH_MARGIN_S=600 %s %s/bin/cb-admin capacity %s 2>&1", env,
	    test_env("CB_BUILD"), args);
	return test_run(cmd, out, sizeof(out));
}

static double
num(const cJSON *o, const char *path)
{
	char		 k[64];
	const char	*dot = strchr(path, '.');
	const cJSON	*v;

	if (dot != NULL) {
		snprintf(k, sizeof(k), "%.*s", (int)(dot - path), path);
		return num(cJSON_GetObjectItemCaseSensitive(o, k), dot + 1);
	}
	v = cJSON_GetObjectItemCaseSensitive(o, path);
	ck_assert_msg(cJSON_IsNumber(v), "no number %s in %s", path, out);
	return v->valuedouble;
}

/*
 * cb-admin capacity: the arithmetic for known inputs (docs/calls.md), the
 * batch from CB_SF_BATCH unless --batch says, and every bad input refused
 * with exit 2 and the option named.
 */
START_TEST(capacity_arithmetic_and_refusals)
{
	static const struct { const char *args, *names; } bad[] = {
		{ "--calls-per-hour 1000", "usage: capacity" },
		{ "--events-per-call 2", "usage: capacity" },
		{ "--calls-per-hour 0 --events-per-call 2", "--calls-per-hour" },
		{ "--calls-per-hour -5 --events-per-call 2", "--calls-per-hour" },
		{ "--calls-per-hour 12x --events-per-call 2", "--calls-per-hour" },
		{ "--calls-per-hour 100000001 --events-per-call 2", "--calls-per-hour" },
		{ "--calls-per-hour 10 --events-per-call 6", "distinct event types" },
		{ "--calls-per-hour 10 --events-per-call", "--events-per-call" },
		{ "--calls-per-hour 10 --events-per-call 2 --batch 201", "--batch" },
		{ "--calls-per-hour 10 --events-per-call 2 --allocation 0", "--allocation" },
		{ "--calls-per-hour 10 --events-per-call 2 --call-seconds 86401", "--call-seconds" },
		{ "--calls-per-hour 10 --calls-per-hour 20 --events-per-call 2", "given twice" },
		{ "--calls-per-hour 10 --events-per-call 2 --peak 3", "unknown option --peak" },
	};
	/*
	 * 1,000 calls an hour of 3 events, each call 700 s long (the cache of
	 * 300 s lapses twice: 3 queries a call), batches of 50 from the setting.
	 */
	static const struct { const char *path; double v; } busy[] = {
		{ "events_per_hour", 3000 }, { "events_per_second", 0.83 },
		{ "events_per_day", 72000 }, { "salesforce_per_day.batch", 50 },
		{ "salesforce_per_day.upsert_calls_unbatched", 72000 },
		{ "salesforce_per_day.upsert_calls_batched", 1440 },
		{ "salesforce_per_day.contact_lookups_per_call", 3 },
		{ "salesforce_per_day.contact_lookups", 72000 },
		{ "salesforce_per_day.token_mints", 14 },
		{ "salesforce_per_day.api_calls_unbatched", 144000 },
		{ "salesforce_per_day.api_calls_batched", 73440 },
		{ "allocation.share_unbatched_pct", 288 },
		{ "allocation.share_batched_pct", 146.88 }, { "inbound.headroom", 600 },
	};
	/* 7 calls of 2 events: a partial batch rounds up; --batch wins over the setting. */
	static const struct { const char *path; double v; } quiet[] = {
		{ "events_per_day", 336 }, { "salesforce_per_day.upsert_calls_batched", 2 },
		{ "salesforce_per_day.contact_lookups", 168 },
		{ "allocation.daily_api_calls", 100000 }, { "allocation.share_batched_pct", 0.17 },
	};
	cJSON	*o;
	size_t	 i;

	ck_assert_msg(capacity("CB_SF_BATCH=50", "--calls-per-hour 1000 --events-per-call 3 "
	    "--allocation 50000 --call-seconds 700 --inbound-rate 500") == 0, "%s", out);
	ck_assert_ptr_nonnull(o = cJSON_Parse(out));
	for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
		ck_assert_msg(num(o, busy[i].path) == busy[i].v, "%s: %s", busy[i].path, out);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "allocation"),
	    "fits_batched")));
	cJSON_Delete(o);

	ck_assert_msg(capacity("CB_SF_BATCH=50", "--calls-per-hour 7 --events-per-call 2 "
	    "--batch 200") == 0, "%s", out);
	ck_assert_ptr_nonnull(o = cJSON_Parse(out));
	for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		ck_assert_msg(num(o, quiet[i].path) == quiet[i].v, "%s: %s", quiet[i].path, out);
	ck_assert_ptr_nonnull(strstr(out, "\"source\":\"measured "));
	cJSON_Delete(o);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(capacity("", bad[i].args) == 2, "%s: %s", bad[i].args, out);
		ck_assert_msg(strstr(out, bad[i].names) != NULL, "%s: %s", bad[i].args, out);
		ck_assert_msg(out[0] != '{', "%s printed figures: %s", bad[i].args, out);
	}
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("cli");
	TCase	*tc = tcase_create("cli");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_command_has_help_and_is_in_the_readme);
	tcase_add_test(tc, config_shows_effective_values_and_sources);
	tcase_add_test(tc, demo_seed_again_revokes_the_previous_key);
	tcase_add_test(tc, cb_wrapper_finds_the_stack);
	tcase_add_test(tc, definition_file_is_read_as_the_caller);
	tcase_add_test(tc, capacity_arithmetic_and_refusals);
	suite_add_tcase(su, tc);
	return cu_run(su);
}
