/*
 * policy: the agent policy of a form, and the check every UI command passes
 * before it is stored.  Nothing reaches a tab that the policy forbids:
 * command types from an allowlist, selectors from an allowlist by exact
 * match (no patterns, so no pattern can be abused), a rate per minute and
 * types that need a human's approval.
 */
#ifndef CB_POLICY_H
#define CB_POLICY_H

#include <stddef.h>

struct db;

#define POLICY_MAX_ITEMS	256

struct policy {
	char	*types[POLICY_MAX_ITEMS];
	size_t	 ntypes;
	char	*selectors[POLICY_MAX_ITEMS];
	size_t	 nselectors;
	char	*approval[POLICY_MAX_ITEMS];
	size_t	 napproval;
	long	 rate_per_minute;
	long	 max_in_flight;
};

/* Load the policy of (org, form); CB_ERR_POLICY if the form has none. */
int	 policy_load(struct db *, const char *org, const char *form_id, struct policy *);
/*
 * The policy of the form a live context of org is pinned to, in one query:
 * CB_ERR_NOT_FOUND if there is no such context, CB_ERR_POLICY if its form
 * has no policy.
 */
int	 policy_load_ctx(struct db *, const char *org, const char *ctx_id, struct policy *);
/*
 * policy_load_ctx in front of the process memo, so that in the steady state
 * a command costs no Postgres statement before its insert.  The context's
 * form is immutable (cached POLICY_CTX_MEMO_MS; the insert still refuses
 * an expired context, and another tenant's context is never cached for
 * this one: the key holds the org).  A form's policy changes rarely, by an
 * operator, and there is no invalidation across processes, so it is cached
 * only POLICY_MEMO_MS: a policy-set takes effect in every process within
 * one second, while a tab receiving commands costs one policy read a
 * second per process instead of one per command.
 */
#define POLICY_CTX_MEMO_MS	60000.0
#define POLICY_MEMO_MS		1000.0
struct memo;
int	 policy_load_ctx_memo(struct db *, struct memo *, const char *org, const char *ctx_id,
	    struct policy *);
void	 policy_free(struct policy *);
/* CB_OK or CB_ERR_POLICY with a reason naming what is not allowed. */
int	 policy_check(const struct policy *, const char *type, const char *selector,
	    char *why, size_t whysz);
int	 policy_needs_approval(const struct policy *, const char *type);

#endif
