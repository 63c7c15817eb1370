/*
 * tab: tab tokens and the context they open.
 *
 * A tab token is 32 random bytes, URL-safe base64, prefixed "tab_".  Only
 * its BLAKE2b-256 hash is stored (contexts.tab_token_hash): the token is
 * high-entropy, so an unkeyed hash cannot be reversed by guessing.  Lookups
 * go to Redis first (a cache of the immutable context row) and fall back to
 * Postgres, so losing Redis only slows a lookup down.
 */
#ifndef CB_TAB_H
#define CB_TAB_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct kv;
struct memo;
struct req;

#define TAB_TOKEN_BYTES	32
#define TAB_TOKEN_LEN	(4 + 43)		/* "tab_" + base64url(32) */
#define TAB_HASH_HEX	(2 * 32 + 1)

struct tab_ctx {
	char		 ctx_id[37];
	long long	 org_id;
	char		 org[24];		/* org_id as text, for query params */
	char		 form_id[37];
	int		 form_version;
	int64_t		 expires_at;
};

/* A new token and the "\\x..." bytea literal of its hash for INSERT. */
void	 tab_token_new(char token[TAB_TOKEN_LEN + 1], char hash_bytea[2 + TAB_HASH_HEX]);
/* The bytea literal of a presented token's hash; CB_ERR_UNAUTHENTICATED if malformed. */
int	 tab_token_hash(const char *token, char hash_bytea[2 + TAB_HASH_HEX]);
/*
 * Find the live context of a token: this process's memo, then Redis, then
 * Postgres (lib/readthrough.h; memo and kv may be NULL).
 */
int	 tab_lookup(struct db *, struct kv *, struct memo *, const char *token, struct tab_ctx *);
/*
 * Fill t from a contexts row's columns as text (id, org_id, form_id,
 * form_version, expires_at in epoch seconds); -1 if one is malformed.
 */
int	 tab_from_fields(struct tab_ctx *, const char *id, const char *org, const char *form,
	    const char *version, const char *expires);
/* Authenticate a request by "Authorization: Bearer tab_..." into req->auth. */
int	 tab_authenticate(struct req *);
/*
 * A route's authorize hook (route.h's escape hatch) for a tab: it may use
 * only the form its context pinned, the path's form_id against the
 * token's, not a role; another form is CB_ERR_NOT_FOUND.
 */
int	 tab_form_authorize(struct req *);

#endif
