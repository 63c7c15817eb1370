/*
 * policygov: how an agent policy changes (seed 004's governance).  A
 * proposed policy is checked against a schema (known command types, every
 * selector a field of the form's current version, rates and the approval
 * expiry within bounds, approval types among the allowed types, no
 * duplicates) and against the governance limits (CB_POLICY_MAX_LIST
 * entries in one list, CB_POLICY_MAX_CHANGES entries changed at once),
 * then written as a new version: agent_policies.version + 1, its row in
 * agent_policy_versions (the policy and its SHA-256) and the audit row
 * "policy.changed", all in one transaction.  A proposal identical to the
 * current policy writes nothing.
 *
 * The admin route (cgi/policies.c) and `cb-admin policy-set` both go
 * through here, so they refuse the same things with the same words.
 *
 *   policygov_load      the form (tenant-scoped), its current definition
 *                       and its current policy, read once
 *   policygov_validate  pure: a proposal against what was loaded and the
 *                       limits; the first failure names its field and,
 *                       for a governance limit, the setting
 *   policygov_write     the new version, conditional on nothing having
 *                       moved since the load (CB_ERR_CONFLICT otherwise)
 *
 * The canonical text of a policy (policygov_canonical) is the JSON object
 * of its six fields, members sorted by name, lists sorted (bytes) with no
 * whitespace; its SHA-256 is the policy_sha256 of history and audit rows.
 */
#ifndef CB_POLICYGOV_H
#define CB_POLICYGOV_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct db;

/* The command types the broker knows: a policy may name only these. */
extern const char *const policygov_types[];

/* Bounds of the schema (agent_policies' checks say the same). */
#define POLICYGOV_RATE_MIN	1
#define POLICYGOV_RATE_MAX	6000
#define POLICYGOV_INFLIGHT_MIN	1
#define POLICYGOV_INFLIGHT_MAX	16
#define POLICYGOV_TTL_MIN	30
#define POLICYGOV_TTL_MAX	86400
/* An entry of a list: 1..POLICYGOV_ENTRY_MAX bytes. */
#define POLICYGOV_ENTRY_MAX	256
/* What a policy is when a form has none yet (the table's defaults). */
#define POLICYGOV_DEF_RATE	60
#define POLICYGOV_DEF_INFLIGHT	2
#define POLICYGOV_DEF_TTL	900

struct policygov_list {
	char	**v;
	size_t	  n;
};

/* A policy: three lists and three numbers. */
struct policygov_doc {
	struct policygov_list	 types;		/* allowed_types */
	struct policygov_list	 selectors;
	struct policygov_list	 approval;	/* approval_types */
	long long		 rate_per_minute;
	long long		 max_in_flight;
	long long		 approval_ttl_s;
};

/* What the governance settings allow (CB_POLICY_MAX_*). */
struct policygov_limits {
	long long	 max_changes;
	long long	 max_list;
};

/* What policygov_load read. */
struct policygov_state {
	char			 org[24];	/* the form's organisation */
	char			 form_id[37];
	int			 form_version;	/* forms.current_version; 0: none published */
	cJSON			*definition;	/* that version's definition; NULL when none */
	int			 has_policy;
	int			 version;	/* agent_policies.version; 0 when none */
	struct policygov_doc	 current;	/* the policy now, or the defaults */
	char			 sha256[65];	/* hex of the current version's history row, "" if none */
	char			 updated_at[32];
};

/* Why a proposal was refused: the field, the detail, a limit's setting name. */
struct policygov_verdict {
	char	 field[32];
	char	 detail[300];
	char	 limit[32];		/* "CB_POLICY_MAX_CHANGES", ... or "" */
	long long changes;		/* entries the proposal changes */
	int	 identical;		/* 1: the same as the current policy */
};

/* The result of a write. */
struct policygov_result {
	int	 version;
	int	 previous_version;	/* 0 when the form had no policy */
	char	 sha256[65];		/* hex */
};

/* A list from a JSON array of strings (CB_ERR_VALIDATION if not). */
int	 policygov_list_from_json(const cJSON *, struct policygov_list *);
/* A list from "a,b,c" ("" is the empty list). */
void	 policygov_list_from_csv(const char *, struct policygov_list *);
void	 policygov_list_free(struct policygov_list *);
void	 policygov_doc_free(struct policygov_doc *);
/* A deep copy of a document. */
void	 policygov_doc_copy(struct policygov_doc *dst, const struct policygov_doc *src);

/*
 * Read the form `form_id` of `org` (org NULL: of any organisation, for the
 * operator), its current definition and its policy.  CB_ERR_NOT_FOUND when
 * there is no such form (another tenant's included).
 */
int	 policygov_load(struct db *, const char *org, const char *form_id,
	    struct policygov_state *);
void	 policygov_state_free(struct policygov_state *);

/*
 * Check `proposed` against the loaded state and the limits, first failure
 * first: the size of each list (CB_POLICY_MAX_LIST), then each field's
 * schema, then the selectors against the form's current version, then the
 * number of entries changed (CB_POLICY_MAX_CHANGES).  CB_OK (v->identical
 * says whether anything changes; the lists of `proposed` are sorted) or
 * CB_ERR_UNPROCESSABLE with v filled.  Touches no database.
 */
int	 policygov_validate(struct policygov_doc *proposed, const struct policygov_state *,
	    const struct policygov_limits *, struct policygov_verdict *v);

/* The canonical JSON text (caller frees). */
char	*policygov_canonical(const struct policygov_doc *);
/* The document as a JSON object of its six fields (caller deletes). */
cJSON	*policygov_json(const struct policygov_doc *);

/*
 * Write `proposed` (validated against `st`) as version st->version + 1,
 * its history row and its audit row (actor, e.g. "user:<id>"), in the
 * caller's transaction or one of its own.  CB_ERR_CONFLICT when the
 * policy's version or the form's current version moved since the load.
 */
int	 policygov_write(struct db *, const struct policygov_state *,
	    const struct policygov_doc *proposed, const char *actor,
	    struct policygov_result *);

#endif
