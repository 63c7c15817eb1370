/*
 * routespec: see routespec.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routespec.h"
#include "util.h"

#define RS_FIELD	256

struct rs_route {
	char	 binary[RS_FIELD];
	char	 method[16];
	char	 path[RS_FIELD];
	char	 body[24];
	char	 rclass[24];
	char	 auth[24];	/* the descriptors' only */
	char	 grant[RS_FIELD];
	int	 line;
	int	 matched;
};

struct rs_list {
	struct rs_route	*v;
	size_t		 n, cap;
};

static struct rs_route *
rs_push(struct rs_list *l)
{
	if (l->n == l->cap) {
		void	*nv;

		l->cap = l->cap ? l->cap * 2 : 32;
		if ((nv = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			util_oom();
		l->v = nv;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* Split a line (comment stripped) into at most `max` fields; the count. */
static int
rs_fields(const char *line, size_t len, char f[][RS_FIELD], int max)
{
	size_t	 i = 0, k;
	int	 n = 0;

	for (;;) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i >= len || line[i] == '#')
			return n;
		if (n == max)
			return max + 1;
		for (k = 0; i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
		    line[i] != '#'; i++)
			if (k + 1 < RS_FIELD)
				f[n][k++] = line[i];
		f[n++][k] = '\0';
	}
}

static void rs_say(struct buf *, int *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
rs_say(struct buf *b, int *count, const char *fmt, ...)
{
	char	 line[1200];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_puts(b, line);
	buf_putc(b, '\n');
	(*count)++;
}

static void
rs_parse(const char *text, const char *binary, struct rs_list *out, struct buf *b, int *count)
{
	char		 f[7][RS_FIELD];
	const char	*p = text, *e;
	int		 n, line = 0, want = 6;
	struct rs_route	*r;

	for (; p && *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		line++;
		/* A descriptor's 7th column: its traits (lib/route.h). */
		if ((n = rs_fields(p, (size_t)(e - p), f, binary ? 7 : 6)) == 0)
			continue;
		if (n != want && !(binary && n == 7)) {
			rs_say(b, count, "%s line %d: expected %s columns: %s",
			    binary ? binary : "routes.tab", line, binary ? "6 (METHOD PATTERN "
			    "BODY_MAX RATE_CLASS AUTH GRANT) or 7 (and TRAITS)" :
			    "6 (method path binary procs body_max rate_class)",
			    f[0]);
			continue;
		}
		r = rs_push(out);
		r->line = line;
		if (binary) {
			util_strlcpy(r->binary, binary, sizeof(r->binary));
			util_strlcpy(r->method, f[0], sizeof(r->method));
			util_strlcpy(r->path, f[1], sizeof(r->path));
			util_strlcpy(r->body, f[2], sizeof(r->body));
			util_strlcpy(r->rclass, f[3], sizeof(r->rclass));
			util_strlcpy(r->auth, f[4], sizeof(r->auth));
			util_strlcpy(r->grant, f[5], sizeof(r->grant));
		} else {
			util_strlcpy(r->method, f[0], sizeof(r->method));
			util_strlcpy(r->path, f[1], sizeof(r->path));
			util_strlcpy(r->binary, f[2], sizeof(r->binary));
			util_strlcpy(r->body, f[4], sizeof(r->body));
			util_strlcpy(r->rclass, f[5], sizeof(r->rclass));
		}
	}
}

int
routespec_compare(const char *table, const struct routespec_bin *bins, size_t nbins,
    struct buf *report)
{
	struct rs_list	 tab = { 0 }, dec = { 0 };
	struct rs_route	*t, *d;
	size_t		 i, j;
	int		 count = 0;

	rs_parse(table, NULL, &tab, report, &count);
	for (i = 0; i < nbins; i++)
		rs_parse(bins[i].printed, bins[i].binary, &dec, report, &count);
	for (i = 0; i < tab.n; i++) {
		t = &tab.v[i];
		for (j = 0, d = NULL; j < dec.n && d == NULL; j++)
			if (strcmp(dec.v[j].binary, t->binary) == 0 &&
			    strcmp(dec.v[j].method, t->method) == 0 &&
			    strcmp(dec.v[j].path, t->path) == 0)
				d = &dec.v[j];
		if (d == NULL) {
			rs_say(report, &count, "%s %s: in routes.tab, not declared by %s",
			    t->method, t->path, t->binary);
			continue;
		}
		d->matched = 1;
		if (strcmp(d->body, t->body) != 0)
			rs_say(report, &count, "%s %s: body_max %s in routes.tab, %s in the "
			    "descriptor", t->method, t->path, t->body, d->body);
		if (strcmp(d->rclass, t->rclass) != 0)
			rs_say(report, &count, "%s %s: rate_class %s in routes.tab, %s in the "
			    "descriptor", t->method, t->path, t->rclass, d->rclass);
	}
	for (j = 0; j < dec.n; j++)
		if (!dec.v[j].matched)
			rs_say(report, &count, "%s %s: declared by %s, missing from routes.tab",
			    dec.v[j].method, dec.v[j].path, dec.v[j].binary);
	free(tab.v);
	free(dec.v);
	return count;
}

/* The authentication kinds lib/route.c names (route_auth_name). */
static const char *const rs_auths[] = {
	"none", "tab", "agent", "agent-memo", "agent-key", "person", "person-only", "signed", NULL,
};

static int
rs_listed(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

int
routespec_check_auth(const struct routespec_bin *bins, size_t nbins,
    const char *const *public_routes, struct buf *report)
{
	struct rs_list	 dec = { 0 };
	struct rs_route	*d;
	char		 name[RS_FIELD + 24];
	size_t		 i;
	int		 count = 0;

	for (i = 0; i < nbins; i++)
		rs_parse(bins[i].printed, bins[i].binary, &dec, report, &count);
	for (i = 0; i < dec.n; i++) {
		d = &dec.v[i];
		snprintf(name, sizeof(name), "%s %s", d->method, d->path);
		if (!rs_listed(rs_auths, d->auth))
			rs_say(report, &count, "%s: unknown authentication \"%s\"", name, d->auth);
		else if (strncmp(d->path, "/api/v1/admin/", 14) == 0 &&
		    strcmp(d->auth, "person") != 0)
			rs_say(report, &count, "%s: an admin route must authenticate a person (%s)",
			    name, d->auth);
		else if (strncmp(d->path, "/api/v1/admin/", 14) == 0 && strcmp(d->grant, "-") == 0)
			rs_say(report, &count, "%s: an admin route declares no roles", name);
		else if (strncmp(d->path, "/api/", 5) == 0 && strcmp(d->auth, "none") == 0 &&
		    !rs_listed(public_routes, name))
			rs_say(report, &count, "%s: declares no authentication and is not one of "
			    "the public routes", name);
	}
	free(dec.v);
	return count;
}
