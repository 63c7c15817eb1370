/*
 * whsecret: see whsecret.h.  The plaintext of a secret lives only in
 * buffers wiped before they are freed.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "errs.h"
#include "seal.h"
#include "stdwh.h"
#include "whsecret.h"

static int
whsecret_aad(const char *table, const char *id, const char *column, char *out, size_t outsz)
{
	int	 n = snprintf(out, outsz, "%s:%s:%s", table, id, column);

	return n < 0 || (size_t)n >= outsz ? CB_ERR_VALIDATION : CB_OK;
}

/* Seal in (a secret) or open it (sealed text) into out, under its row's AAD. */
static int
whsecret_run(const struct seal_keyring *kr, const char *table, const char *id,
    const char *column, int seal, const char *in, struct buf *out)
{
	char	 aad[128];
	int	 rc;

	if ((rc = whsecret_aad(table, id, column, aad, sizeof(aad))) != CB_OK)
		return rc;
	if (!seal)
		return seal_open_text(kr, SEAL_PURPOSE_TOKENS, in, aad, out);
	rc = seal_seal_text(kr, SEAL_PURPOSE_TOKENS, (const unsigned char *)in, strlen(in), aad,
	    out);
	/* No current key is the keyring's state, not the caller's. */
	return rc == CB_ERR_CONFIG ? CB_ERR_UNAVAILABLE : rc;
}

int
whsecret_seal(const struct seal_keyring *kr, const char *table, const char *id,
    const char *column, const char *secret, struct buf *out)
{
	return whsecret_run(kr, table, id, column, 1, secret, out);
}

int
whsecret_open(const struct seal_keyring *kr, const char *table, const char *id,
    const char *column, const char *text, struct buf *plain)
{
	return whsecret_run(kr, table, id, column, 0, text, plain);
}

/* Open the sealed text and parse it into keys[(*nkeys)++]. */
static int
whsecret_load_one(const struct seal_keyring *kr, const char *table, const char *id,
    const char *column, const char *text, struct stdwh_key *keys, size_t *nkeys)
{
	struct buf	 plain;
	int		 rc;

	buf_init(&plain, STDWH_SECRET_BUFSZ);
	if ((rc = whsecret_open(kr, table, id, column, text, &plain)) == CB_OK &&
	    (rc = stdwh_key_parse(buf_cstr(&plain), &keys[*nkeys])) == CB_OK)
		(*nkeys)++;
	else if (rc == CB_ERR_VALIDATION)
		rc = CB_ERR_CRYPTO;	/* it opened, but is not a secret: a broken row */
	buf_wipe(&plain);
	return rc;
}

int
whsecret_load(const struct seal_keyring *kr, const char *table, const char *id,
    const char *cur_text, const char *prev_text, struct stdwh_key keys[2], size_t *nkeys)
{
	int	 rc;

	*nkeys = 0;
	if ((rc = whsecret_load_one(kr, table, id, "secret", cur_text, keys, nkeys)) != CB_OK ||
	    prev_text == NULL)
		return rc;
	return whsecret_load_one(kr, table, id, "secret_prev", prev_text, keys, nkeys);
}

int
whsecret_rotate(const struct seal_keyring *kr, const char *table, const char *id,
    const char *cur_text, int keep_prev, char *secret, struct buf *sealed, struct buf *prev)
{
	struct buf	 cur;
	int		 rc;

	buf_init(&cur, STDWH_SECRET_BUFSZ);
	if ((rc = whsecret_open(kr, table, id, "secret", cur_text, &cur)) == CB_OK && (!keep_prev ||
	    (rc = whsecret_seal(kr, table, id, "secret_prev", buf_cstr(&cur), prev)) == CB_OK)) {
		stdwh_secret_new(secret);
		rc = whsecret_seal(kr, table, id, "secret", secret, sealed);
	}
	buf_wipe(&cur);
	return rc;
}
