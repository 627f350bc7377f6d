/* table.c: connection ids and per-source counts (see table.h). */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SK__IDX_MASK ((1ull << SK_IDTAB_BITS) - 1)

void sk_idtab_init(struct sk_idtab *t)
{
	memset(t, 0, sizeof(*t));
	t->seq = 1;
}

void sk_idtab_fini(struct sk_idtab *t)
{
	free(t->e);
	free(t->freel);
	memset(t, 0, sizeof(*t));
}

static int sk__idtab_grow(struct sk_idtab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct sk_idtab_ent *e;
	uint32_t *f;

	if (ncap > (1u << SK_IDTAB_BITS))
		ncap = 1u << SK_IDTAB_BITS;
	if (ncap <= t->cap)
		return -ENOBUFS;
	e = realloc(t->e, ncap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	t->e = e;
	f = realloc(t->freel, ncap * sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	t->freel = f;
	memset(e + t->cap, 0, (ncap - t->cap) * sizeof(*e));
	/* Lowest slot on top of the stack. */
	for (size_t i = ncap; i > t->cap; i--)
		t->freel[t->nfree++] = (uint32_t)(i - 1);
	t->cap = ncap;
	return 0;
}

uint64_t sk_idtab_add(struct sk_idtab *t, void *ptr)
{
	uint32_t idx;
	uint64_t id;

	if (t->nfree == 0 && sk__idtab_grow(t) != 0)
		return 0;
	idx = t->freel[--t->nfree];
	id = (t->seq++ << SK_IDTAB_BITS) | idx;
	t->e[idx].id = id;
	t->e[idx].ptr = ptr;
	return id;
}

void *sk_idtab_get(const struct sk_idtab *t, uint64_t id)
{
	uint64_t idx = id & SK__IDX_MASK;

	if (id == 0 || idx >= t->cap || t->e[idx].id != id)
		return NULL;
	return t->e[idx].ptr;
}

void sk_idtab_del(struct sk_idtab *t, uint64_t id)
{
	uint64_t idx = id & SK__IDX_MASK;

	if (id == 0 || idx >= t->cap || t->e[idx].id != id)
		return;
	t->e[idx].id = 0;
	t->e[idx].ptr = NULL;
	t->freel[t->nfree++] = (uint32_t)idx;
}

/* ---- per-source counts ---- */

static uint64_t sk__rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* A keyed mix of the 16 key bytes; the key is random per run, so a
 * client cannot choose addresses that collide. */
static size_t sk__hash(const struct sk_srcmap *m, const struct sk_rl_key *k)
{
	uint64_t a, b;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	a ^= m->seed[0];
	b ^= m->seed[1];
	for (int i = 0; i < 2; i++) {
		a += b;
		b = sk__rotl(b, 13) ^ a;
		a = sk__rotl(a, 32);
		a *= 0x9e3779b97f4a7c15ull;
		b *= 0xc2b2ae3d27d4eb4full;
	}
	return (size_t)(a ^ sk__rotl(b, 29));
}

void sk_srcmap_init(struct sk_srcmap *m, const uint64_t seed[2])
{
	memset(m, 0, sizeof(*m));
	m->seed[0] = seed[0];
	m->seed[1] = seed[1];
}

void sk_srcmap_fini(struct sk_srcmap *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = m->used = 0;
}

/* The slot holding k, or the free slot where it would go. */
static size_t sk__find(const struct sk_srcmap *m, const struct sk_rl_key *k)
{
	size_t i = sk__hash(m, k) & (m->cap - 1);

	while (m->e[i].count != 0 &&
	       memcmp(&m->e[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int sk__grow(struct sk_srcmap *m)
{
	struct sk_srcmap old = *m;
	size_t ncap = m->cap ? m->cap * 2 : 64;

	m->e = calloc(ncap, sizeof(*m->e));
	if (m->e == NULL) {
		m->e = old.e;
		return -ENOMEM;
	}
	m->cap = ncap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].count != 0)
			m->e[sk__find(m, &old.e[i].key)] = old.e[i];
	free(old.e);
	return 0;
}

int sk_srcmap_take(struct sk_srcmap *m, const struct sk_rl_key *k,
		   uint32_t max)
{
	size_t i;

	/* At most half full, so probes stay short and always end. */
	if ((m->used + 1) * 2 > m->cap && sk__grow(m) != 0)
		return -ENOMEM;
	i = sk__find(m, k);
	if (m->e[i].count == 0) {
		m->e[i].key = *k;
		m->used++;
	} else if (max != 0 && m->e[i].count >= max) {
		return 0;
	}
	m->e[i].count++;
	return 1;
}

void sk_srcmap_put(struct sk_srcmap *m, const struct sk_rl_key *k)
{
	size_t i, j;

	if (m->cap == 0)
		return;
	i = sk__find(m, k);
	if (m->e[i].count == 0 || --m->e[i].count > 0)
		return;
	m->used--;
	/* Backward-shift deletion: move later members of the probe run into
	 * the hole, so no tombstones are needed. */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & (m->cap - 1);
		if (m->e[j].count == 0)
			break;
		home = sk__hash(m, &m->e[j].key) & (m->cap - 1);
		/* Skip entries whose home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->e[i] = m->e[j];
			m->e[j].count = 0;
			i = j;
		}
	}
	m->e[i].count = 0;
}

uint32_t sk_srcmap_count(const struct sk_srcmap *m, const struct sk_rl_key *k)
{
	if (m->cap == 0)
		return 0;
	return m->e[sk__find(m, k)].count;
}
