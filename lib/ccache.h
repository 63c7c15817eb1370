/*
 * ccache: the contact cache, a short-lived memory in Redis of which
 * Salesforce Contact a phone number belongs to, per tenant, so that every
 * event of a call (and the next call from the same number) does not cost
 * another query against the org's daily API allocation.
 *
 * The key never holds the number: "cb:sfcontact:<org_id>:<h>" where h is
 * a keyed BLAKE2b-128 of the E.164 number under a key derived from
 * CB_BLIND_INDEX_KEY_FILE (a hash alone would be reversed by trying every number
 * of a country).  The value is "id:<Contact Id>" for a match and "none" for
 * a number no contact has; the caller gives each its lifetime
 * (CB_SF_CONTACT_TTL_S, CB_SF_CONTACT_MISS_TTL_S).
 *
 * A contact event is what makes a cached answer wrong: a contact created,
 * renumbered, merged or deleted in the org.  ccache_forget drops the
 * number's entry at once (cb-admin sf-contact-forget ORG PHONE today; a
 * Salesforce change-data-capture feed would call the same function); the
 * TTLs bound how long any other change goes unseen.
 *
 * Redis is an accelerator (kv.h): every failure is CB_ERR_KV_DOWN or
 * CB_ERR_KV and the caller asks Salesforce instead.
 */
#ifndef CB_CCACHE_H
#define CB_CCACHE_H

#include <stddef.h>

struct kv;

/* "cb:sfcontact:" + org id (at most 20 digits) + ":" + 32 hex. */
#define CCACHE_KEY_MAX		80
#define CCACHE_ID_BUFSZ		19

/*
 * The key of (org_id, e164) under the blind index key (64 hex characters).
 * CB_ERR_VALIDATION for a malformed pepper, org id or number (which must be
 * E.164 already).
 */
int	 ccache_key(char out[CCACHE_KEY_MAX], const char *pepper_hex,
	    const char *org_id, const char *e164)
	    __attribute__((warn_unused_result));

/*
 * CB_OK and *hit 1 with the cached answer in id ("" for a known miss), or
 * CB_OK and *hit 0 when nothing is cached (or what is cached is not ours);
 * CB_ERR_KV_DOWN / CB_ERR_KV when Redis did not answer.
 */
int	 ccache_get(struct kv *, const char *key, char id[CCACHE_ID_BUFSZ], int *hit);
/* Remember id ("" for a miss) for ttl_s seconds (>= 1). */
int	 ccache_put(struct kv *, const char *key, const char *id, long long ttl_s);
/* Drop the entry; CB_OK whether or not there was one. */
int	 ccache_forget(struct kv *, const char *key);

#endif
