/*
 * users: people who administer a tenant.
 *
 * The email is personal data: stored sealed (purpose pii, bound to the row
 * as "users:<id>:email") with a keyed BLAKE2b hash of its normalised form
 * (trimmed, lower-cased) as a blind index to find the account at login.  The
 * index key is derived from the server pepper (CB_API_KEY_PEPPER), so a
 * database dump alone cannot confirm an address.  Passwords are argon2id
 * (lib/pwhash.h).  Emails are unique across the deployment.
 */
#ifndef CB_USERS_H
#define CB_USERS_H

#include <stddef.h>

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
int	 users_email_index(const char *pepper_hex, const char *email, char out[2 + 64 + 1]);
/*
 * Create a user in org (numeric id as text).  CB_ERR_VALIDATION for a bad
 * email, role or password (length), CB_ERR_DB_CONFLICT if the email exists.
 */
int	 users_create(struct app *, const char *org, const char *email, const char *password,
	    size_t pwlen, const char *role, char id_out[37]);
/* Find an enabled user by email; CB_ERR_NOT_FOUND if none. */
int	 users_find_by_email(struct app *, const char *email, struct user *);
/* The email of a user, opened from its seal (for admin listings). */
int	 users_email(struct app *, const char *id, const char *sealed, char *out, size_t outsz);

#endif
