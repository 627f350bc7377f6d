/* ratelimit.c: GCRA token buckets and the two-choice source table. */
#include "ratelimit.h"

#include <string.h>

#define SK__NS 1000000000ull

int sk_bucket_take(struct sk_bucket *b, const struct sk_rate *r, uint64_t now)
{
	uint64_t t, tau, tat;

	if (r->interval_ns != 0)
		t = r->interval_ns;
	else if (r->rate == 0)
		return 1;
	else
		t = SK__NS / r->rate;
	if (t == 0)
		t = 1;
	tau = t * (uint64_t)(r->burst > 0 ? r->burst - 1 : 0);
	tat = b->tat > now ? b->tat : now;
	if (tat - now > tau)
		return 0;
	b->tat = tat + t;
	return 1;
}

void sk_rl_init(struct sk_rl *rl, const struct sk_rate *per_source,
		const struct sk_rate *global, const uint64_t seed[2])
{
	memset(rl, 0, sizeof(*rl));
	rl->per_source = *per_source;
	rl->global = *global;
	rl->seed[0] = seed[0];
	rl->seed[1] = seed[1];
}

void sk_rl_key_make(struct sk_rl_key *k, const uint8_t *addr, int is_v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (is_v6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		addr += 12;
		is_v6 = 0;
	}
	if (is_v6) {
		memcpy(k->b, addr, 8);
		k->b[15] = 6; /* never equal to an IPv4 key */
	} else {
		memcpy(k->b, addr, 4);
	}
}

/* A keyed mix of the 16-byte key (splitmix64 finalisers). The key comes
 * from the OS's random source, so a remote sender cannot aim collisions. */
static uint64_t sk__hash(const struct sk_rl *rl, const struct sk_rl_key *k)
{
	uint64_t a, b, h;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	h = (a ^ rl->seed[0]) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 31;
	h = (h ^ b ^ rl->seed[1]) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 32;
	return h;
}

enum sk_rl_verdict sk_rl_check(struct sk_rl *rl, const struct sk_rl_key *k,
			       uint64_t now)
{
	uint64_t h = sk__hash(rl, k);
	struct sk_rl_slot *s1 = &rl->slot[h % SK_RL_SLOTS];
	struct sk_rl_slot *s2 = &rl->slot[(h >> 32) % SK_RL_SLOTS];
	struct sk_rl_slot *s;

	if (rl->per_source.rate == 0 && rl->per_source.interval_ns == 0)
		return sk_bucket_take(&rl->all, &rl->global, now) ? SK_RL_OK
								  : SK_RL_GLOBAL;
	if (memcmp(&s1->key, k, sizeof(*k)) == 0 && s1->bucket.tat != 0)
		s = s1;
	else if (memcmp(&s2->key, k, sizeof(*k)) == 0 && s2->bucket.tat != 0)
		s = s2;
	else {
		/* Evict whichever bucket would be refilled first. */
		s = s1->bucket.tat <= s2->bucket.tat ? s1 : s2;
		s->key = *k;
		s->bucket.tat = 0;
	}
	if (!sk_bucket_take(&s->bucket, &rl->per_source, now))
		return SK_RL_SOURCE;
	if (!sk_bucket_take(&rl->all, &rl->global, now))
		return SK_RL_GLOBAL;
	return SK_RL_OK;
}

int sk_rl_allow(struct sk_rl *rl, const struct sk_rl_key *k, uint64_t now)
{
	return sk_rl_check(rl, k, now) == SK_RL_OK;
}
