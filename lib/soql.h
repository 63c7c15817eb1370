/*
 * soql: values placed into SOQL text (Salesforce's query language, for
 * the contact lookup by phone: SELECT Id FROM Contact WHERE Phone = '...').
 *
 * soql_quote appends the value as a SOQL string literal: single quotes
 * around it, and inside it a backslash before ' " and \, and the escapes
 * \n \r \t \b \f for those control characters (Salesforce's "Quoted String
 * Escape Sequences").  Refused (CB_ERR_VALIDATION, nothing appended): any
 * other control character, invalid UTF-8, more than SOQL_VALUE_MAX bytes.
 * With SOQL_LIKE, % and _ are escaped too (\% \_), for a LIKE pattern that
 * must match them literally.  There is no other way to put a value into a
 * query: no SOQL is ever built from unquoted outside input.
 */
#ifndef CB_SOQL_H
#define CB_SOQL_H

#include <stddef.h>

struct buf;

#define SOQL_VALUE_MAX	4000
#define SOQL_LIKE	0x01

int	 soql_quote(struct buf *, const char *value, unsigned flags)
	    __attribute__((warn_unused_result));

#endif
