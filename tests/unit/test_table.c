/*
 * test_table.c: unit tests for src/net/table.c, connection ids and
 * per-source counts.
 *
 * Ids: a removed id finds nothing, also after its slot serves a new
 * connection (the stale-reference case a chat room meets when a member
 * leaves and a newcomer reuses the memory); ids are never reused; 0 and
 * garbage find nothing; thousands of slots grow and recycle.
 * Per-source counts: the cap holds per key and not across keys; IPv6
 * keys by /64; counts return to zero and free their entries, through
 * backward-shift deletion, checked against a model with thousands of
 * random takes and puts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/net/table.h"

static void test_stale_id_finds_nothing(void **st)
{
	struct sk_idtab t;
	int a, b;
	uint64_t ida, idb;

	(void)st;
	sk_idtab_init(&t);
	ida = sk_idtab_add(&t, &a);
	assert_true(ida != 0);
	assert_ptr_equal(sk_idtab_get(&t, ida), &a);
	sk_idtab_del(&t, ida);
	assert_null(sk_idtab_get(&t, ida));
	/* The slot is reused at once (a stack), for someone else. */
	idb = sk_idtab_add(&t, &b);
	assert_true(idb != ida);
	assert_int_equal(idb & ((1u << SK_IDTAB_BITS) - 1),
			 ida & ((1u << SK_IDTAB_BITS) - 1));
	assert_null(sk_idtab_get(&t, ida));
	assert_ptr_equal(sk_idtab_get(&t, idb), &b);
	/* Deleting a stale id does not touch the new owner. */
	sk_idtab_del(&t, ida);
	assert_ptr_equal(sk_idtab_get(&t, idb), &b);
	assert_null(sk_idtab_get(&t, 0));
	assert_null(sk_idtab_get(&t, ~0ull));
	sk_idtab_del(&t, 0);
	sk_idtab_fini(&t);
}

static void test_many_ids_never_repeat(void **st)
{
	enum { N = 5000 };
	struct sk_idtab t;
	static uint64_t ids[N], seen[4 * N];
	size_t nseen = 0;
	int x[N];

	(void)st;
	sk_idtab_init(&t);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < N; i++) {
			ids[i] = sk_idtab_add(&t, &x[i]);
			assert_true(ids[i] != 0);
			seen[nseen++] = ids[i];
		}
		for (int i = 0; i < N; i++)
			assert_ptr_equal(sk_idtab_get(&t, ids[i]), &x[i]);
		for (int i = 0; i < N; i += 1 + round)
			sk_idtab_del(&t, ids[i]);
		for (int i = 0; i < N; i++)
			if (i % (1 + round) != 0)
				sk_idtab_del(&t, ids[i]);
		for (int i = 0; i < N; i++)
			assert_null(sk_idtab_get(&t, ids[i]));
	}
	/* Every id handed out was unique: sequence numbers only grow. */
	for (size_t i = 1; i < nseen; i++)
		assert_true((seen[i] >> SK_IDTAB_BITS) >
			    (seen[i - 1] >> SK_IDTAB_BITS));
	assert_true(t.cap <= 8192);
	sk_idtab_fini(&t);
}

static struct sk_rl_key key4(uint32_t a)
{
	uint8_t b[4] = { (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8),
			 (uint8_t)a };
	struct sk_rl_key k;

	sk_rl_key_make(&k, b, 0);
	return k;
}

static void test_cap_per_source(void **st)
{
	uint64_t seed[2] = { 1, 2 };
	struct sk_srcmap m;
	struct sk_rl_key a = key4(0x7f000001), b = key4(0x7f000002);
	uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9 };
	struct sk_rl_key ka, kb;

	(void)st;
	sk_srcmap_init(&m, seed);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sk_srcmap_take(&m, &a, 3), 1);
	assert_int_equal(sk_srcmap_take(&m, &a, 3), 0);
	assert_int_equal(sk_srcmap_count(&m, &a), 3);
	/* Another source is not affected. */
	assert_int_equal(sk_srcmap_take(&m, &b, 3), 1);
	sk_srcmap_put(&m, &a);
	assert_int_equal(sk_srcmap_take(&m, &a, 3), 1);
	/* One IPv6 /64 is one source. */
	sk_rl_key_make(&ka, v6a, 1);
	sk_rl_key_make(&kb, v6b, 1);
	assert_int_equal(sk_srcmap_take(&m, &ka, 2), 1);
	assert_int_equal(sk_srcmap_take(&m, &kb, 2), 1);
	assert_int_equal(sk_srcmap_take(&m, &ka, 2), 0);
	/* No cap: 0. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(sk_srcmap_take(&m, &b, 0), 1);
	assert_int_equal(sk_srcmap_count(&m, &b), 101);
	sk_srcmap_fini(&m);
}

static void test_random_against_model(void **st)
{
	enum { KEYS = 3000, OPS = 200000 };
	static uint32_t model[KEYS];
	uint64_t seed[2] = { 0x1234, 0x5678 };
	struct sk_srcmap m;
	uint64_t x = 88172645463325252ull;
	size_t live = 0;

	(void)st;
	sk_srcmap_init(&m, seed);
	for (int op = 0; op < OPS; op++) {
		uint32_t k;
		struct sk_rl_key key;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (uint32_t)(x % KEYS);
		key = key4(0x0a000000u + k);
		if ((x >> 32) % 3 != 0) {
			int rc = sk_srcmap_take(&m, &key, 4);

			assert_int_equal(rc, model[k] < 4 ? 1 : 0);
			if (rc == 1 && model[k]++ == 0)
				live++;
		} else if (model[k] > 0) {
			sk_srcmap_put(&m, &key);
			if (--model[k] == 0)
				live--;
		}
		assert_int_equal(m.used, live);
	}
	for (uint32_t k = 0; k < KEYS; k++) {
		struct sk_rl_key key = key4(0x0a000000u + k);

		assert_int_equal(sk_srcmap_count(&m, &key), model[k]);
		while (model[k]-- > 0)
			sk_srcmap_put(&m, &key);
	}
	assert_int_equal(m.used, 0);
	for (size_t i = 0; i < m.cap; i++)
		assert_int_equal(m.e[i].count, 0);
	sk_srcmap_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_id_finds_nothing),
		cmocka_unit_test(test_many_ids_never_repeat),
		cmocka_unit_test(test_cap_per_source),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
