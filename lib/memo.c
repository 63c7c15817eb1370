/*
 * memo: see memo.h.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "memo.h"
#include "util.h"

#define MEMO_PROBE	8

struct memo_entry {
	char	*key;
	char	*value;
	double	 expires;
};

struct memo {
	struct memo_entry *e;
	size_t		 cap;
	size_t		 max_value;
	unsigned char	 salt[crypto_shorthash_KEYBYTES];
};

struct memo *
memo_new(size_t cap, size_t max_value)
{
	struct memo	*m = util_calloc(1, sizeof(*m));

	m->cap = cap < MEMO_PROBE ? MEMO_PROBE : cap;
	m->max_value = max_value;
	m->e = util_calloc(m->cap, sizeof(*m->e));
	/* A keyed hash: keys chosen by clients cannot aim at one slot. */
	crypto_shorthash_keygen(m->salt);
	return m;
}

void
memo_free(struct memo *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++) {
		free(m->e[i].key);
		free(m->e[i].value);
	}
	free(m->e);
	free(m);
}

static size_t
memo_slot(const struct memo *m, const char *key)
{
	unsigned char	 h[crypto_shorthash_BYTES];
	unsigned long long v = 0;
	size_t		 i;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), m->salt);
	for (i = 0; i < sizeof(h); i++)
		v = (v << 8) | h[i];
	return (size_t)(v % m->cap);
}

const char *
memo_get(struct memo *m, const char *key)
{
	size_t	 s = memo_slot(m, key), i;
	double	 now = util_now_ms();

	for (i = 0; i < MEMO_PROBE; i++) {
		struct memo_entry *e = &m->e[(s + i) % m->cap];

		if (e->key && strcmp(e->key, key) == 0)
			return e->expires > now ? e->value : NULL;
	}
	return NULL;
}

void
memo_put(struct memo *m, const char *key, const char *value, double ttl_ms)
{
	struct memo_entry *victim = NULL, *e;
	size_t		 s = memo_slot(m, key), i;

	if (strlen(value) > m->max_value)
		return;
	for (i = 0; i < MEMO_PROBE; i++) {
		e = &m->e[(s + i) % m->cap];
		if (e->key == NULL || strcmp(e->key, key) == 0) {
			victim = e;
			break;
		}
		if (victim == NULL || e->expires < victim->expires)
			victim = e;
	}
	free(victim->key);
	free(victim->value);
	victim->key = util_strdup(key);
	victim->value = util_strdup(value);
	victim->expires = util_now_ms() + ttl_ms;
}
