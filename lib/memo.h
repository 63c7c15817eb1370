/*
 * memo: a small per-process cache of immutable facts (a tab's context, a
 * published form version's definition), in front of Redis.
 *
 * Fixed capacity (no growth under hostile load), open addressing on a hash
 * of the key, each entry with an expiry; a full table replaces the entry
 * that expires first in the probed window.  Only for values that never
 * change once written (or whose staleness for `ttl` is harmless): there is
 * no invalidation across processes.
 */
#ifndef CB_MEMO_H
#define CB_MEMO_H

#include <stddef.h>

struct memo;

struct memo	*memo_new(size_t capacity, size_t max_value);
void		 memo_free(struct memo *);
/* The cached value of key, or NULL (expired entries are misses). */
const char	*memo_get(struct memo *, const char *key);
/* Cache value for ttl_ms; values longer than max_value are not cached. */
void		 memo_put(struct memo *, const char *key, const char *value, double ttl_ms);

#endif
