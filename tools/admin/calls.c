/*
 * cb-admin's call commands: call-source-add, call-source-rotate,
 * call-source-list (lib/calls.h: a secret is printed once) and
 * sf-contact-forget (lib/ccache.h: a phone number is never echoed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "calls.h"
#include "ccache.h"
#include "errs.h"
#include "keyring.h"
#include "kv.h"
#include "phone.h"
#include "util.h"

/* call-source-add ORG NAME [--country-code CC]: the secret is shown once. */
int
cmd_call_source_add(struct admin *a, int argc, char **argv)
{
	struct seal_keyring	*kr;
	struct keyring		 k;
	char			 id[37], secret[STDWH_SECRET_BUFSZ];
	const char		*cc = NULL;
	cJSON			*o;
	int			 rc;

	if (argc == 4 && strcmp(argv[2], "--country-code") == 0)
		cc = argv[3];
	else if (argc != 2)
		return fail("usage: call-source-add ORG NAME [--country-code CC]");
	if (cc != NULL && !calls_cc_ok(cc))
		return fail("--country-code: 1 to 3 digits, not starting with 0 (e.g. 1, 44)");
	memset(&k, 0, sizeof(k));
	if ((kr = admin_keys(a, &k)) == NULL) {
		keyring_close(&k);
		return 1;
	}
	rc = calls_source_create(a->db, kr, argv[0], argv[1], cc, id, secret);
	keyring_close(&k);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("call-source-add: no such organisation");
	if (rc == CB_ERR_CONFLICT)
		return fail("call-source-add: the organisation has a source of that name");
	if (rc == CB_ERR_VALIDATION)
		return fail("call-source-add: NAME must be 1 to %d bytes of UTF-8", CALLS_NAME_MAX);
	if (rc != CB_OK)
		return fail("call-source-add: %s", errs_name(rc));
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "source_id", id) == NULL ||
	    cJSON_AddStringToObject(o, "name", argv[1]) == NULL ||
	    (cc ? cJSON_AddStringToObject(o, "country_code", cc) :
	    cJSON_AddNullToObject(o, "country_code")) == NULL ||
	    cJSON_AddStringToObject(o, "secret", secret) == NULL)
		util_oom();
	admin_print_secret(o);
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

/* call-source-rotate SOURCE_ID: the new secret; the old one until the overlap ends. */
int
cmd_call_source_rotate(struct admin *a, int argc, char **argv)
{
	struct seal_keyring	*kr;
	struct keyring		 k;
	char			 secret[STDWH_SECRET_BUFSZ], until[32];
	int			 rc;

	if (argc != 1 || !util_uuid_ok(argv[0]))
		return fail("usage: call-source-rotate SOURCE_ID");
	memset(&k, 0, sizeof(k));
	if ((kr = admin_keys(a, &k)) == NULL) {
		keyring_close(&k);
		return 1;
	}
	rc = calls_source_rotate(a->db, kr, argv[0], a->s.call_secret_overlap_s, secret, until);
	keyring_close(&k);
	if (rc == CB_ERR_NOT_FOUND)
		return fail("call-source-rotate: no such call source");
	if (rc != CB_OK)
		return fail("call-source-rotate: %s", errs_name(rc));
	/* The id was checked as a uuid, the secret is base64, until is a timestamp. */
	printf("{\"source_id\":\"%s\",\"secret\":\"%s\",\"previous_secret_valid_until\":",
	    argv[0], secret);
	if (until[0] != '\0')
		printf("\"%s\"}\n", until);
	else
		printf("null}\n");
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

int
cmd_call_source_list(struct admin *a, int argc, char **argv)
{
	cJSON	*view = NULL;
	int	 rc;

	if (argc != 1)
		return fail("usage: call-source-list ORG");
	if ((rc = calls_source_list(a->db, argv[0], &view)) != CB_OK)
		return fail("call-source-list: %s", errs_name(rc));
	admin_print_json(view);
	return 0;
}


/*
 * sf-contact-forget ORG PHONE: a contact event.  The cached answer to "which
 * Contact has this number" (lib/ccache.h) is dropped, so the next call
 * activity from the number is linked by a fresh query: run it after a
 * contact is created, renumbered, merged or deleted in the tenant's org.
 */
int
cmd_sf_contact_forget(struct admin *a, int argc, char **argv)
{
	struct kv	*kv;
	char		 org[24], e164[PHONE_E164_BUFSZ], key[CCACHE_KEY_MAX];
	int		 rc;

	if (argc != 2)
		return fail("usage: sf-contact-forget ORG PHONE");
	if (phone_e164(argv[1], NULL, e164) != CB_OK)
		return fail("sf-contact-forget: PHONE must be an international number "
		    "(+ and the country code)");
	if (admin_org_resolve(a, argv[0], org, sizeof(org)))
		return 1;
	if (ccache_key(key, a->s.blind_index_key, org, e164) != CB_OK)
		return fail("sf-contact-forget: the blind index key is not 64 hex characters");
	kv = kv_open(a->s.redis_host, (int)a->s.redis_port, a->s.redis_password,
	    (int)a->s.redis_timeout_ms);
	rc = ccache_forget(kv, key);
	kv_close(kv);
	sodium_memzero(e164, sizeof(e164));
	if (rc != CB_OK)
		return fail("sf-contact-forget: Redis: %s", errs_name(rc));
	/* The number is personal data: not echoed. */
	printf("{\"org_id\":%s,\"forgotten\":true}\n", org);
	return 0;
}
