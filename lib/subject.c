/* subject: the blind index of data subjects (subject.h). */
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "formdef.h"
#include "phone.h"
#include "subject.h"
#include "users.h"

#define SUBJECT_LABEL	"cb:subject-index:v1"

static int
subject_digest(const char *pepper_hex, const char *kind, const char *norm,
    char out[DIGEST_TEXT])
{
	const char	*parts[2] = { kind, norm };

	return digest_keyed(pepper_hex, SUBJECT_LABEL, parts, 2, out);
}

int
subject_email(const char *pepper_hex, const char *email, char out[DIGEST_TEXT])
{
	char	 norm[USERS_EMAIL_MAX + 1];
	int	 rc;

	if (email == NULL || (rc = users_email_normalise(email, norm, sizeof(norm))) != CB_OK)
		return CB_ERR_VALIDATION;
	rc = subject_digest(pepper_hex, "email", norm, out);
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
subject_e164(const char *pepper_hex, const char *e164, char out[DIGEST_TEXT])
{
	return subject_digest(pepper_hex, "phone", e164, out);
}

int
subject_phone(const char *pepper_hex, const char *phone, const char *default_cc,
    char out[DIGEST_TEXT])
{
	char	 e164[PHONE_E164_BUFSZ];
	int	 rc;

	if (phone == NULL || phone_e164(phone, default_cc, e164) != CB_OK)
		return CB_ERR_VALIDATION;
	rc = subject_e164(pepper_hex, e164, out);
	sodium_memzero(e164, sizeof(e164));
	return rc;
}

/* Append a digest's hex (without "\x") to the list. */
static void
subject_append(struct buf *list, const char *d)
{
	if (list->len > 0)
		buf_puts(list, ",");
	buf_puts(list, d + 2);
}

int
subject_add_value(struct buf *list, const char *pepper_hex, const char *value)
{
	char	 d[DIGEST_TEXT];
	int	 rc;

	if (value == NULL)
		return CB_OK;
	rc = subject_email(pepper_hex, value, d);
	/* An international number only: a national one has no country to read it in. */
	if (rc == CB_ERR_VALIDATION)
		rc = subject_phone(pepper_hex, value, NULL, d);
	if (rc == CB_ERR_VALIDATION)
		return CB_OK;
	if (rc != CB_OK)
		return rc;
	subject_append(list, d);
	return CB_OK;
}

int
subject_of_data(struct buf *list, const char *pepper_hex, const cJSON *def, const cJSON *data)
{
	const cJSON	*f, *name, *type, *v;
	int		 rc;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
		name = cJSON_GetObjectItemCaseSensitive(f, "name");
		type = cJSON_GetObjectItemCaseSensitive(f, "type");
		if (!cJSON_IsString(name) || !cJSON_IsString(type))
			continue;
		v = cJSON_GetObjectItemCaseSensitive(data, name->valuestring);
		if (!cJSON_IsString(v) || !formdef_is_pii(def, name->valuestring))
			continue;
		if (strcmp(type->valuestring, "email") != 0 &&
		    strcmp(type->valuestring, "string") != 0)
			continue;
		if ((rc = subject_add_value(list, pepper_hex, v->valuestring)) != CB_OK)
			return rc;
	}
	return CB_OK;
}
