/*
 * submit: see submit.h.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "http.h"
#include "seed.h"
#include "submit.h"

void
submit_form(const char *form_id, const char *tok, const char *key, const char *body,
    char out[40])
{
	struct http_resp r;
	char		 path[160], a[128], k[160], own[512];
	const char	*h[] = { "Content-Type: application/json", a, k, NULL };

	if (body == NULL) {
		snprintf(own, sizeof(own), "{\"data\":{\"full_name\":\"Jane Doe\","
		    "\"email\":\"jane@example.com\",\"message\":\"key %s\"}}", key);
		body = own;
	}
	snprintf(path, sizeof(path), "/api/v1/forms/%s/submit", form_id);
	snprintf(a, sizeof(a), "Authorization: Bearer %s", tok);
	snprintf(k, sizeof(k), "Idempotency-Key: \"%s\"", key);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 201, "submit: %ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(http_json_str(&r, "submission_id"));
	snprintf(out, 40, "%s", http_json_str(&r, "submission_id"));
	http_free(&r);
}

void
submit_form_new_tab(const char *form_id, const char *key, const char *body, char out[40])
{
	char	 ctx[40], tok[64];

	seed_context(form_id, ctx, tok);
	submit_form(form_id, tok, key, body, out);
}

void
submit_set_field(const char *api_key, const char *ctx, const char *selector, const char *value,
    const char *nonce, char out[40])
{
	struct http_resp r;
	char		 path[160], a[160], body[1024];
	const char	*h[] = { "Content-Type: application/json", a, NULL };

	snprintf(a, sizeof(a), "Authorization: Bearer %s", api_key);
	snprintf(path, sizeof(path), "/api/v1/contexts/%s/commands", ctx);
	snprintf(body, sizeof(body), "{\"type\":\"set_field\",\"selector\":\"%s\","
	    "\"value\":\"%s\",\"nonce\":\"%s\"}", selector, value, nonce);
	http_do("POST", path, h, body, strlen(body), &r);
	ck_assert_msg(r.status == 202, "set_field: %ld %s", r.status, r.body);
	snprintf(out, 40, "%s", http_json_str(&r, "id"));
	http_free(&r);
}
