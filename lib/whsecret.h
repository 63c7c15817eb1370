/*
 * whsecret: a Standard Webhooks secret (lib/stdwh.h) kept sealed in a
 * table's row (lib/calls.c: call_sources, lib/webhooks.c:
 * webhook_endpoints).  Sealed under SEAL_PURPOSE_TOKENS with the AAD
 * "<table>:<id>:<column>", so a sealed value copied to another row or
 * column does not open.  Opened plaintext goes to a buffer the caller
 * wipes, or straight into a key; nothing here logs.
 */
#ifndef CB_WHSECRET_H
#define CB_WHSECRET_H

#include <stddef.h>

struct buf;
struct seal_keyring;
struct stdwh_key;

/* Seal secret into out; CB_ERR_UNAVAILABLE when the keyring has no current key. */
int	 whsecret_seal(const struct seal_keyring *, const char *table, const char *id,
	    const char *column, const char *secret, struct buf *out);
/* Open the sealed text into plain (the caller wipes it). */
int	 whsecret_open(const struct seal_keyring *, const char *table, const char *id,
	    const char *column, const char *text, struct buf *plain);
/*
 * A row's keys: its sealed "secret" (cur_text) into keys[0] and, when
 * prev_text is not NULL, its sealed "secret_prev" into keys[1]; *nkeys
 * counts those loaded.  CB_ERR_CRYPTO when one opens but is not a secret
 * (a broken row).
 */
int	 whsecret_load(const struct seal_keyring *, const char *table, const char *id,
	    const char *cur_text, const char *prev_text, struct stdwh_key keys[2],
	    size_t *nkeys);
/*
 * A rotation's new values: a fresh secret (into secret) sealed into
 * sealed, and, when keep_prev, the row's current one (cur_text, its sealed
 * "secret") resealed as the row's "secret_prev" into prev.
 */
int	 whsecret_rotate(const struct seal_keyring *, const char *table, const char *id,
	    const char *cur_text, int keep_prev, char *secret, struct buf *sealed,
	    struct buf *prev);

#endif
