/*
 * table.h: the two tables a server keeps about its connections, with no
 * I/O: ids for weak references, and connections counted per source.
 *
 * sk_idtab: a connection's id names its slot and a sequence number that
 * is never used twice, so a stale id finds nothing even after its slot
 * (and the connection's memory) has gone to another peer (STYLE 23).
 *
 * sk_srcmap: how many connections each source holds, keyed as the rate
 * limiter keys sources (an IPv4 address or an IPv6 /64), so a per-source
 * cap can refuse the one client that tries to take every place
 * (STYLE 25). An entry exists only while its count is above 0, so the
 * map never holds more entries than there are connections.
 */
#ifndef SK_TABLE_H
#define SK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/ratelimit.h"

/* Slots an id table may hold: 2^SK_IDTAB_BITS. */
#define SK_IDTAB_BITS 22

struct sk_idtab_ent {
	uint64_t id;  /* the id in force, 0 when free */
	void *ptr;    /* what it names */
};

struct sk_idtab {
	struct sk_idtab_ent *e; /* the slots */
	uint32_t *freel;        /* free slot numbers, a stack */
	size_t nfree;           /* on it */
	size_t cap;             /* slots allocated */
	uint64_t seq;           /* next sequence number */
};

void sk_idtab_init(struct sk_idtab *t);
void sk_idtab_fini(struct sk_idtab *t);
/* Give ptr a new id (never 0); 0 when out of memory or slots. */
uint64_t sk_idtab_add(struct sk_idtab *t, void *ptr);
/* What id names, or NULL when it was removed or never given. */
void *sk_idtab_get(const struct sk_idtab *t, uint64_t id);
/* Forget id; a stale or unknown id is ignored. */
void sk_idtab_del(struct sk_idtab *t, uint64_t id);

struct sk_srcmap_ent {
	struct sk_rl_key key; /* the source */
	uint32_t count;       /* its connections; 0: the slot is free */
};

struct sk_srcmap {
	struct sk_srcmap_ent *e; /* open addressing, linear probing */
	size_t cap;              /* slots, a power of two */
	size_t used;             /* slots with count > 0 */
	uint64_t seed[2];        /* hash key, random per run */
};

void sk_srcmap_init(struct sk_srcmap *m, const uint64_t seed[2]);
void sk_srcmap_fini(struct sk_srcmap *m);
/* Count one more connection for k unless it already holds max (0: no
 * cap). Returns 1 when counted, 0 when over the cap, -ENOMEM. */
int sk_srcmap_take(struct sk_srcmap *m, const struct sk_rl_key *k,
		   uint32_t max);
/* One connection of k has gone (it must have been counted). */
void sk_srcmap_put(struct sk_srcmap *m, const struct sk_rl_key *k);
/* Connections k holds now. */
uint32_t sk_srcmap_count(const struct sk_srcmap *m, const struct sk_rl_key *k);

#endif
