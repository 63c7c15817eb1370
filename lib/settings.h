/*
 * settings: the one table of every setting the broker's processes read.
 * Keeping them in one table keeps the README's configuration section, the
 * `cb-admin config` listing and the code in agreement.
 */
#ifndef CB_SETTINGS_H
#define CB_SETTINGS_H

#include <stddef.h>

#include "conf.h"

struct settings {
	char		*pg_dsn;
	char		*redis_host;
	long long	 redis_port;
	char		*redis_password;
	long long	 redis_timeout_ms;
	char		*log_level;
	long long	 ws_port;
	char		*public_url;
};

extern const struct conf_var	settings_vars[];
extern const size_t		settings_nvars;

int	 settings_load(struct settings *, char *err, size_t errsz);
void	 settings_free(struct settings *);

#endif
