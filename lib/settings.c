/*
 * settings: see settings.h.
 */
#include <stddef.h>

#include "settings.h"

#define S(f)	offsetof(struct settings, f)

const struct conf_var settings_vars[] = {
	{ "CB_PG_DSN", CONF_STR, CONF_REQUIRED | CONF_SECRET, NULL, 1, 1024, S(pg_dsn),
	  "libpq connection string of the broker's database (holds a password: secret)" },
	{ "CB_REDIS_HOST", CONF_STR, 0, "127.0.0.1", 1, 255, S(redis_host),
	  "Redis host" },
	{ "CB_REDIS_PORT", CONF_INT, 0, "6379", 1, 65535, S(redis_port),
	  "Redis port" },
	{ "CB_REDIS_PASSWORD", CONF_STR, CONF_SECRET, NULL, 0, 512, S(redis_password),
	  "Redis AUTH password (requirepass)" },
	{ "CB_REDIS_TIMEOUT_MS", CONF_INT, 0, "500", 10, 60000, S(redis_timeout_ms),
	  "Redis connect and command timeout in milliseconds" },
	{ "CB_LOG_LEVEL", CONF_STR, 0, "info", 1, 8, S(log_level),
	  "minimum log level: debug, info, warn, error" },
	{ "CB_PORT_WS", CONF_INT, 0, "8090", 1, 65535, S(ws_port),
	  "the worker's WebSocket port on 127.0.0.1 (nginx proxies /ws/ to it)" },
	{ "CB_PUBLIC_URL", CONF_STR, 0, "https://127.0.0.1:8443", 1, 512, S(public_url),
	  "the externally visible base URL, used in links and the JWT issuer" },
};

const size_t settings_nvars = sizeof(settings_vars) / sizeof(settings_vars[0]);

int
settings_load(struct settings *s, char *err, size_t errsz)
{
	*s = (struct settings){ 0 };
	return conf_load(settings_vars, settings_nvars, s, NULL, err, errsz);
}

void
settings_free(struct settings *s)
{
	conf_free(settings_vars, settings_nvars, s);
}
