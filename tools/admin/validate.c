/*
 * cb-admin form-validate and mapping-validate: see validate.h.  The file is
 * read whole (at most ADMIN_FORM_MAX bytes, as publishing reads it) and
 * handed to the check the broker itself runs; nothing else decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "formdef.h"
#include "jsonv.h"
#include "sfconn.h"
#include "validate.h"
#include "util.h"

#define ADMIN_FORM_MAX	(1024 * 1024)

static int
af_read(const char *path, struct buf *b)
{
	FILE	*f;
	char	 chunk[4096];
	size_t	 n;
	int	 rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "cb-admin: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) != CB_OK) {
			fprintf(stderr, "cb-admin: %s: larger than 1 MiB\n", path);
			rc = 2;
		}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "cb-admin: %s: read error\n", path);
		rc = 2;
	}
	fclose(f);
	return rc;
}

/*
 * The one FILE a command takes, read into b (initialised here; the caller
 * frees it): 0, or 2 after the usage or the reason it could not be read.
 */
static int
af_load(const char *cmd, int argc, char **argv, struct buf *b)
{
	buf_init(b, ADMIN_FORM_MAX);
	if (argc != 1) {
		fprintf(stderr, "cb-admin: usage: %s %s\n", cmd, ADMIN_VALIDATE_ARGS);
		return 2;
	}
	return af_read(argv[0], b);
}

/* {"file":..., "valid":true, <what>:n[, "classes":{...}]} on stdout; takes `extra`. */
static void
af_print(const char *path, const char *what, int n, cJSON *extra)
{
	cJSON	*o = cJSON_CreateObject();
	char	*out;

	if (o == NULL)
		util_oom();
	cJSON_AddStringToObject(o, "file", path);
	cJSON_AddBoolToObject(o, "valid", 1);
	cJSON_AddNumberToObject(o, what, n);
	if (extra != NULL)
		cJSON_AddItemToObject(o, "classes", extra);
	if ((out = cJSON_PrintUnformatted(o)) == NULL)
		util_oom();
	printf("%s\n", out);
	free(out);
	cJSON_Delete(o);
}

/* A valid definition's fields per class. */
static void
af_summary(const char *path, const char *text)
{
	cJSON			*d = cJSON_Parse(text), *cl;
	const cJSON		*f;
	int			 n[FORMDEF_RESTRICTED + 1] = { 0 }, total = 0, c;

	if (d == NULL || (cl = cJSON_CreateObject()) == NULL)
		util_oom();
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(d, "fields")) {
		n[formdef_field_class(d, cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring)]++;
		total++;
	}
	for (c = FORMDEF_PUBLIC; c <= FORMDEF_RESTRICTED; c++)
		cJSON_AddNumberToObject(cl, formdef_class_name((enum formdef_class)c), n[c]);
	af_print(path, "fields", total, cl);
	cJSON_Delete(d);
}

int
admin_form_validate(int argc, char **argv)
{
	struct jv_error	 e;
	struct buf	 b;
	char		 why[400];
	int		 rc;

	if ((rc = af_load("form-validate", argc, argv, &b)) != 0)
		goto out;
	if (formdef_check_text(buf_cstr(&b), b.len, &e) != CB_OK) {
		formdef_error_text(buf_cstr(&b), &e, why, sizeof(why));
		fprintf(stderr, "cb-admin: %s: %s\n", argv[0], why);
		rc = 1;
		goto out;
	}
	af_summary(argv[0], buf_cstr(&b));
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
admin_mapping_validate(int argc, char **argv)
{
	struct jv_error	 je;
	struct buf	 b;
	const char	*why = NULL;
	char		 ptr[SFCONN_PTR_BUFSZ];
	cJSON		*m = NULL;
	int		 rc;

	if ((rc = af_load("mapping-validate", argc, argv, &b)) != 0)
		goto out;
	rc = 1;
	if (jv_parse(buf_cstr(&b), b.len, &m, &je) != CB_OK) {
		fprintf(stderr, "cb-admin: %s: not valid JSON: %s\n", argv[0], je.reason);
		goto out;
	}
	if (sfconn_mapping_check_at(m, ptr, sizeof(ptr), &why) != 0) {
		fprintf(stderr, "cb-admin: %s: %s%s%s\n", argv[0], ptr, ptr[0] ? ": " : "", why);
		goto out;
	}
	af_print(argv[0], "objects", cJSON_GetArraySize(m), NULL);
	rc = 0;
out:
	cJSON_Delete(m);
	buf_free(&b);
	return rc;
}
