/*
 * formenc: a strict reader of application/x-www-form-urlencoded bodies
 * (Slack's interactivity callbacks post one field, payload=<JSON>), driven
 * by a field table as the JSON reader is (jsonv.h).
 *
 * The body is name=value pairs joined by '&'; '+' is a space and %XX a
 * byte.  Refused, each with the field and a reason in fe_error:
 *   - an empty pair ("a=1&&b=2", a leading or trailing '&'), a pair without
 *     '=', an empty name;
 *   - a '%' not followed by two hex digits, a decoded NUL byte, a name or
 *     value that is not valid UTF-8 once decoded;
 *   - a name the table does not know, a name given twice, a required field
 *     missing, a value longer than the field's max (decoded bytes).
 * Decoded strings live in one arena the caller frees (formenc_parse sets
 * *arena, even on failure); each field's char * slot in the args struct
 * points into it or is NULL (every slot is NULL after a failure).  Nothing
 * here logs a value.
 */
#ifndef CB_FORMENC_H
#define CB_FORMENC_H

#include <stddef.h>

#define FORMENC_REQUIRED	1

struct fe_field {
	const char	*name;
	int		 flags;		/* FORMENC_REQUIRED */
	size_t		 max;		/* decoded bytes */
	size_t		 off;		/* offsetof(args, the char * slot) */
};

struct fe_error {
	char		 field[64];	/* the field concerned, or "" */
	const char	*reason;	/* static text */
};

/* CB_OK, or CB_ERR_VALIDATION with *err filled. */
int	 formenc_parse(const char *body, size_t len, const struct fe_field *fields,
	    size_t nfields, void *args, char **arena, struct fe_error *err)
	    __attribute__((warn_unused_result));

#endif
