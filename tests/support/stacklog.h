/*
 * stacklog: the private stack's JSON log lines ($CB_STATE/log/<name>.log,
 * one file per process family), for suites that assert what was logged
 * (audit lines) and what never is.
 */
#ifndef CB_TEST_STACKLOG_H
#define CB_TEST_STACKLOG_H

/*
 * The lines of `path` whose event is `event` and that contain `needle`
 * (NULL: any): how many, and the last one into a malloc'd *line (may be
 * NULL; the caller frees it).  A missing file has no lines.
 */
int	 stacklog_lines(const char *path, const char *event, const char *needle, char **line);
/* The path of a stack process family's log: $CB_STATE/log/<name>.log. */
const char *stacklog_path(const char *name, char *out, unsigned outsz);

#endif
