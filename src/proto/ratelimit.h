/*
 * ratelimit.h: per-source and global token buckets, with no I/O.
 *
 * Each bucket is kept as GCRA's "theoretical arrival time", which behaves
 * exactly like a token bucket of `burst` tokens refilled at `rate` per
 * second, in one 64-bit word. Time is passed in (nanoseconds, monotonic).
 *
 * Sources live in a fixed table of SK_RL_SLOTS entries; each source may
 * sit in one of two slots chosen by a keyed hash, and a newcomer evicts
 * the idler of the two. Spoofed floods therefore cannot grow memory; a
 * source that gets evicted starts again with a full bucket, which is why
 * the global bucket caps the total.
 *
 * IPv6 sources are keyed by their /64 prefix, the unit one host controls.
 */
#ifndef SK_RATELIMIT_H
#define SK_RATELIMIT_H

#include <stdint.h>

#include "sk_limits.h"

/* One token bucket. */
struct sk_bucket {
	uint64_t tat; /* theoretical arrival time, ns */
};

/* Limits for one bucket. rate 0 (with interval_ns 0) means unlimited. */
struct sk_rate {
	uint32_t rate;        /* tokens per second */
	uint32_t burst;       /* bucket size, at least 1 */
	uint64_t interval_ns; /* if not 0: one token per interval (for
			       * rates under 1/s, as NTP's); rate ignored */
};

/* Take one token from b at time now (ns). Returns 1 if allowed. */
int sk_bucket_take(struct sk_bucket *b, const struct sk_rate *r, uint64_t now);

/* A source address as the limiter keys it. */
struct sk_rl_key {
	uint8_t b[16]; /* IPv4 in the first 4 bytes, or an IPv6 /64 */
};

struct sk_rl_slot {
	struct sk_rl_key key;   /* the source */
	struct sk_bucket bucket; /* its bucket; tat 0 means free */
};

/* The limiter: per-source buckets plus one global bucket. */
struct sk_rl {
	struct sk_rate per_source;           /* limit for each source */
	struct sk_rate global;               /* limit for all sources */
	struct sk_bucket all;                /* the global bucket */
	uint64_t seed[2];                    /* hash key, random per run */
	struct sk_rl_slot slot[SK_RL_SLOTS]; /* the source table */
};

/* Reset rl with these limits and a random seed from the caller. */
void sk_rl_init(struct sk_rl *rl, const struct sk_rate *per_source,
		const struct sk_rate *global, const uint64_t seed[2]);

/* Make a key from a raw address: 4 bytes (IPv4) or 16 bytes (IPv6). An
 * IPv4-mapped IPv6 address keys as its IPv4 address. */
void sk_rl_key_make(struct sk_rl_key *k, const uint8_t *addr, int is_v6);

/* Is a datagram from k at time now allowed? The global bucket is only
 * charged when the source's own bucket allows. Returns 1 if allowed. */
int sk_rl_allow(struct sk_rl *rl, const struct sk_rl_key *k, uint64_t now);

enum sk_rl_verdict {
	SK_RL_OK = 0,     /* allowed */
	SK_RL_SOURCE = 1, /* this source is over its limit */
	SK_RL_GLOBAL = 2, /* the source is within its limit, the total not */
};

/* The same decision, saying which limit refused. */
enum sk_rl_verdict sk_rl_check(struct sk_rl *rl, const struct sk_rl_key *k,
			       uint64_t now);

#endif
