/*
 * fakesoql: the SOQL subset cb-fake-sf's query resource understands, as a
 * pure parser (no state), so that the fake answers what Salesforce would:
 *
 *   SELECT <field> [, <field>]... FROM <object> WHERE <field> = '<literal>'
 *          [LIMIT <n>]
 *
 * Keywords in any case, whitespace anywhere between tokens.  A literal's
 * escapes are Salesforce's ("Quoted String Escape Sequences"): \' \" \\
 * \n \r \t \b \f; any other backslash, an unterminated literal, a
 * control byte or invalid UTF-8 in it, and every token or clause outside
 * the subset (OR, AND, LIKE, ORDER BY, a subquery, an unquoted value) is a
 * MALFORMED_QUERY, as Salesforce answers for syntax it cannot read.  The
 * parser does not know any schema: the fake checks the object
 * (INVALID_TYPE) and the fields (INVALID_FIELD) itself.
 */
#ifndef CB_FAKESOQL_H
#define CB_FAKESOQL_H

#include <stddef.h>

#define FS_FIELDS_MAX	8
#define FS_NAME_MAX	84
#define FS_VALUE_MAX	4000
#define FS_QUERY_MAX	20000

struct fs_query {
	char	 fields[FS_FIELDS_MAX][FS_NAME_MAX];
	size_t	 nfields;
	char	 object[FS_NAME_MAX];
	char	 where[FS_NAME_MAX];
	char	 value[FS_VALUE_MAX + 1];	/* the literal, unescaped */
	long	 limit;				/* -1: none */
};

/* 0, or -1 with a Salesforce-like message (the error code is MALFORMED_QUERY). */
int	 fs_parse(const char *q, struct fs_query *, char *msg, size_t msgsz);

#endif
