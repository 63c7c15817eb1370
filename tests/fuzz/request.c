/*
 * Fuzz target: the request as a responder reads it (lib/req): the path
 * matched against route patterns, the query string, the headers.  The
 * input is "<path>\n<query>\n<Name: value>\n...", given as nginx's
 * FastCGI parameters.  Whatever the request: a path that matches a
 * pattern gives every parameter non-empty and without '/', and the
 * pattern with its parameters put back is the path (a UUID parameter
 * lowercased); a query string taken is one JSON object of strings.
 * Seeds: tests/fuzz/corpus/request/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "errs.h"
#include "req.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NENV	24

static const char *const patterns[] = {
	"/api/v1/forms/{form_id}/submit",
	"/api/v1/contexts/{ctx_ref}/commands",
	"/api/v1/admin/dead-letters/{id}/replay",
	"/api/health/{component}",
	"/api/v1/webhooks/calls/{source}",
};

/* The pattern with its parameters put back, into out. */
static void
expand(struct req *r, const char *pat, char *out, size_t outsz)
{
	char		 name[64];
	const char	*p = pat, *e, *v;
	size_t		 n = 0;

	while (*p && n + 1 < outsz) {
		if (*p == '{' && (e = strchr(p, '}')) != NULL && (size_t)(e - p) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int)(e - p - 1), p + 1);
			v = req_param(r, name);
			n += (size_t)snprintf(out + n, outsz - n, "%s", v ? v : "");
			p = e + 1;
		} else
			out[n++] = *p++;
	}
	out[n < outsz ? n : outsz - 1] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req	 r;
	char		*text, *line, *save = NULL, *env[NENV + 1], *c, again[2048];
	const cJSON	*it;
	cJSON		*q = NULL;
	size_t		 ne = 0, i, k;

	if (size > 4096 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(env, 0, sizeof(env));
	env[ne++] = util_strdup("REQUEST_METHOD=GET");
	for (i = 0, line = strtok_r(text, "\n", &save); line && ne < NENV;
	    i++, line = strtok_r(NULL, "\n", &save)) {
		char	 kv[1100];

		if (i == 0)
			snprintf(kv, sizeof(kv), "DOCUMENT_URI=%.1000s", line);
		else if (i == 1)
			snprintf(kv, sizeof(kv), "QUERY_STRING=%.1000s", line);
		else if ((c = strchr(line, ':')) != NULL && c > line && (size_t)(c - line) < 64) {
			int	 m = snprintf(kv, sizeof(kv), "HTTP_");

			for (k = 0; line + k < c; k++)
				kv[m++] = line[k] == '-' ? '_' : (char)(line[k] >= 'a' && line[k] <= 'z' ?
				    line[k] - 32 : line[k]);
			snprintf(kv + m, sizeof(kv) - (size_t)m, "=%.900s", c[1] == ' ' ? c + 2 : c + 1);
		} else
			continue;
		env[ne++] = util_strdup(kv);
	}
	req_init(&r, env, NULL, NULL);
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (!req_match(&r, patterns[i], r.uri))
			continue;
		expand(&r, patterns[i], again, sizeof(again));
		if (strcasecmp(again, r.uri) != 0)
			abort();
	}
	if (req_query_object(&r, &q) == CB_OK) {
		if (!cJSON_IsObject(q))
			abort();
		cJSON_ArrayForEach(it, q)
			if (!cJSON_IsString(it))
				abort();
		cJSON_Delete(q);
	}
	(void)req_header(&r, "Idempotency-Key");
	(void)req_header_count(&r, "Authorization");
	req_free(&r);
	for (i = 0; i < ne; i++)
		free(env[i]);
	free(text);
	return 0;
}
