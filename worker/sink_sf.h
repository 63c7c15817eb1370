/*
 * sink_sf: what the Salesforce sink's files share (worker/sink_salesforce.c,
 * the rows and the Collections calls; worker/sink_sf_token.c, the token
 * every process and node shares, and the sink's trouble: pauses and
 * alerts).  Only those two include it.
 */
#ifndef CB_SINK_SF_H
#define CB_SINK_SF_H

#include "sf.h"
#include "sink.h"

struct kv;

#define SFK_PAUSE_LIMIT_S	900	/* the org's API allocation is spent */

struct sfk {
	struct sink_env		*env;
	struct sf_client	*sf;
	struct kv		*kv;		/* the contact cache */
	char			 name[40];	/* sf_tokens.name */
	char			 token_ver[64];	/* sf_tokens.updated_at of the token we hold */
	double			 token_epoch;	/* when it was minted (Unix s) */
	long long		 used, limit;	/* Sforce-Limit-Info */
	int			 in_flight;
};

/* sf_tokens.name of this configuration: "jwt:" + a hash of who logs in where. */
void	 sfk_name(struct sfk *);
/*
 * A usable token in the client (single flight across processes; see
 * sink_sf_token.c).  stale: the version of the token that just answered
 * 401, or NULL.  CB_OK, or res filled (CB_ERR_DB_DOWN: the cache is away).
 */
int	 sfk_token(struct sfk *, const char *stale, struct sf_result *res);
/* A failed mint or a refused configuration: pause, count, alert (oauth: from the token endpoint). */
void	 sfk_trouble(struct sfk *, const struct sf_result *res, int oauth);

#endif
