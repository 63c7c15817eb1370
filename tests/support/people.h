/*
 * people: users for integration tests, made as an operator makes them
 * (`cb-admin user-create`, the password on stdin), and their logins.
 * Passwords and tokens are recorded for the log scan (test_record_secret).
 */
#ifndef CB_TEST_PEOPLE_H
#define CB_TEST_PEOPLE_H

#include <stddef.h>

#include "http.h"
#include "jwt.h"

#define TOKSZ		JWT_TOKEN_BUFSZ

struct tuser {
	char	 email[96];
	char	 password[48];
	char	 id[40];
	char	 org[24];
	char	 slug[64];	/* the org's slug: named at login */
};

/* A fresh org (unique slug) via cb-admin org-create. */
void	 new_org(char *slug, size_t slugsz);
/* A user of org `slug` with `role`. */
void	 new_user(const char *slug, const char *role, struct tuser *);
/* Empty the login rate buckets of 127.0.0.1 and of (`slug`, `email`) (may be NULL). */
void	 reset_limits(const char *slug, const char *email);
/* POST /api/v1/auth/login ({"org": slug} left out when slug is NULL). */
void	 login(const char *slug, const char *email, const char *password, struct http_resp *);
/* A successful login: its access and refresh tokens. */
void	 login_ok(const struct tuser *, char access[TOKSZ], char refresh[80]);
/*
 * A user of org `slug` for each role of `roles` (NULL-terminated), each
 * logged in: users[i] and its access token access[i].
 */
void	 new_staff(const char *slug, const char *const *roles, struct tuser *users,
	    char (*access)[TOKSZ]);
/* A login that must be refused (401), its bucket emptied first: its time in ms. */
double	 login_refused_ms(const char *slug, const char *email, const char *password);
/* The median of n values (sorts them in place): login timings compared. */
double	 test_median(double *v, int n);

#endif
