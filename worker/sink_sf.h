/*
 * sink_sf: what the Salesforce sink's files share (worker/sink_salesforce.c,
 * the rows and the Collections calls; worker/sink_sf_token.c, the
 * connections, the token every process and node shares per connection, and
 * the sink's trouble: pauses and alerts).  Only those two include it.
 *
 * One struct sfc per Salesforce connection this process has used: the
 * deployment's default (the CB_SF_* settings, for tenants without their
 * own) and each tenant's own (lib/sfconn.h).  Each has its own client,
 * token (cached under its own sf_tokens name), single flight, API usage
 * and pause ("salesforce" for the default, "salesforce:<org_id>" for a
 * tenant's own): one tenant's bad key or spent allocation never holds
 * another tenant's rows.
 */
#ifndef CB_SINK_SF_H
#define CB_SINK_SF_H

#include <cjson/cJSON.h>

#include "region.h"
#include "sf.h"
#include "sink.h"

struct kv;
struct sfk;

#define SFK_PAUSE_LIMIT_S	900	/* the org's API allocation is spent */

struct sfc {
	struct sfk		*k;
	struct sfc		*next;
	char			 org[24];	/* "" for the default connection */
	char			 scope[48];	/* sink_pauses / sink_status name */
	long long		 version;	/* sf_connections.version it was built from */
	char			 pin[REGION_BUFSZ];/* the tenant's region, "" when not pinned */
	char			 want_instance[520];	/* its instance_url, "" when unset */
	char			 minted_instance[520];	/* the last mint's instance_url */
	struct sf_client	*sf;		/* the client holding the token */
	struct sf_client	*cur, *nxt;	/* the current key's, the next key's (overlap) */
	char			 cur_sha[65], nxt_sha[65];
	cJSON			*mapping;	/* the tenant's object and field mapping */
	char			 name[40];	/* sf_tokens.name */
	char			 token_ver[64];	/* sf_tokens.updated_at of the token we hold */
	double			 token_epoch;	/* when it was minted (Unix s) */
	long long		 used, limit;	/* Sforce-Limit-Info */
	int			 in_flight;
	int			 broken;	/* the tenant's row would not load: paused */
};

struct sfk {
	struct sink_env		*env;
	struct kv		*kv;		/* the contact cache */
	struct sfc		 dflt;		/* the default connection */
	struct sfc		*conns;		/* tenants' own */
};

/* The default connection's name and scope, from the settings (at open). */
void	 sfk_default_init(struct sfk *);
/* The connection that delivers org's rows now (NULL: Postgres is away). */
struct sfc *sfk_conn(struct sfk *, const char *org);
/* Free the tenants' connections and the default's client. */
void	 sfk_conns_free(struct sfk *);
/*
 * A usable token in the connection's client (single flight across
 * processes; see sink_sf_token.c).  stale: the version of the token that
 * just answered 401, or NULL.  CB_OK, or res filled (CB_ERR_DB_DOWN: the
 * cache is away).
 */
int	 sfk_token(struct sfc *, const char *stale, struct sf_result *res);
/* A failed mint or a refused configuration: pause, count, alert (oauth: from the token endpoint). */
void	 sfk_trouble(struct sfc *, const struct sf_result *res, int oauth);

#endif
