/* fakesoql: the fake's SOQL subset (fakesoql.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jsonv.h"
#include "util.h"

#include "fakesoql.h"

enum fs_tok { TK_END, TK_NAME, TK_COMMA, TK_EQ, TK_STRING, TK_NUMBER, TK_OTHER };

struct fs_lex {
	const char	*p;
	int		 tok;
	char		 text[FS_VALUE_MAX + 1];	/* a name, a number, or the unescaped literal */
	char		 raw[64];			/* the token as written, for messages */
	int		 bad_literal;
};

static int
fs_is_name(int c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	    (!first && ((c >= '0' && c <= '9') || c == '.'));
}

/* The next token; a malformed literal is TK_OTHER with bad_literal set. */
static void
fs_next(struct fs_lex *lx)
{
	const char	*s;
	size_t		 n = 0;

	while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
		lx->p++;
	s = lx->p;
	lx->text[0] = '\0';
	lx->bad_literal = 0;
	if (*s == '\0') {
		lx->tok = TK_END;
		snprintf(lx->raw, sizeof(lx->raw), "<EOF>");
		return;
	}
	if (fs_is_name((unsigned char)*s, 1)) {
		while (n < FS_NAME_MAX - 1 && fs_is_name((unsigned char)s[n], 0))
			n++;
		memcpy(lx->text, s, n);
		lx->text[n] = '\0';
		lx->tok = TK_NAME;
		lx->p = s + n;
	} else if (*s >= '0' && *s <= '9') {
		while (s[n] >= '0' && s[n] <= '9' && n < 18)
			n++;
		memcpy(lx->text, s, n);
		lx->text[n] = '\0';
		lx->tok = TK_NUMBER;
		lx->p = s + n;
	} else if (*s == ',' || *s == '=') {
		lx->tok = *s == ',' ? TK_COMMA : TK_EQ;
		lx->p = s + 1;
	} else if (*s == '\'') {
		const char	*q = s + 1;

		lx->tok = TK_STRING;
		for (;;) {
			char	 c = *q;

			if (c == '\0' || n >= FS_VALUE_MAX) {
				lx->tok = TK_OTHER;
				lx->bad_literal = 1;
				break;
			}
			if (c == '\'') {
				q++;
				break;
			}
			if ((unsigned char)c < 0x20 || c == 0x7f) {
				lx->tok = TK_OTHER;
				lx->bad_literal = 1;
				break;
			}
			if (c == '\\') {
				switch (q[1]) {
				case '\'': c = '\''; break;
				case '"': c = '"'; break;
				case '\\': c = '\\'; break;
				case 'n': c = '\n'; break;
				case 'r': c = '\r'; break;
				case 't': c = '\t'; break;
				case 'b': c = '\b'; break;
				case 'f': c = '\f'; break;
				default:
					lx->tok = TK_OTHER;
					lx->bad_literal = 1;
					break;
				}
				if (lx->tok == TK_OTHER)
					break;
				q++;
			}
			lx->text[n++] = c;
			q++;
		}
		lx->text[n] = '\0';
		lx->p = lx->tok == TK_STRING ? q : s + strlen(s);
	} else {
		lx->tok = TK_OTHER;
		lx->p = s + 1;
	}
	n = (size_t)(lx->p - s);
	if (n >= sizeof(lx->raw))
		n = sizeof(lx->raw) - 1;
	memcpy(lx->raw, s, n);
	lx->raw[n] = '\0';
}

static int
fs_kw(const struct fs_lex *lx, const char *kw)
{
	return lx->tok == TK_NAME && strcasecmp(lx->text, kw) == 0;
}

static int
fs_unexpected(const struct fs_lex *lx, char *msg, size_t msgsz)
{
	if (lx->bad_literal)
		snprintf(msg, msgsz, "Invalid string literal '%.40s'. Illegal character "
		    "sequence or unterminated string.", lx->raw);
	else
		snprintf(msg, msgsz, "unexpected token: '%.40s'", lx->raw);
	return -1;
}

static int
fs_is_keyword(const char *s)
{
	static const char *const kw[] = { "SELECT", "FROM", "WHERE", "LIMIT", "AND", "OR",
	    "NOT", "LIKE", "IN", "ORDER", "BY", "GROUP", "HAVING", "NULL", "TRUE", "FALSE" };
	size_t	 i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strcasecmp(s, kw[i]) == 0)
			return 1;
	return 0;
}

int
fs_parse(const char *q, struct fs_query *out, char *msg, size_t msgsz)
{
	struct fs_lex	 lx;
	const char	*d;

	memset(out, 0, sizeof(*out));
	out->limit = -1;
	if (q == NULL || strlen(q) > FS_QUERY_MAX || !jv_utf8_ok(q, strlen(q))) {
		snprintf(msg, msgsz, "the query is too long, or not text");
		return -1;
	}
	memset(&lx, 0, sizeof(lx));
	lx.p = q;
	fs_next(&lx);
	if (!fs_kw(&lx, "SELECT"))
		return fs_unexpected(&lx, msg, msgsz);
	for (;;) {
		fs_next(&lx);
		if (lx.tok != TK_NAME || fs_is_keyword(lx.text) || out->nfields == FS_FIELDS_MAX)
			return fs_unexpected(&lx, msg, msgsz);
		util_strlcpy(out->fields[out->nfields++], lx.text, FS_NAME_MAX);
		fs_next(&lx);
		if (lx.tok != TK_COMMA)
			break;
	}
	if (!fs_kw(&lx, "FROM"))
		return fs_unexpected(&lx, msg, msgsz);
	fs_next(&lx);
	if (lx.tok != TK_NAME || fs_is_keyword(lx.text) || strchr(lx.text, '.') != NULL)
		return fs_unexpected(&lx, msg, msgsz);
	util_strlcpy(out->object, lx.text, sizeof(out->object));
	fs_next(&lx);
	if (!fs_kw(&lx, "WHERE"))
		return fs_unexpected(&lx, msg, msgsz);
	fs_next(&lx);
	if (lx.tok != TK_NAME || fs_is_keyword(lx.text))
		return fs_unexpected(&lx, msg, msgsz);
	util_strlcpy(out->where, lx.text, sizeof(out->where));
	fs_next(&lx);
	if (lx.tok != TK_EQ)
		return fs_unexpected(&lx, msg, msgsz);
	fs_next(&lx);
	if (lx.tok != TK_STRING)
		return fs_unexpected(&lx, msg, msgsz);
	util_strlcpy(out->value, lx.text, sizeof(out->value));
	fs_next(&lx);
	if (fs_kw(&lx, "LIMIT")) {
		fs_next(&lx);
		if (lx.tok != TK_NUMBER || strlen(lx.text) > 5)
			return fs_unexpected(&lx, msg, msgsz);
		out->limit = 0;
		for (d = lx.text; *d; d++)
			out->limit = out->limit * 10 + (*d - '0');
		fs_next(&lx);
	}
	if (lx.tok != TK_END)
		return fs_unexpected(&lx, msg, msgsz);
	return 0;
}
