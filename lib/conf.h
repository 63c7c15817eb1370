/*
 * conf: configuration from a declarative table.
 *
 * Each variable has a name (the environment variable), a type, bounds, an
 * optional default, a help text and the offset of its field in the caller's
 * struct.  Values come from an optional file of NAME=value lines (path from
 * the CB_CONFIG_FILE variable) and then from the environment, which wins.
 * An unknown name in the file, a malformed or out-of-bounds value, or a
 * missing required value fails loading with a message naming the variable:
 * the process refuses to start rather than run half-configured.
 */
#ifndef CB_CONF_H
#define CB_CONF_H

#include <stddef.h>

enum conf_type {
	CONF_STR,	/* char * (owned, freed by conf_free) */
	CONF_INT,	/* long long */
	CONF_BOOL	/* int, from true/false/1/0/yes/no/on/off */
};

#define CONF_REQUIRED	0x01u
#define CONF_SECRET	0x02u	/* never printed, wiped on free */

struct conf_var {
	const char	*name;
	enum conf_type	 type;
	unsigned	 flags;
	const char	*def;
	long long	 min, max;	/* CONF_INT bounds; CONF_STR length bounds (max 0 = 4096) */
	size_t		 off;
	const char	*help;
};

/*
 * Load every variable of the table into `target`.  `file` may be NULL (then
 * CB_CONFIG_FILE is consulted).  On failure `err` names the variable and why.
 */
int	 conf_load(const struct conf_var *, size_t, void *target,
	    const char *file, char *err, size_t errsz);
void	 conf_free(const struct conf_var *, size_t, void *target);
/* Print the table as documentation (name, type, default, help). */
void	 conf_describe(const struct conf_var *, size_t, int fd);
/*
 * Print the values in effect in `target` (as conf_load filled it) and where
 * each came from: "environment", "file <path>" or "default" ("unset" when
 * there is none).  Secrets print as "(set)" or "(unset)", never their value.
 * `file` as for conf_load.
 */
void	 conf_show(const struct conf_var *, size_t, const void *target,
	    const char *file, int fd);

#endif
