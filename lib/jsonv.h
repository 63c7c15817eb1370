/*
 * jsonv: JSON bodies parsed once at the boundary and checked against a field
 * table.  An unknown field, a duplicate, a missing required field, a wrong
 * type, an out-of-bounds value or invalid UTF-8 is an error naming the field;
 * nothing is silently dropped.  On success the typed values are written into
 * the caller's struct at each field's offset, so act() sees only checked,
 * typed values.
 *
 * Written values point into the cJSON tree: they live as long as the tree.
 */
#ifndef CB_JSONV_H
#define CB_JSONV_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum jv_type {
	JV_STRING,	/* const char *  (length bounds in bytes) */
	JV_INT,		/* long long     (value bounds; integral numbers only) */
	JV_BOOL,	/* int */
	JV_NUMBER,	/* double        (value bounds) */
	JV_OBJECT,	/* const cJSON * (member count bounds) */
	JV_ARRAY,	/* const cJSON * (item count bounds) */
	JV_ANY,		/* const cJSON * (any JSON value except null) */
	JV_UUID		/* const char *  (a UUID, any case; written lowercased: the
			   form the database holds, so one id has one spelling) */
};

#define JV_REQUIRED	0x01u
#define JV_NULLABLE	0x02u	/* null accepted: the field stays as initialised */

struct jv_field {
	const char	*name;
	enum jv_type	 type;
	unsigned	 flags;
	long long	 min, max;	/* both 0: unbounded (strings still capped at 64 KiB) */
	size_t		 off;
	/* Extra check; returns 0 if fine, else sets *why. */
	int		(*check)(const cJSON *, const char **why);
	/*
	 * For a string, instead of a check of its own: the values it may take
	 * (NULL-terminated), or a predicate on its text; the reason given when
	 * the value is not among them or the predicate says no.
	 */
	const char *const *one_of;
	int		(*text_ok)(const char *);
	const char	*why;
};

struct jv_error {
	char	 field[64];
	char	 reason[160];
};

/*
 * Parse exactly `len` bytes as one JSON value (no trailing bytes, no NUL
 * bytes, valid UTF-8, nesting at most 32).  CB_ERR_BAD_JSON on failure with
 * a reason in err->reason; CB_ERR_NOMEM (never an abort) when memory runs
 * out while reading it, nothing left allocated.
 */
int	 jv_parse(const char *body, size_t len, cJSON **out, struct jv_error *err);
/* Check `obj` (must be an object) against the table and fill `target`. */
int	 jv_validate(const cJSON *obj, const struct jv_field *, size_t,
	    void *target, struct jv_error *err);
/*
 * The canonical text of a value: objects' members sorted by name (bytes),
 * no whitespace, numbers and strings as cJSON prints them.  Two bodies that
 * differ only in member order or spacing give the same text.  The caller
 * frees it.
 */
char	*jv_canonical(const cJSON *);
/* o[k] = v as a string, or null when v is NULL; the member added, NULL when out of memory. */
cJSON	*jv_add_str_or_null(cJSON *o, const char *k, const char *v);
/* The unformatted text of a tree the caller built (freed here); the caller frees the text. */
char	*jv_take_text(cJSON *);
/* Valid UTF-8 without NUL and without C0 controls other than \t \n \r. */
int	 jv_utf8_ok(const char *, size_t);

/*
 * A JSON pointer (RFC 6901) one member deeper: base + "/" + name, with ~ as
 * ~0 and / as ~1; cut to fit ptrsz.
 */
void	 jv_pointer(char *ptr, size_t ptrsz, const char *base, const char *name);

/*
 * Zero every string of a tree that holds personal data, then free it
 * (NULL is fine).
 */
void	 jv_wipe(cJSON *);

#endif
