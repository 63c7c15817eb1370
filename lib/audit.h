/*
 * audit: the append-only, hash-chained audit trail (sql/0010_audit.up.sql).
 *
 * A row says who (actor: "user:<id>", "agent:<id>", "operator", "system"),
 * did what (action: dotted lower-case words, e.g. "command.blocked"), to
 * what (subject: an id), for which tenant (org, or none for the
 * installation), with a JSON object of details that holds ids, names and
 * hashes, never a payload or a secret.
 *
 * Appending is one INSERT (audit_append, or AUDIT_INSERT inside a route's
 * own statement so the row commits with the effect it records).  The
 * worker's audit duty seals committed rows onto the chain (audit_seal);
 * audit_verify walks the chain from the first row and reports the first
 * row that was altered, removed or moved, and whether the head agrees.
 */
#ifndef CB_AUDIT_H
#define CB_AUDIT_H

#include <stdarg.h>
#include <stddef.h>

struct db;

#define AUDIT_DETAIL_MAX	4096

/*
 * The INSERT as SQL text for a statement of its own or a CTE:
 *   $org (bigint text or NULL), $actor, $action, $subject, $detail (jsonb text)
 * given as the five placeholders' names, e.g.
 *   AUDIT_INSERT("$1", "$2", "'command.accepted'", "$4", "$5")
 */
#define AUDIT_INSERT(org, actor, action, subject, detail) \
	"INSERT INTO audit_log (org_id, actor, action, subject, detail) VALUES (" \
	org "::bigint, " actor ", " action ", coalesce(" subject ", ''), " detail "::jsonb)"

/*
 * The same INSERT from the rows of `from` (a CTE of the statement that
 * makes the change): one audit row per row it yields, none when the change
 * touched nothing.  `detail` is an SQL expression of a JSON object, e.g.
 *   AUDIT_INSERT_SELECT("$1", "$3", "'dead_letter.replayed'", "upd.id::text",
 *       "jsonb_build_object('kind', upd.kind)", "upd")
 */
#define AUDIT_INSERT_SELECT(org, actor, action, subject, detail, from) \
	"INSERT INTO audit_log (org_id, actor, action, subject, detail) SELECT " \
	org "::bigint, " actor ", " action ", coalesce(" subject ", ''), (" detail ")::jsonb" \
	" FROM " from

/* The actor of what cb-admin does (detail "cli_user" says who ran it). */
#define AUDIT_ACTOR_OPERATOR	"operator"

/*
 * The detail's {"cli_user": ...} part (or {}) as an SQL jsonb expression,
 * from the placeholder that carries audit_actor's cli_user (below), to be
 * joined with || to the rest of a detail object.
 */
#define AUDIT_CLI_USER(p) \
	"CASE WHEN " p "::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('cli_user', " \
	p "::text) END"

/*
 * The actor an audit row names for `who`, so every cb-admin row has the
 * one form docs/operations.md states: "cli:<unix user>" (cb-admin's own
 * name for its runner) is AUDIT_ACTOR_OPERATOR with *cli_user = who, for
 * the detail's "cli_user"; anything else ("user:<id>", "system", ...) is
 * itself, *cli_user NULL.  Shared code that a route and the CLI both call
 * (lib/mtls.c, lib/policygov.c) passes its caller's name through this.
 */
const char *audit_actor(const char *who, const char **cli_user);

/*
 * A detail object from (key, value) string pairs ended by a NULL key; a
 * NULL value is JSON null.  Only ids, names and hashes go in (audit.h's
 * rule).  The caller frees the text.
 */
char	*audit_detail(const char *key, ...) __attribute__((sentinel));
/* The same from a va_list (the pairs after `key`). */
char	*audit_detailv(const char *key, va_list);

/*
 * Append one row now, in its own statement (org NULL: the installation;
 * detail NULL: {}).  CB_ERR_VALIDATION when the table refuses it: an
 * action that is not dotted lower-case words, an empty or over-long actor
 * or subject, a detail that is not a JSON object within AUDIT_DETAIL_MAX
 * bytes.
 */
int	 audit_append(struct db *, const char *org, const char *actor, const char *action,
	    const char *subject, const char *detail_json) __attribute__((warn_unused_result));

/* Seal up to `batch` committed rows onto the chain; *sealed gets how many. */
int	 audit_seal(struct db *, int batch, long long *sealed);

struct audit_report {
	long long	 rows;		/* sealed rows walked and found sound */
	long long	 unsealed;	/* rows not sealed yet (not covered) */
	long long	 head_seq;	/* the head's chain_seq */
	char		 head_hash[65];	/* hex */
	/* When the chain is broken: the first row concerned and what is wrong. */
	long long	 bad_seq;	/* its chain_seq (0: the head) */
	long long	 bad_id;	/* its id (0: none, e.g. a row missing at the end) */
	char		 why[160];
};

/*
 * Walk every sealed row in chain order, recomputing each hash from the
 * row's columns and its predecessor's hash.  CB_OK when the chain and the
 * head agree; CB_ERR_CRYPTO when something was altered, removed, inserted
 * or moved (report->why, bad_seq, bad_id name the first place); another
 * error when Postgres could not be read.
 */
int	 audit_verify(struct db *, struct audit_report *);

#endif
