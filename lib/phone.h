/*
 * phone: telephone numbers as the voice platform and people write them,
 * normalised to E.164 ("+" and 8 to 15 digits, the country code first) so
 * that one number has one spelling in lookups, cache keys and logs.
 *
 * Accepted: an international number ("+44 20 7946 0958", "0044 20 7946
 * 0958"), or a national one with the tenant's default country code
 * ("(415) 555-2671" with "1"; "020 7946 0958" with "44": one trunk "0"
 * dropped).  Separators: space, '-', '.', '/', and one pair of parentheses.
 * Refused (CB_ERR_VALIDATION): letters (vanity numbers), extensions,
 * anything else, a country code starting with 0, fewer than 8 or more than
 * 15 digits, a national number without a default country code.  For the
 * NANP (country code 1) a national number is exactly ten digits, or eleven
 * with the leading 1.  No numbering plan beyond that is checked: a well-
 * formed number that no one has is the lookup's to miss.
 */
#ifndef CB_PHONE_H
#define CB_PHONE_H

#include <stddef.h>

#define PHONE_E164_MAX		16	/* "+" and 15 digits */
#define PHONE_E164_BUFSZ	(PHONE_E164_MAX + 1)
#define PHONE_IN_MAX		64	/* bytes of input looked at */

/* in -> out ("+..."); default_cc: "1".."999" or NULL. */
int	 phone_e164(const char *in, const char *default_cc, char out[PHONE_E164_BUFSZ])
	    __attribute__((warn_unused_result));

/*
 * An E.164 number shown masked, for a reader who may see that a call came
 * from a number and which, but not the number: "+" and one asterisk per
 * digit but the last four ("+14155552671" -> "+*******2671").  "" for
 * anything that is not E.164.
 */
void	 phone_mask(const char *e164, char out[PHONE_E164_BUFSZ]);

#endif
