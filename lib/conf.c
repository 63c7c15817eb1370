/*
 * conf: see conf.h.  The file is read into a small list of NAME=value pairs;
 * the environment is consulted per variable; defaults fill the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "conf.h"
#include "errs.h"
#include "util.h"

#define CONF_FILE_MAX_LINES	512
#define CONF_LINE_MAX		4096

struct conf_pair {
	char	*name;
	char	*value;
};

static void
conf_pairs_free(struct conf_pair *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		if (p[i].value) {
			sodium_memzero(p[i].value, strlen(p[i].value));
			free(p[i].value);
		}
	}
	free(p);
}

static char *
conf_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
conf_read_file(const char *path, const struct conf_var *vars, size_t nvars,
    struct conf_pair **out, size_t *nout, char *err, size_t errsz)
{
	FILE			*f;
	char			 line[CONF_LINE_MAX + 2];
	struct conf_pair	*p = NULL;
	size_t			 n = 0, i, lineno = 0;
	char			*s, *eq, *name, *val;
	int			 rc = CB_OK, known;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "config file %s: %s", path, strerror(errno));
		return CB_ERR_CONFIG;
	}
	p = util_calloc(CONF_FILE_MAX_LINES, sizeof(*p));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strlen(line) > CONF_LINE_MAX) {
			snprintf(err, errsz, "%s:%zu: line too long", path, lineno);
			rc = CB_ERR_CONFIG;
			goto out;
		}
		s = conf_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errsz, "%s:%zu: expected NAME=value", path, lineno);
			rc = CB_ERR_CONFIG;
			goto out;
		}
		*eq = '\0';
		name = conf_trim(s);
		val = conf_trim(eq + 1);
		/* Optional quotes around the value, as in an env file. */
		if (strlen(val) >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[strlen(val) - 1] == val[0]) {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		known = 0;
		for (i = 0; i < nvars; i++)
			if (strcmp(vars[i].name, name) == 0)
				known = 1;
		if (!known) {
			snprintf(err, errsz, "%s:%zu: unknown setting %.64s", path, lineno, name);
			rc = CB_ERR_CONFIG;
			goto out;
		}
		if (n == CONF_FILE_MAX_LINES) {
			snprintf(err, errsz, "%s: too many settings", path);
			rc = CB_ERR_CONFIG;
			goto out;
		}
		p[n].name = util_strdup(name);
		p[n].value = util_strdup(val);
		n++;
	}
out:
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (rc != CB_OK) {
		conf_pairs_free(p, n);
		return rc;
	}
	*out = p;
	*nout = n;
	return CB_OK;
}

static int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t	 i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) { *out = 1; return CB_OK; }
		if (strcasecmp(s, no[i]) == 0) { *out = 0; return CB_OK; }
	}
	return CB_ERR_VALIDATION;
}

int
conf_load(const struct conf_var *vars, size_t nvars, void *target,
    const char *file, char *err, size_t errsz)
{
	struct conf_pair	*pairs = NULL;
	size_t			 npairs = 0, i, j, len, maxlen;
	const char		*v;
	char			*base = target;
	long long		 ll;
	int			 rc = CB_OK, b;

	if (file == NULL)
		file = getenv("CB_CONFIG_FILE");
	if (file != NULL && *file != '\0' &&
	    (rc = conf_read_file(file, vars, nvars, &pairs, &npairs, err, errsz)) != CB_OK)
		return rc;

	for (i = 0; i < nvars; i++) {
		const struct conf_var *cv = &vars[i];

		v = getenv(cv->name);
		if (v == NULL)
			for (j = 0; j < npairs; j++)
				if (strcmp(pairs[j].name, cv->name) == 0)
					v = pairs[j].value;
		if (v == NULL || *v == '\0')
			v = cv->def;
		if (v == NULL) {
			if (cv->flags & CONF_REQUIRED) {
				snprintf(err, errsz, "%s is required: %s", cv->name, cv->help);
				rc = CB_ERR_CONFIG;
				goto out;
			}
			continue;
		}
		switch (cv->type) {
		case CONF_STR:
			len = strlen(v);
			maxlen = cv->max > 0 ? (size_t)cv->max : 4096;
			if (len < (size_t)(cv->min > 0 ? cv->min : 0) || len > maxlen) {
				snprintf(err, errsz, "%s: length must be between %lld and %zu",
				    cv->name, cv->min, maxlen);
				rc = CB_ERR_CONFIG;
				goto out;
			}
			*(char **)(void *)(base + cv->off) = util_strdup(v);
			break;
		case CONF_INT:
			if (util_parse_ll(v, cv->min, cv->max, &ll) != CB_OK) {
				snprintf(err, errsz, "%s: expected an integer in [%lld, %lld]%s%.64s",
				    cv->name, cv->min, cv->max,
				    (cv->flags & CONF_SECRET) ? "" : ", got ",
				    (cv->flags & CONF_SECRET) ? "" : v);
				rc = CB_ERR_CONFIG;
				goto out;
			}
			*(long long *)(void *)(base + cv->off) = ll;
			break;
		case CONF_BOOL:
			if (conf_parse_bool(v, &b) != CB_OK) {
				snprintf(err, errsz, "%s: expected true or false", cv->name);
				rc = CB_ERR_CONFIG;
				goto out;
			}
			*(int *)(void *)(base + cv->off) = b;
			break;
		}
	}
out:
	conf_pairs_free(pairs, npairs);
	if (rc != CB_OK)
		conf_free(vars, nvars, target);
	return rc;
}

void
conf_free(const struct conf_var *vars, size_t nvars, void *target)
{
	size_t	 i;
	char	*base = target, **sp;

	for (i = 0; i < nvars; i++) {
		if (vars[i].type != CONF_STR)
			continue;
		sp = (char **)(void *)(base + vars[i].off);
		if (*sp != NULL) {
			if (vars[i].flags & CONF_SECRET)
				sodium_memzero(*sp, strlen(*sp));
			free(*sp);
			*sp = NULL;
		}
	}
}

void
conf_describe(const struct conf_var *vars, size_t nvars, int fd)
{
	static const char *const types[] = { "string", "integer", "boolean" };
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	for (i = 0; i < nvars; i++) {
		buf_printf(&b, "%-28s %-8s %-9s default=%s\n    %s\n", vars[i].name,
		    types[vars[i].type],
		    (vars[i].flags & CONF_REQUIRED) ? "required" : "optional",
		    (vars[i].flags & CONF_SECRET) ? "(secret)" :
		    (vars[i].def ? vars[i].def : "(none)"), vars[i].help);
	}
	(void)!write(fd, b.data, b.len);
	buf_free(&b);
}

void
conf_show(const struct conf_var *vars, size_t nvars, const void *target,
    const char *file, int fd)
{
	struct conf_pair	*pairs = NULL;
	const char		*base = target, *v, *src;
	char			 err[256], num[32], where[300];
	size_t			 npairs = 0, i, j;
	struct buf		 b;

	if (file == NULL)
		file = getenv("CB_CONFIG_FILE");
	if (file != NULL && *file != '\0' &&
	    conf_read_file(file, vars, nvars, &pairs, &npairs, err, sizeof(err)) != CB_OK)
		npairs = 0;
	buf_init(&b, 0);
	for (i = 0; i < nvars; i++) {
		const struct conf_var *cv = &vars[i];

		src = "default";
		if ((v = getenv(cv->name)) != NULL && *v != '\0')
			src = "environment";
		else
			for (j = 0; j < npairs; j++)
				if (strcmp(pairs[j].name, cv->name) == 0 && *pairs[j].value) {
					snprintf(where, sizeof(where), "file %s", file);
					src = where;
				}
		switch (cv->type) {
		case CONF_STR:
			v = *(char *const *)(const void *)(base + cv->off);
			break;
		case CONF_INT:
			snprintf(num, sizeof(num), "%lld",
			    *(const long long *)(const void *)(base + cv->off));
			v = num;
			break;
		case CONF_BOOL:
			v = *(const int *)(const void *)(base + cv->off) ? "true" : "false";
			break;
		}
		if (v == NULL)
			src = "unset";
		if (cv->flags & CONF_SECRET)
			v = v ? "(set)" : "(unset)";
		buf_printf(&b, "%-28s %-40s %s\n", cv->name, v ? v : "", src);
	}
	(void)!write(fd, b.data, b.len);
	buf_free(&b);
	conf_pairs_free(pairs, npairs);
}
