/*
 * check_util: helpers shared by the unit test programs.
 *
 * An in-memory req_io that feeds a request body and captures the response,
 * a builder for FastCGI parameter arrays, a parser for the captured CGI
 * response (status line, headers, JSON body), stderr capture for the log
 * tests, temporary files, and the one main() shape every suite uses.
 * Everything here allocates with malloc and has a matching free: the suites
 * run under LeakSanitizer.
 */
#ifndef CB_CHECK_UTIL_H
#define CB_CHECK_UTIL_H

#include <stddef.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "req.h"

/* Number of elements of a static array. */
#define CU_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, embedded NULs included. */
#define CU_LIT(s)	(s), (sizeof(s) - 1)

/* The in-memory I/O pair: reads come from `body`, writes go to `out`. */
struct cu_io {
	const char	*body;
	size_t		 len;
	size_t		 pos;
	size_t		 chunk;		/* bytes per read; 0 = as many as asked */
	int		 reads;		/* calls to read */
	int		 writes;	/* calls to write */
	struct buf	 out;
};

void	 cu_io_init(struct cu_io *, const char *body, size_t len);
/* Fill a req_io whose callbacks use `io`. */
void	 cu_io_bind(struct cu_io *, struct req_io *);
void	 cu_io_free(struct cu_io *);

/*
 * A FastCGI parameter array from NAME, value pairs ending with NULL:
 *   char **env = cu_env("REQUEST_METHOD", "GET", "DOCUMENT_URI", "/", NULL);
 * Every value must be a string (an absent variable is simply not listed).
 */
char	**cu_env(const char *name, ...) __attribute__((sentinel));
void	 cu_env_free(char **);

struct cu_header {
	char	*name;
	char	*value;
};

/* A parsed CGI response. */
struct cu_resp {
	int		 status;
	char		*reason;
	struct cu_header *headers;
	size_t		 nheaders;
	char		*body;
	size_t		 body_len;
	cJSON		*json;		/* the body parsed, when it is JSON */
};

/* Parse "Status: ...\r\n", headers, blank line, body; 0 on success. */
int	 cu_resp_parse(const char *raw, size_t len, struct cu_resp *);
/* First header of that name (case-insensitive), NULL if absent. */
const char *cu_resp_header(const struct cu_resp *, const char *name);
/* How many headers carry that name. */
size_t	 cu_resp_header_count(const struct cu_resp *, const char *name);
/* A string member of the JSON body, NULL if absent or not a string. */
const char *cu_resp_str(const struct cu_resp *, const char *member);
void	 cu_resp_free(struct cu_resp *);

/*
 * Redirect stderr (fd 2) into a temporary file until cu_stderr_end, which
 * restores it and returns everything written in between (malloc'd).
 */
void	 cu_stderr_begin(void);
char	*cu_stderr_end(void);

/* A fresh temporary file holding `content`; its path goes to `path`. */
void	 cu_tmpfile(const char *content, char *path, size_t pathsz);
/* All n bytes of p to the socket fd (no SIGPIPE; an interrupted send is retried): 0, or -1. */
int	 cu_send_all(int fd, const void *p, size_t n);

/* The value of a required environment variable; fails the test if unset. */
const char *cu_env_required(const char *name);
/* The whole file, NUL-terminated (the caller frees); the test fails if it cannot be read. */
char	*cu_slurp(const char *path);

/* n random URL-safe characters, for unique names. */
void	 cu_random_name(char *out, size_t outsz, const char *prefix);

/* `in` with control and non-ASCII bytes as \xNN, for failure messages. */
const char *cu_visible(const char *in, char *out, size_t outsz);

/* Run the suite (fork mode, Check's summary); the process exit status. */
int	 cu_run(Suite *);

#endif
