/*
 * seed: a fresh tenant for a test, made with the operator CLI (cb-admin)
 * exactly as an operator would: an org with a unique slug, the example
 * contact form (published v1), its agent policy, an agent and an API key.
 */
#ifndef CB_TEST_SEED_H
#define CB_TEST_SEED_H

#include <stddef.h>

struct seed {
	char	 slug[48];
	char	 form_id[40];
	char	 agent_id[40];
	char	 api_key[80];
};

/* Abort the test (ck_abort) on any failure. */
void	 seed_tenant(struct seed *);
/* The string member `member` of cb-admin's JSON answer into dst (asserted there). */
void	 seed_take(const char *json, const char *member, char *dst, size_t dstsz);
/* Run cb-admin with the given arguments; its stdout (JSON) into out. */
int	 seed_admin(const char *args, char *out, size_t outsz);
/* The same with cb-admin's stderr (its warnings, its refusals) in out too. */
int	 seed_admin_all(const char *args, char *out, size_t outsz);
/* Publish a new version of the form from a definition file. */
int	 seed_publish(const char *form_id, const char *definition_path);

/* A new tab context for the form: ctx_ref and tab token. */
void	 seed_context(const char *form_id, char ctx[40], char token[64]);

/* A string member of cb-admin's one-line JSON answer into dst (asserted present). */
void	 seed_take(const char *json, const char *member, char *dst, size_t dstsz);

#endif
