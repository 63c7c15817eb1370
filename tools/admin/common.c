/*
 * cb-admin's helpers that every command family shares (admin.h): failing
 * with a message, reading a named file as the caller, an organisation by
 * slug or id, an app with the seal keyring for the library calls that take
 * one.  Nothing here writes data, and no SQL is written here: it is the
 * library's (lib/orgs.h and the rest).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "buf.h"
#include "errs.h"
#include "keyring.h"
#include "orgs.h"
#include "route.h"
#include "util.h"

int
fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "cb-admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
admin_read_file(const char *path, char **out)
{
	struct buf	 b;
	FILE		*f;
	char		 chunk[4096];
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return fail("%s: %s", path, strerror(errno));
	buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) != CB_OK) {
			fclose(f);
			buf_free(&b);
			return fail("%s: larger than 1 MiB", path);
		}
	fclose(f);
	*out = util_strdup(buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/*
 * The file a command names, read before the switch to the service user (as
 * the caller who named it: a definition in a clone under /root is readable
 * by root, not by cbroker); the command takes ownership.
 */
int
admin_command_file(struct admin *a, const char *path, char **out)
{
	if (a->file == NULL)
		return admin_read_file(path, out);
	*out = a->file;
	a->file = NULL;
	return 0;
}

/* "a,b,c" -> a JSON array text, for Postgres: SELECT ARRAY(SELECT json_array_elements_text(...)) */
char *
admin_list_json(const char *csv)
{
	cJSON	*a = cJSON_CreateArray();
	char	*copy = util_strdup(csv), *p = copy, *c, *out;

	while (p && *p) {
		c = strchr(p, ',');
		if (c)
			*c++ = '\0';
		if (*p)
			cJSON_AddItemToArray(a, cJSON_CreateString(p));
		p = c;
	}
	out = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	free(copy);
	return out;
}

int
admin_db_fail(struct admin *a, int rc)
{
	if (rc == CB_ERR_NOT_FOUND)
		return fail("not found");
	return fail("%s", db_errmsg(a->db));
}

/*
 * The seal keyring opened into k and its data keys, for admin_app_open and
 * admin_keys; NULL after "cannot load the <what>: <why>", why being the
 * loader's words, else `unsaid`, else the code's name.  k is the caller's
 * to close either way.
 */
static struct seal_keyring *
keys_load(struct admin *a, struct keyring *k, const char *what, const char *unsaid)
{
	struct seal_keyring	*kr = NULL;
	char			 err[512] = "";
	int			 rc;

	rc = keyring_open(k, a->db, a->s.seal_root_key_file, err, sizeof(err));
	if (rc == CB_OK)
		kr = keyring_get(k, a->db);
	if (kr == NULL)
		fail("cannot load the %s: %s", what, err[0] ? err : unsaid ? unsaid : errs_name(rc));
	return kr;
}

/*
 * An app (lib/app.h) around the CLI's connection and settings, with the
 * seal keyring loaded, for the library calls that take one.  The settings
 * are borrowed: admin_app_close frees only what it opened.
 */
int
admin_app_open(struct admin *a, struct app *app)
{
	memset(app, 0, sizeof(*app));
	app->settings = a->s;
	app->db = a->db;
	if (keys_load(a, &app->keys, "seal keyring", NULL) == NULL) {
		admin_app_close(app);
		return 1;
	}
	return 0;
}

void
admin_app_close(struct app *app)
{
	keyring_close(&app->keys);
	memset(app, 0, sizeof(*app));
}

int
admin_org_resolve(struct admin *a, const char *org, char *id, size_t idsz)
{
	int	 rc = orgs_resolve(a->db, org, id, idsz);

	if (rc == CB_ERR_NOT_FOUND)
		return fail("no organisation %s", org);
	if (rc != CB_OK)
		return admin_db_fail(a, rc);
	return 0;
}

static void
print_json(cJSON *o, int wipe)
{
	char	*text = cJSON_PrintUnformatted(o);

	if (text == NULL)
		util_oom();
	printf("%s\n", text);
	if (wipe)
		sodium_memzero(text, strlen(text));
	free(text);
	cJSON_Delete(o);
}

void
admin_print_json(cJSON *o)
{
	print_json(o, 0);
}

/* The same for an answer that holds a secret: its text is wiped once printed. */
void
admin_print_secret(cJSON *o)
{
	print_json(o, 1);
}

/* The data keys, for a command that seals or opens a secret. */
struct seal_keyring *
admin_keys(struct admin *a, struct keyring *k)
{
	return keys_load(a, k, "data keys", "keyring unavailable");
}
