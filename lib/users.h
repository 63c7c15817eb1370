/*
 * users: people who administer a tenant.
 *
 * The email is personal data: stored sealed (purpose pii, bound to the row
 * as "users:<id>:email") with a keyed BLAKE2b hash of its normalised form
 * (trimmed, lower-cased) as a blind index to find the account at login.  The
 * index key is derived from the blind index key (CB_BLIND_INDEX_KEY_FILE),
 * so a database dump alone cannot confirm an address, and rotating the
 * API-key pepper leaves logins working.  While that key is rotated
 * (CB_BLIND_INDEX_KEY_PREVIOUS_FILE set), lookups and the uniqueness check
 * consult the index under the previous key too, until users_reindex has
 * moved every row.  Passwords are argon2id
 * (lib/pwhash.h).
 *
 * Users belong to one tenant: an email is unique within its org only, and
 * a login names the org by its slug (docs/identity.md), so nothing one
 * tenant does reveals or blocks another tenant's users.
 */
#ifndef CB_USERS_H
#define CB_USERS_H

#include <stddef.h>

#include "db.h"
#include "digest.h"

struct app;

#define USERS_EMAIL_MAX	254

struct user {
	char	 id[37];
	char	 org[24];
	char	 role[16];
	char	 password_hash[128];
	int	 disabled;
};

/* 1 if role is admin, operator, viewer or approver. */
int	 users_role_ok(const char *);
/*
 * An email trimmed and lower-cased into out; CB_ERR_VALIDATION when it is
 * not one address (no '@', a space, no dot in the domain) or does not fit.
 */
int	 users_email_normalise(const char *in, char *out, size_t outsz);
/* "\\x..." bytea of the blind index of an email (after normalising it). */
int	 users_email_index(const char *key_hex, const char *email, char out[2 + 64 + 1]);
/*
 * The login rate bucket of (org slug, email): a keyed digest, so one
 * tenant's failed logins never drain another tenant's account, and the key
 * in Redis names neither.  CB_ERR_VALIDATION for an email that is not one.
 */
int	 users_login_bucket(const char *key_hex, const char *org_slug, const char *email,
	    char out[DIGEST_TEXT]);
/*
 * Create a user in org (numeric id as text).  CB_ERR_VALIDATION for a bad
 * email, role or password (length), CB_ERR_DB_CONFLICT if the email exists
 * in that org (only there: other orgs' users are never consulted).
 */
int	 users_create(struct app *, const char *org, const char *email, const char *password,
	    size_t pwlen, const char *role, char id_out[37]);
/*
 * Find the user of an email in the org of that slug (enabled or not: see
 * user.disabled); CB_ERR_NOT_FOUND if none, the org unknown or the email
 * malformed alike.
 */
int	 users_find_by_email(struct app *, const char *org_slug, const char *email,
	    struct user *);
/*
 * Rewrite every user's email index under the current blind index key (after
 * CB_BLIND_INDEX_KEY_FILE changed): each sealed email opened and hashed
 * again, in batches; *changed counts the rows rewritten.  Idempotent.
 */
int	 users_reindex(struct app *, long long *changed);
/* The email of a user, opened from its seal (for admin listings). */
int	 users_email(struct app *, const char *id, const char *sealed, char *out, size_t outsz);

/* The columns of a user in the answers below (the email sealed: users_email). */
#define USERS_COLS	"id, email_sealed, role, " DB_TS("created_at") ", " DB_TS("disabled_at")
enum { USERS_ID, USERS_EMAIL_SEALED, USERS_ROLE, USERS_CREATED_AT, USERS_DISABLED_AT };
/* The organisation's users, oldest first, at most 1000. */
int	 users_list(struct db *, const char *org, struct db_res **out);
/* One user of the organisation: CB_ERR_NOT_FOUND for none (or a malformed id). */
int	 users_get(struct db *, const char *org, const char *id, struct db_res **out);
/*
 * Disable user `id` of organisation `org` and revoke all its sessions
 * (idempotent: disabled_at kept), audited user.disabled as `actor` when it
 * was enabled, all in one statement.  *out: its id and disabled_at
 * (DB_TS).  CB_ERR_NOT_FOUND: no such user in the organisation.
 */
int	 users_disable(struct db *, const char *org, const char *id, const char *actor,
	    struct db_res **out);
/*
 * The Slack member id (NULL: none) user `id` clicks approval buttons as;
 * the user's id as stored in `got`.  CB_ERR_NOT_FOUND: no such user.
 */
int	 users_set_slack(struct db *, const char *id, const char *slack_user, char got[37]);
/* The user of organisation `org` linked to Slack member `slack_user`, or NOT_FOUND. */
int	 users_find_by_slack(struct db *, const char *org, const char *slack_user, char id[37]);

#endif
