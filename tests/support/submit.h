/*
 * submit: a form submission through the real submit route
 * (POST /api/v1/forms/{id}/submit, through nginx) as a tab makes it: its
 * tab token, an Idempotency-Key, a JSON body.  For suites that need a
 * submission (and so an outbox row) rather than suites about the route.
 */
#ifndef CB_TEST_SUBMIT_H
#define CB_TEST_SUBMIT_H

/* Jane Doe's contact: what the suites submit when the data does not matter. */
#define SUBMIT_BODY \
	"{\"data\":{\"full_name\":\"Jane Doe\",\"email\":\"jane@example.com\"}}"

/*
 * Submit body with tab token `tok` under Idempotency-Key `key`; asserts the
 * 201 and copies the submission id into out.  body NULL: Jane Doe's contact
 * with the key as its message, so that one tab's submissions under distinct
 * keys are distinct data (the same data again would be a duplicate
 * submission, 409, within CB_SUBMIT_DEDUPE_S).
 */
void	 submit_form(const char *form_id, const char *tok, const char *key, const char *body,
	    char out[40]);
/* The same from a new tab (a fresh context and token of the form). */
void	 submit_form_new_tab(const char *form_id, const char *key, const char *body, char out[40]);
/*
 * An agent's set_field of `selector` to the string `value` (no quotes or
 * backslashes) in context ctx, under its API key and `nonce`
 * (POST /api/v1/contexts/{ctx}/commands); asserts the 202 and copies the
 * command id into out.
 */
void	 submit_set_field(const char *api_key, const char *ctx, const char *selector,
	    const char *value, const char *nonce, char out[40]);

#endif
