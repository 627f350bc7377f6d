/*
 * test_ratelimit.c: unit tests for src/proto/ratelimit.c.
 *
 * Time is injected in nanoseconds. Covers one GCRA bucket (the burst is
 * allowed and the next one denied, one token back after exactly 1/rate s,
 * never more than the burst after a long idle, rate 0 is unlimited, rates
 * above 1e9/s), the limiter (sources are independent, the global bucket
 * denies what a source's bucket allows and is only charged when the
 * source's bucket allows, per-source rate 0), the keys (IPv4-mapped IPv6
 * equals IPv4, IPv6 is keyed by its /64, IPv6 never equals IPv4) and the
 * source table under a flood of distinct sources: a busy source is never
 * the one evicted, and an evicted source gets back no more than the full
 * bucket the header documents. interval_ns gives one token per interval
 * (rates under 1/s, as NTP's) and overrides rate, in one bucket and in
 * the limiter; sk_rl_check() says which limit refused, and a source's
 * refusal leaves the global bucket alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "sk_limits.h"

#define NS 1000000000ull
/* A start time well away from 0, which marks a free slot. */
#define T0 (1000 * NS)

static const uint64_t seed[2] = { 0x0123456789abcdefull,
				  0xfedcba9876543210ull };

static struct sk_rl *new_rl(uint32_t rate, uint32_t burst, uint32_t grate,
			    uint32_t gburst)
{
	struct sk_rate per = { .rate = rate, .burst = burst };
	struct sk_rate all = { .rate = grate, .burst = gburst };
	struct sk_rl *rl = malloc(sizeof(*rl));

	assert_non_null(rl);
	sk_rl_init(rl, &per, &all, seed);
	return rl;
}

static struct sk_rl_key v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t addr[4] = { a, b, c, d };
	struct sk_rl_key k;

	sk_rl_key_make(&k, addr, 0);
	return k;
}

static struct sk_rl_key v6(const char *s16)
{
	struct sk_rl_key k;

	sk_rl_key_make(&k, (const uint8_t *)s16, 1);
	return k;
}

/* How many of n requests from k at time now are allowed. */
static unsigned allowed(struct sk_rl *rl, const struct sk_rl_key *k,
			uint64_t now, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += (unsigned)sk_rl_allow(rl, k, now);
	return ok;
}

/* ---- one bucket ---------------------------------------------------- */

static void test_bucket_burst_then_deny(void **state)
{
	struct sk_rate r = { .rate = 10, .burst = 3 };
	struct sk_bucket b = { 0 };

	(void)state;
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 0);
	/* One token comes back after exactly 1/rate = 100 ms. */
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS / 10 - 1), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS / 10), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS / 10), 0);
	/* Two intervals later, two tokens. */
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 3 * NS / 10), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 3 * NS / 10), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 3 * NS / 10), 0);
}

static void test_bucket_idle_caps_at_burst(void **state)
{
	struct sk_rate r = { .rate = 10, .burst = 3 };
	struct sk_bucket b = { 0 };
	unsigned ok = 0;

	(void)state;
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	/* An hour idle earns 3 tokens, not 36000. */
	for (int i = 0; i < 100; i++)
		ok += (unsigned)sk_bucket_take(&b, &r, T0 + 3600 * NS);
	assert_int_equal(ok, 3);
}

static void test_bucket_steady_rate(void **state)
{
	struct sk_rate r = { .rate = 1000, .burst = 1 };
	struct sk_bucket b = { 0 };
	unsigned ok = 0;

	(void)state;
	/* Asking every 0.1 ms for 1 s: 1000 allowed, at 1 ms steps. */
	for (uint64_t t = T0; t < T0 + NS; t += NS / 10000)
		ok += (unsigned)sk_bucket_take(&b, &r, t);
	assert_int_equal(ok, 1000);
}

static void test_bucket_burst_one(void **state)
{
	struct sk_rate r = { .rate = 1, .burst = 1 };
	struct sk_bucket b = { 0 };

	(void)state;
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS - 1), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + NS), 0);
}

static void test_bucket_unlimited(void **state)
{
	struct sk_rate r = { .rate = 0, .burst = 1 };
	struct sk_bucket b = { 0 };

	(void)state;
	for (int i = 0; i < 100000; i++)
		assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(b.tat, 0);
}

static void test_bucket_fast_rate(void **state)
{
	struct sk_rate r = { .rate = 2000000000u, .burst = 2 };
	struct sk_bucket b = { 0 };

	(void)state;
	/* Faster than 1/ns still limits, at 1 ns per token. */
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 1), 1);
}

/* ---- the limiter --------------------------------------------------- */

static void test_rl_per_source(void **state)
{
	struct sk_rl *rl = new_rl(1, 2, 0, 0);
	struct sk_rl_key a = v4(192, 0, 2, 1), b = v4(192, 0, 2, 2);

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 5), 2);
	assert_int_equal(allowed(rl, &b, T0, 5), 2);
	assert_int_equal(allowed(rl, &a, T0 + NS - 1, 1), 0);
	assert_int_equal(allowed(rl, &a, T0 + NS, 5), 1);
	assert_int_equal(allowed(rl, &b, T0 + 10 * NS, 5), 2);
	free(rl);
}

static void test_rl_global_caps(void **state)
{
	struct sk_rl *rl = new_rl(100, 100, 1, 3);
	struct sk_rl_key a = v4(192, 0, 2, 1), b = v4(198, 51, 100, 7);

	(void)state;
	/* a's own bucket would allow 100; the global one allows 3. */
	assert_int_equal(allowed(rl, &a, T0, 10), 3);
	assert_int_equal(allowed(rl, &b, T0, 10), 0);
	assert_int_equal(allowed(rl, &b, T0 + NS, 10), 1);
	assert_int_equal(allowed(rl, &a, T0 + NS, 10), 0);
	free(rl);
}

static void test_rl_global_only_charged_if_allowed(void **state)
{
	struct sk_rl *rl = new_rl(1, 1, 1, 2);
	struct sk_rl_key a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2),
			 c = v4(10, 0, 0, 3);

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 1), 1);
	/* a's denials do not use up the global bucket... */
	assert_int_equal(allowed(rl, &a, T0, 1000), 0);
	assert_int_equal(allowed(rl, &b, T0, 1), 1);
	/* ...but b took the last global token. */
	assert_int_equal(allowed(rl, &c, T0, 1), 0);
	free(rl);
}

static void test_rl_unlimited(void **state)
{
	struct sk_rl *rl = new_rl(0, 0, 0, 0);
	struct sk_rl_key a = v4(10, 0, 0, 1);

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 10000), 10000);
	free(rl);

	/* Per-source rate 0: only the global bucket applies. */
	rl = new_rl(0, 0, 1, 2);
	assert_int_equal(allowed(rl, &a, T0, 10), 2);
	a = v4(10, 0, 0, 2);
	assert_int_equal(allowed(rl, &a, T0, 10), 0);
	assert_int_equal(allowed(rl, &a, T0 + NS, 10), 1);
	free(rl);

	/* Global rate 0: only the per-source buckets apply. */
	rl = new_rl(1, 3, 0, 0);
	for (int i = 1; i <= 100; i++) {
		a = v4(10, 1, 0, (uint8_t)i);
		assert_int_equal(allowed(rl, &a, T0, 10), 3);
	}
	free(rl);
}

/* ---- keys ---------------------------------------------------------- */

static void test_key_mapped_v4(void **state)
{
	struct sk_rl *rl = new_rl(1, 2, 0, 0);
	struct sk_rl_key k4 = v4(192, 0, 2, 1);
	/* ::ffff:192.0.2.1 and ::ffff:192.0.2.2 */
	struct sk_rl_key k6 = v6("\0\0\0\0\0\0\0\0"
				 "\0\0\xff\xff\xc0\x00\x02\x01");
	struct sk_rl_key other = v6("\0\0\0\0\0\0\0\0"
				    "\0\0\xff\xff\xc0\x00\x02\x02");

	(void)state;
	assert_memory_equal(&k4, &k6, sizeof(k4));
	assert_memory_not_equal(&k4, &other, sizeof(k4));
	assert_memory_equal(&k4, "\xc0\x00\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0",
			    sizeof(k4));
	/* One bucket for both spellings. */
	assert_int_equal(allowed(rl, &k4, T0, 1), 1);
	assert_int_equal(allowed(rl, &k6, T0, 5), 1);
	assert_int_equal(allowed(rl, &k4, T0, 5), 0);
	free(rl);
}

static void test_key_v6_prefix(void **state)
{
	struct sk_rl *rl = new_rl(1, 2, 0, 0);
	/* 2001:db8:1:2::1 and 2001:db8:1:2:ffff:ffff:ffff:ffff */
	struct sk_rl_key a = v6("\x20\x01\x0d\xb8\x00\x01\x00\x02"
				"\0\0\0\0\0\0\0\x01");
	struct sk_rl_key b = v6("\x20\x01\x0d\xb8\x00\x01\x00\x02"
				"\xff\xff\xff\xff\xff\xff\xff\xff");
	/* 2001:db8:1:3::1, the next /64 */
	struct sk_rl_key c = v6("\x20\x01\x0d\xb8\x00\x01\x00\x03"
				"\0\0\0\0\0\0\0\x01");

	(void)state;
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_not_equal(&a, &c, sizeof(a));
	assert_int_equal(allowed(rl, &a, T0, 1), 1);
	assert_int_equal(allowed(rl, &b, T0, 5), 1);
	assert_int_equal(allowed(rl, &a, T0, 5), 0);
	assert_int_equal(allowed(rl, &c, T0, 5), 2);
	free(rl);
}

static void test_key_v6_never_v4(void **state)
{
	struct sk_rl_key k4 = v4(0, 0, 0, 0);
	struct sk_rl_key any = v6("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
	struct sk_rl_key c4 = v4(192, 0, 2, 1);
	/* ::192.0.2.1, the old IPv4-compatible form, is not mapped. */
	struct sk_rl_key compat = v6("\0\0\0\0\0\0\0\0"
				     "\0\0\0\0\xc0\x00\x02\x01");
	/* c000:0201::/64 has the same first 4 bytes as 192.0.2.1. */
	struct sk_rl_key same4 = v6("\xc0\x00\x02\x01\0\0\0\0"
				    "\0\0\0\0\0\0\0\0");

	(void)state;
	assert_memory_not_equal(&k4, &any, sizeof(k4));
	assert_memory_not_equal(&c4, &compat, sizeof(c4));
	assert_memory_not_equal(&c4, &same4, sizeof(c4));
}

/* ---- the source table ---------------------------------------------- */

/* The i-th of many distinct flood sources, none equal to 192.0.2.1. */
static struct sk_rl_key flood_key(uint32_t i)
{
	return v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
}

/* Slots that hold k with a live bucket: never more than one. */
static int slots_of(const struct sk_rl *rl, const struct sk_rl_key *k)
{
	int n = 0;

	for (size_t i = 0; i < SK_RL_SLOTS; i++)
		if (rl->slot[i].bucket.tat != 0 &&
		    memcmp(&rl->slot[i].key, k, sizeof(*k)) == 0)
			n++;
	return n;
}

/*
 * A source that used up its bucket is the busiest in any slot it shares,
 * so a flood of one-shot sources evicts others, never it: it stays
 * denied, and gets exactly one token back after 1/rate.
 */
static void test_flood_does_not_reset_busy_source(void **state)
{
	struct sk_rl *rl = new_rl(10, 4, 0, 0);
	struct sk_rl_key a = v4(192, 0, 2, 1);

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 10), 4);
	for (uint32_t i = 0; i < 4 * SK_RL_SLOTS; i++) {
		struct sk_rl_key k = flood_key(i);

		assert_int_equal(sk_rl_allow(rl, &k, T0), 1);
		if (i % 1024 == 0)
			assert_int_equal(allowed(rl, &a, T0, 1), 0);
	}
	assert_int_equal(slots_of(rl, &a), 1);
	assert_int_equal(allowed(rl, &a, T0, 10), 0);
	assert_int_equal(allowed(rl, &a, T0 + NS / 10 - 1, 10), 0);
	assert_int_equal(allowed(rl, &a, T0 + NS / 10, 10), 1);
	free(rl);
}

/*
 * A lightly used source can be evicted by a flood of busier ones; the
 * header documents that it then starts again with a full bucket. It must
 * get no more than that: between its remaining tokens and the burst.
 */
static void test_flood_evicted_source_gets_at_most_burst(void **state)
{
	struct sk_rl *rl = new_rl(10, 4, 0, 0);
	struct sk_rl_key a = v4(192, 0, 2, 1);
	unsigned got;

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 1), 1);
	for (uint32_t i = 0; i < 4 * SK_RL_SLOTS; i++) {
		struct sk_rl_key k = flood_key(i);

		assert_int_equal(allowed(rl, &k, T0, 2), 2);
	}
	assert_true(slots_of(rl, &a) <= 1);
	got = allowed(rl, &a, T0, 10);
	assert_true(got >= 3 && got <= 4);
	assert_int_equal(slots_of(rl, &a), 1);
	assert_int_equal(allowed(rl, &a, T0, 10), 0);
	free(rl);
}

/* Sources that keep their slot stay limited when they come back. */
static void test_sources_keep_accounting(void **state)
{
	struct sk_rl *rl = new_rl(1, 2, 0, 0);
	unsigned total = 0;

	(void)state;
	for (uint32_t i = 0; i < 64; i++) {
		struct sk_rl_key k = flood_key(i);

		total += allowed(rl, &k, T0, 10);
	}
	assert_int_equal(total, 2 * 64);
	/* 64 sources in 4096 slots: with this seed none was evicted. */
	for (uint32_t i = 0; i < 64; i++) {
		struct sk_rl_key k = flood_key(i);

		assert_int_equal(slots_of(rl, &k), 1);
	}
	total = 0;
	for (uint32_t i = 0; i < 64; i++) {
		struct sk_rl_key k = flood_key(i);

		total += allowed(rl, &k, T0 + NS - 1, 10);
	}
	assert_int_equal(total, 0);
	total = 0;
	for (uint32_t i = 0; i < 64; i++) {
		struct sk_rl_key k = flood_key(i);

		total += allowed(rl, &k, T0 + NS, 10);
	}
	assert_int_equal(total, 64);
	free(rl);
}

/* With a global limit, a flood of fresh sources is capped in total. */
static void test_flood_global_cap(void **state)
{
	struct sk_rl *rl = new_rl(10, 4, 100, 50);
	unsigned total = 0;

	(void)state;
	for (uint32_t i = 0; i < 4 * SK_RL_SLOTS; i++) {
		struct sk_rl_key k = flood_key(i);

		total += allowed(rl, &k, T0, 4);
	}
	assert_int_equal(total, 50);
	/* One second later, 100 more tokens at most (bucket of 50). */
	total = 0;
	for (uint32_t i = 0; i < 4 * SK_RL_SLOTS; i++) {
		struct sk_rl_key k = flood_key(i);

		total += allowed(rl, &k, T0 + NS, 4);
	}
	assert_int_equal(total, 50);
	free(rl);
}

/* ---- one token per interval ---------------------------------------- */

static void test_interval_burst(void **state)
{
	/* NTP's default: one request per 8 s, a burst of 8. */
	struct sk_rate r = { .rate = 0, .burst = 8, .interval_ns = 8 * NS };
	struct sk_bucket b = { 0 };

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0), 0);
	/* Not after 7.9 s, nor 1 ns short of 8 s... */
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 79 * NS / 10), 0);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 8 * NS - 1), 0);
	/* ...one after 8 s, and only one. */
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 8 * NS), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 8 * NS), 0);
	/* 16 s later, two more. */
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 24 * NS), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 24 * NS), 1);
	assert_int_equal(sk_bucket_take(&b, &r, T0 + 24 * NS), 0);
}

static void test_interval_idle_caps_at_burst(void **state)
{
	struct sk_rate r = { .burst = 8, .interval_ns = 8 * NS };
	struct sk_bucket b = { 0 };
	unsigned ok = 0;

	(void)state;
	assert_int_equal(sk_bucket_take(&b, &r, T0), 1);
	/* A day idle earns the burst, not 10800 tokens. */
	for (int i = 0; i < 100; i++)
		ok += (unsigned)sk_bucket_take(&b, &r, T0 + 86400 * NS);
	assert_int_equal(ok, 8);
}

/* interval_ns overrides rate, in both directions. */
static void test_interval_overrides_rate(void **state)
{
	struct sk_rate slow = { .rate = 1000, .burst = 1,
				.interval_ns = 2 * NS };
	struct sk_rate fast = { .rate = 1, .burst = 1,
				.interval_ns = NS / 1000 };
	struct sk_bucket b = { 0 }, c = { 0 };

	(void)state;
	assert_int_equal(sk_bucket_take(&b, &slow, T0), 1);
	/* rate 1000/s would allow this one; 2 s per token does not. */
	assert_int_equal(sk_bucket_take(&b, &slow, T0 + NS / 1000), 0);
	assert_int_equal(sk_bucket_take(&b, &slow, T0 + 2 * NS - 1), 0);
	assert_int_equal(sk_bucket_take(&b, &slow, T0 + 2 * NS), 1);

	assert_int_equal(sk_bucket_take(&c, &fast, T0), 1);
	assert_int_equal(sk_bucket_take(&c, &fast, T0 + NS / 1000 - 1), 0);
	/* rate 1/s would refuse this one; 1 ms per token allows it. */
	assert_int_equal(sk_bucket_take(&c, &fast, T0 + NS / 1000), 1);

	/* With rate 0 an interval still limits: 0 is not "unlimited". */
	slow.rate = 0;
	b.tat = 0;
	assert_int_equal(sk_bucket_take(&b, &slow, T0), 1);
	assert_int_equal(sk_bucket_take(&b, &slow, T0), 0);
}

/* In the limiter, a per-source interval with no rate still limits. */
static void test_rl_interval(void **state)
{
	struct sk_rate per = { .burst = 8, .interval_ns = 8 * NS };
	struct sk_rate all = { .rate = 0 };
	struct sk_rl *rl = malloc(sizeof(*rl));
	struct sk_rl_key a = v4(192, 0, 2, 1), b = v4(192, 0, 2, 2);

	(void)state;
	assert_non_null(rl);
	sk_rl_init(rl, &per, &all, seed);
	assert_int_equal(allowed(rl, &a, T0, 20), 8);
	assert_int_equal(allowed(rl, &b, T0, 20), 8);
	assert_int_equal(allowed(rl, &a, T0 + 79 * NS / 10, 5), 0);
	assert_int_equal(allowed(rl, &a, T0 + 8 * NS, 5), 1);
	assert_int_equal(allowed(rl, &a, T0 + 16 * NS - 1, 5), 0);
	assert_int_equal(allowed(rl, &a, T0 + 16 * NS, 5), 1);

	/* A global interval too: one per 2 s, burst 3, for everyone. */
	per.interval_ns = 0;
	per.rate = 0;
	all.burst = 3;
	all.interval_ns = 2 * NS;
	sk_rl_init(rl, &per, &all, seed);
	assert_int_equal(allowed(rl, &a, T0, 5), 3);
	assert_int_equal(allowed(rl, &b, T0, 5), 0);
	assert_int_equal(allowed(rl, &b, T0 + 2 * NS - 1, 5), 0);
	assert_int_equal(allowed(rl, &b, T0 + 2 * NS, 5), 1);
	free(rl);
}

/* ---- which limit refused ------------------------------------------- */

static void test_check_verdicts(void **state)
{
	/* Per source: 1/s, burst 2. Global: 1/s, burst 3. */
	struct sk_rl *rl = new_rl(1, 2, 1, 3);
	struct sk_rl_key a = v4(192, 0, 2, 1), b = v4(192, 0, 2, 2),
			 c = v4(192, 0, 2, 3);

	(void)state;
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_OK);
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_OK);
	/* a is over its own limit (the global bucket has 1 left). */
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_SOURCE);
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_SOURCE);
	/* b takes the last global token... */
	assert_int_equal(sk_rl_check(rl, &b, T0), SK_RL_OK);
	/* ...so b, within its own limit, is refused by the global one, */
	assert_int_equal(sk_rl_check(rl, &b, T0), SK_RL_GLOBAL);
	/* and so is c, a newcomer. */
	assert_int_equal(sk_rl_check(rl, &c, T0), SK_RL_GLOBAL);
	/* a is still refused by its own limit first. */
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_SOURCE);
	/* One second later one global token is back. */
	assert_int_equal(sk_rl_check(rl, &c, T0 + NS), SK_RL_OK);
	assert_int_equal(sk_rl_check(rl, &c, T0 + NS), SK_RL_GLOBAL);
	free(rl);

	/* No per-source limit: only GLOBAL can refuse. */
	rl = new_rl(0, 0, 1, 2);
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_OK);
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_GLOBAL);
	free(rl);

	/* No global limit: only SOURCE can refuse. */
	rl = new_rl(1, 1, 0, 0);
	for (uint32_t i = 0; i < 100; i++) {
		struct sk_rl_key k = flood_key(i);

		assert_int_equal(sk_rl_check(rl, &k, T0), SK_RL_OK);
		assert_int_equal(sk_rl_check(rl, &k, T0), SK_RL_SOURCE);
	}
	free(rl);
}

/* sk_rl_allow() is sk_rl_check() == SK_RL_OK, charge for charge. */
static void test_check_matches_allow(void **state)
{
	struct sk_rl *r1 = new_rl(3, 2, 5, 4), *r2 = new_rl(3, 2, 5, 4);

	(void)state;
	for (uint32_t i = 0; i < 2000; i++) {
		struct sk_rl_key k = flood_key(i % 7);
		uint64_t now = T0 + (uint64_t)i * (NS / 50);

		assert_int_equal(sk_rl_allow(r1, &k, now),
				 sk_rl_check(r2, &k, now) == SK_RL_OK);
	}
	free(r1);
	free(r2);
}

/* A source refused by its own limit does not charge the global bucket:
 * its refusals, however many, leave the global tokens to others. */
static void test_check_source_refusal_free(void **state)
{
	struct sk_rl *rl = new_rl(1, 1, 1, 2);
	struct sk_rl_key a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2),
			 c = v4(10, 0, 0, 3);
	uint64_t tat;

	(void)state;
	assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_OK);
	tat = rl->all.tat;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(sk_rl_check(rl, &a, T0), SK_RL_SOURCE);
	assert_int_equal(rl->all.tat, tat);
	/* The global bucket still has exactly its second token. */
	assert_int_equal(sk_rl_check(rl, &b, T0), SK_RL_OK);
	assert_int_equal(sk_rl_check(rl, &c, T0), SK_RL_GLOBAL);
	/* A GLOBAL refusal does not charge the global bucket either: fresh
	 * sources refused by it leave it as it was, and the token due at
	 * T0 + 1 s is there at T0 + 1 s. */
	tat = rl->all.tat;
	for (uint32_t i = 1000; i < 2000; i++) {
		struct sk_rl_key k = flood_key(i);

		assert_int_equal(sk_rl_check(rl, &k, T0), SK_RL_GLOBAL);
	}
	assert_int_equal(rl->all.tat, tat);
	assert_int_equal(sk_rl_check(rl, &c, T0 + NS), SK_RL_OK);
	free(rl);
}

static void test_init_resets(void **state)
{
	struct sk_rl *rl = new_rl(1, 1, 0, 0);
	struct sk_rate per = { .rate = 1, .burst = 1 };
	struct sk_rate all = { .rate = 0, .burst = 0 };
	struct sk_rl_key a = v4(192, 0, 2, 1);

	(void)state;
	assert_int_equal(allowed(rl, &a, T0, 5), 1);
	sk_rl_init(rl, &per, &all, seed);
	assert_int_equal(allowed(rl, &a, T0, 5), 1);
	assert_int_equal(slots_of(rl, &a), 1);
	free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_then_deny),
		cmocka_unit_test(test_bucket_idle_caps_at_burst),
		cmocka_unit_test(test_bucket_steady_rate),
		cmocka_unit_test(test_bucket_burst_one),
		cmocka_unit_test(test_bucket_unlimited),
		cmocka_unit_test(test_bucket_fast_rate),
		cmocka_unit_test(test_rl_per_source),
		cmocka_unit_test(test_rl_global_caps),
		cmocka_unit_test(test_rl_global_only_charged_if_allowed),
		cmocka_unit_test(test_rl_unlimited),
		cmocka_unit_test(test_key_mapped_v4),
		cmocka_unit_test(test_key_v6_prefix),
		cmocka_unit_test(test_key_v6_never_v4),
		cmocka_unit_test(test_flood_does_not_reset_busy_source),
		cmocka_unit_test(test_flood_evicted_source_gets_at_most_burst),
		cmocka_unit_test(test_sources_keep_accounting),
		cmocka_unit_test(test_flood_global_cap),
		cmocka_unit_test(test_init_resets),
		cmocka_unit_test(test_interval_burst),
		cmocka_unit_test(test_interval_idle_caps_at_burst),
		cmocka_unit_test(test_interval_overrides_rate),
		cmocka_unit_test(test_rl_interval),
		cmocka_unit_test(test_check_verdicts),
		cmocka_unit_test(test_check_matches_allow),
		cmocka_unit_test(test_check_source_refusal_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
