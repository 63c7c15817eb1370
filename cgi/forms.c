/*
 * GET /api/v1/forms/{form_id}
 *
 * Who: the browser tab holding the context (Authorization: Bearer tab_...).
 * Idempotency-Key: not applicable (read-only).
 * Answers: 200 {"form_id","version","definition",...} for the version the
 *          context pinned, never "latest" mid-session; header Form-Version.
 *          When a newer version is published: "newer_version" in the body
 *          and a Form-Version-Latest header, so the page can offer a refresh.
 *          401 without a valid tab token; 404 for any other form id (the
 *          context's form only: another tenant's id leaks nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "forms.h"
#include "route.h"
#include "tab.h"
#include "util.h"

static int
forms_get(struct req *r, const void *args)
{
	const struct tab_ctx	*t = r->auth;
	struct buf		 b;
	char			*def = NULL, ver[16];
	int			 rc, current = 0;

	(void)args;
	/* A failure to learn the latest version does not fail the load. */
	if ((rc = forms_load(r->app, t->org, t->form_id, t->form_version, &def, &current)) != CB_OK)
		return rc;
	buf_init(&b, REQ_RESP_MAX);
	/* The stored definition is already canonical JSON: splice, do not re-parse. */
	buf_printf(&b, "{\"form_id\":\"%s\",\"version\":%d,", t->form_id, t->form_version);
	if (current > t->form_version)
		buf_printf(&b, "\"newer_version\":%d,", current);
	buf_puts(&b, "\"definition\":");
	buf_puts(&b, def);
	buf_putc(&b, '}');
	snprintf(ver, sizeof(ver), "%d", t->form_version);
	resp_header(r, "Form-Version", ver);
	if (current > t->form_version) {
		snprintf(ver, sizeof(ver), "%d", current);
		resp_header(r, "Form-Version-Latest", ver);
	}
	resp_header(r, "Cache-Control", "private, no-store");
	resp_body(r, 200, "application/json", buf_cstr(&b), b.len);
	buf_free(&b);
	free(def);
	return CB_OK;
}

static const struct route forms_routes[] = {
	{ .method = "GET", .pattern = "/api/v1/forms/{form_id}",
	  .auth = ROUTE_AUTH_TAB, .authorize = tab_form_authorize, .act = forms_get },
};

ROUTE_MAIN("forms", forms_routes)
