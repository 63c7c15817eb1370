/*
 * stacklog: see stacklog.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "stacklog.h"
#include "util.h"

const char *
stacklog_path(const char *name, char *out, unsigned outsz)
{
	snprintf(out, outsz, "%s/log/%s.log", test_env("CB_STATE"), name);
	return out;
}

int
stacklog_lines(const char *path, const char *event, const char *needle, char **line)
{
	FILE	*f = fopen(path, "r");
	char	*buf = NULL, ev[160];
	size_t	 cap = 0;
	int	 n = 0;

	if (line)
		*line = NULL;
	if (f == NULL)
		return 0;
	snprintf(ev, sizeof(ev), "\"event\":\"%s\"", event);
	while (getline(&buf, &cap, f) > 0) {
		if (strstr(buf, ev) == NULL || (needle && strstr(buf, needle) == NULL))
			continue;
		n++;
		if (line) {
			free(*line);
			*line = util_strdup(buf);
		}
	}
	free(buf);
	fclose(f);
	return n;
}
