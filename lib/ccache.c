/* ccache: the contact cache in Redis (ccache.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "errs.h"
#include "kv.h"
#include "phone.h"
#include "ccache.h"
#include "util.h"

#define CCACHE_PREFIX	"cb:sfcontact:"
#define CCACHE_CONTEXT	"cb:contact-cache:v1"

/* A Contact Id: 15 or 18 alphanumerics. */
static int
ccache_id_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n != 15 && n != 18)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return 1;
}

int
ccache_key(char out[CCACHE_KEY_MAX], const char *pepper_hex, const char *org_id,
    const char *e164)
{
	unsigned char	 pepper[32], sub[32], h[16];
	char		 hex[33], check[PHONE_E164_BUFSZ];
	long long	 org;
	size_t		 i;
	int		 hi, lo;

	out[0] = '\0';
	if (pepper_hex == NULL || strlen(pepper_hex) != 64 || org_id == NULL ||
	    util_parse_ll(org_id, 1, 99999999999999999LL, &org) != CB_OK || e164 == NULL ||
	    phone_e164(e164, NULL, check) != CB_OK || strcmp(check, e164) != 0)
		return CB_ERR_VALIDATION;
	for (i = 0; i < 32; i++) {
		if ((hi = util_hexval(pepper_hex[2 * i])) < 0 ||
		    (lo = util_hexval(pepper_hex[2 * i + 1])) < 0) {
			sodium_memzero(pepper, sizeof(pepper));
			return CB_ERR_VALIDATION;
		}
		pepper[i] = (unsigned char)(hi << 4 | lo);
	}
	/* A key of its own, so the pepper's other uses never meet this one. */
	crypto_generichash(sub, sizeof(sub), (const unsigned char *)CCACHE_CONTEXT,
	    strlen(CCACHE_CONTEXT), pepper, sizeof(pepper));
	crypto_generichash(h, sizeof(h), (const unsigned char *)e164, strlen(e164),
	    sub, sizeof(sub));
	sodium_memzero(pepper, sizeof(pepper));
	sodium_memzero(sub, sizeof(sub));
	util_hex(hex, h, sizeof(h));
	snprintf(out, CCACHE_KEY_MAX, CCACHE_PREFIX "%lld:%s", org, hex);
	return CB_OK;
}

int
ccache_get(struct kv *kv, const char *key, char id[CCACHE_ID_BUFSZ], int *hit)
{
	struct kv_reply	*r = NULL;
	const char	*v;
	size_t		 len = 0;
	int		 rc;

	*hit = 0;
	id[0] = '\0';
	if ((rc = kv_cmd(kv, &r, 2, (const char *[]){ "GET", key }, NULL)) != CB_OK) {
		kv_reply_free(r);
		return rc;
	}
	if (kv_reply_type(r) == KV_STR && (v = kv_reply_str(r, &len)) != NULL) {
		if (len == 4 && memcmp(v, "none", 4) == 0)
			*hit = 1;
		else if (len > 3 && memcmp(v, "id:", 3) == 0 && ccache_id_ok(v + 3, len - 3)) {
			memcpy(id, v + 3, len - 3);
			id[len - 3] = '\0';
			*hit = 1;
		}
	}
	kv_reply_free(r);
	return CB_OK;
}

int
ccache_put(struct kv *kv, const char *key, const char *id, long long ttl_s)
{
	char	 val[24], ttl[24];

	if (ttl_s < 1 || (id[0] != '\0' && !ccache_id_ok(id, strlen(id))))
		return CB_ERR_VALIDATION;
	if (id[0] != '\0')
		snprintf(val, sizeof(val), "id:%s", id);
	else
		util_strlcpy(val, "none", sizeof(val));
	snprintf(ttl, sizeof(ttl), "%lld", ttl_s);
	return kv_cmd(kv, NULL, 5, (const char *[]){ "SET", key, val, "EX", ttl }, NULL);
}

int
ccache_forget(struct kv *kv, const char *key)
{
	return kv_cmd(kv, NULL, 2, (const char *[]){ "DEL", key }, NULL);
}
