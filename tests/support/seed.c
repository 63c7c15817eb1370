/*
 * seed: see seed.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "http.h"
#include "seed.h"
#include "util.h"

int
seed_admin(const char *args, char *out, size_t outsz)
{
	char	 cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s/bin/cb-admin %s 2>/dev/null", test_env("CB_BUILD"), args);
	return test_run(cmd, out, outsz);
}

void
seed_take(const char *json, const char *member, char *dst, size_t dstsz)
{
	cJSON	*j = cJSON_Parse(json), *v;

	ck_assert_msg(j != NULL, "cb-admin printed no JSON: %s", json);
	v = cJSON_GetObjectItem(j, member);
	ck_assert_msg(cJSON_IsString(v), "no %s in %s", member, json);
	util_strlcpy(dst, v->valuestring, dstsz);
	cJSON_Delete(j);
}

void
seed_tenant(struct seed *s)
{
	char	 args[1024], out[4096];
	static int n;

	snprintf(s->slug, sizeof(s->slug), "t%ld-%d-%u", (long)getpid(), n++,
	    (unsigned)(util_now_ms()) % 100000u);
	snprintf(args, sizeof(args), "org-create %s 'Test tenant'", s->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "form-create %s 'Contact us' %s/docs/examples/contact-form.json",
	    s->slug, test_env("CB_REPO"));
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "form_id", s->form_id, sizeof(s->form_id));
	snprintf(args, sizeof(args), "policy-set %s set_field,focus,highlight,show_message "
	    "'#full_name,#email,#topic,#message,#subscribe' 600", s->form_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "agent-create %s test-agent", s->slug);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "agent_id", s->agent_id, sizeof(s->agent_id));
	snprintf(args, sizeof(args), "key-create %s", s->agent_id);
	ck_assert_int_eq(seed_admin(args, out, sizeof(out)), 0);
	seed_take(out, "api_key", s->api_key, sizeof(s->api_key));
	test_record_secret(s->api_key);
}

int
seed_publish(const char *form_id, const char *path)
{
	char	 args[1024], out[1024];

	snprintf(args, sizeof(args), "form-publish %s %s", form_id, path);
	return seed_admin(args, out, sizeof(out));
}

void
seed_context(const char *form_id, char ctx[40], char token[64])
{
	struct http_resp r;
	char		 body[128];
	const char	*h[] = { "Content-Type: application/json", NULL };

	snprintf(body, sizeof(body), "{\"form_id\":\"%s\"}", form_id);
	http_do("POST", "/api/v1/contexts", h, body, strlen(body), &r);
	ck_assert_msg(r.status == 201, "context: %ld %s", r.status, r.body);
	util_strlcpy(ctx, http_json_str(&r, "ctx_ref"), 40);
	util_strlcpy(token, http_json_str(&r, "tab_token"), 64);
	test_record_secret(token);
	http_free(&r);
}
