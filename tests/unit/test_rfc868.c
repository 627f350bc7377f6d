/*
 * test_rfc868.c: unit tests for src/proto/rfc868.c, the Time Protocol.
 *
 * Covers the 32-bit counter for known instants (1900, 1970, now, the
 * 2036-02-07 06:28:16 UTC wrap and the second before it), the big-endian
 * wire bytes, decoding only exactly 4 bytes, and era selection: a counter
 * maps to the Unix time closest to the reference, on both sides of the
 * wrap, before 1970 and for ties.
 *
 * Replies are decoded from right before a guard page (guard.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "guard.h"
#include "rfc868.h"

/* 2036-02-07 06:28:16 UTC: the counter's first wrap. */
#define T_WRAP INT64_C(2085978496)
/* 2026-11-25 12:03:25 UTC. */
#define T_2026 INT64_C(1795608205)
#define TWO32 INT64_C(4294967296)
#define TWO31 INT64_C(2147483648)

static int64_t utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = min, .tm_sec = s };

	return (int64_t)timegm(&tm);
}

static void test_known_instants(void **state)
{
	(void)state;
	assert_int_equal(utc(2036, 2, 7, 6, 28, 16), T_WRAP);
	assert_int_equal(utc(2026, 11, 25, 12, 3, 25), T_2026);
	assert_int_equal(SK_RFC868_OFFSET, 2208988800);

	assert_int_equal(sk_rfc868_from_unix(0), 2208988800u);
	assert_int_equal(sk_rfc868_from_unix(-SK_RFC868_OFFSET), 0u);
	assert_int_equal(sk_rfc868_from_unix(utc(1900, 1, 1, 0, 0, 0)), 0u);
	assert_int_equal(sk_rfc868_from_unix(T_2026), 4004597005u);
	assert_int_equal(sk_rfc868_from_unix(T_WRAP - 1), 0xffffffffu);
	assert_int_equal(sk_rfc868_from_unix(T_WRAP), 0u);
	assert_int_equal(sk_rfc868_from_unix(T_WRAP + 1), 1u);
	/* The next eras repeat the counter. */
	assert_int_equal(sk_rfc868_from_unix(T_WRAP + TWO32), 0u);
	assert_int_equal(sk_rfc868_from_unix(TWO32), 2208988800u);
	assert_int_equal(sk_rfc868_from_unix(-TWO32), 2208988800u);
	/* Before 1900. */
	assert_int_equal(sk_rfc868_from_unix(-SK_RFC868_OFFSET - 1),
			 0xffffffffu);
}

static void test_encode(void **state)
{
	uint8_t b[SK_RFC868_LEN];

	(void)state;
	sk_rfc868_encode(0, b);
	assert_memory_equal(b, "\x83\xaa\x7e\x80", 4);
	sk_rfc868_encode(T_WRAP, b);
	assert_memory_equal(b, "\x00\x00\x00\x00", 4);
	sk_rfc868_encode(T_WRAP - 1, b);
	assert_memory_equal(b, "\xff\xff\xff\xff", 4);
	sk_rfc868_encode(T_2026, b);
	assert_memory_equal(b, "\xee\xb1\x4d\x0d", 4);
	sk_rfc868_encode(-SK_RFC868_OFFSET + 0x01020304, b);
	assert_memory_equal(b, "\x01\x02\x03\x04", 4);
}

static int decode(const void *b, size_t len, uint32_t *v)
{
	*v = 0xdeadbeef;
	return sk_rfc868_decode(sk_guard_place(b, len), len, v);
}

static void test_decode(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(decode("\x83\xaa\x7e\x80", 4, &v), 0);
	assert_int_equal(v, 2208988800u);
	assert_int_equal(decode("\x01\x02\x03\x04", 4, &v), 0);
	assert_int_equal(v, 0x01020304u);
	assert_int_equal(decode("\xff\xff\xff\xff", 4, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(decode("\x00\x00\x00\x00", 4, &v), 0);
	assert_int_equal(v, 0u);

	/* Anything but 4 bytes is refused and leaves *v alone. */
	assert_int_equal(decode("", 0, &v), -1);
	assert_int_equal(v, 0xdeadbeefu);
	assert_int_equal(decode("\x01", 1, &v), -1);
	assert_int_equal(decode("\x01\x02\x03", 3, &v), -1);
	assert_int_equal(v, 0xdeadbeefu);
	assert_int_equal(decode("\x01\x02\x03\x04\x05", 5, &v), -1);
	assert_int_equal(v, 0xdeadbeefu);
	{
		static const uint8_t big[1500];

		assert_int_equal(decode(big, sizeof(big), &v), -1);
		assert_int_equal(v, 0xdeadbeefu);
	}
}

static void test_encode_decode_round_trip(void **state)
{
	static const int64_t ts[] = { 0, 1, -1, T_2026, T_WRAP - 1, T_WRAP,
				      T_WRAP + 1, -SK_RFC868_OFFSET };
	uint8_t b[SK_RFC868_LEN];
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		sk_rfc868_encode(ts[i], b);
		assert_int_equal(decode(b, sizeof(b), &v), 0);
		assert_int_equal(v, sk_rfc868_from_unix(ts[i]));
		assert_int_equal(sk_rfc868_to_unix(v, ts[i]), ts[i]);
	}
}

static void test_era_around_wrap(void **state)
{
	(void)state;
	/* Clock just before the wrap, server just after it. */
	assert_int_equal(sk_rfc868_to_unix(0, T_WRAP - 100), T_WRAP);
	assert_int_equal(sk_rfc868_to_unix(5, T_WRAP - 100), T_WRAP + 5);
	/* Clock just after the wrap, server just before it. */
	assert_int_equal(sk_rfc868_to_unix(0xffffffffu, T_WRAP + 100),
			 T_WRAP - 1);
	assert_int_equal(sk_rfc868_to_unix(0xffffff00u, T_WRAP + 100),
			 T_WRAP - 256);
	/* Both on the same side. */
	assert_int_equal(sk_rfc868_to_unix(0, T_WRAP + 100), T_WRAP);
	assert_int_equal(sk_rfc868_to_unix(0xffffffffu, T_WRAP - 100),
			 T_WRAP - 1);
	/* Decades after the wrap, a small counter is still in era 1. */
	assert_int_equal(sk_rfc868_to_unix(1000, utc(2050, 1, 1, 0, 0, 0)),
			 T_WRAP + 1000);
}

static void test_era_closest(void **state)
{
	uint32_t v1970 = sk_rfc868_from_unix(0);

	(void)state;
	/* A 1970 counter read in 2026 is 1970, in 2100 it is 2106. */
	assert_int_equal(sk_rfc868_to_unix(v1970, T_2026), 0);
	assert_int_equal(sk_rfc868_to_unix(v1970, utc(2100, 1, 1, 0, 0, 0)),
			 TWO32);
	assert_int_equal(sk_rfc868_to_unix(v1970, -1000000000), 0);
	/* Now, read now. */
	assert_int_equal(sk_rfc868_to_unix(sk_rfc868_from_unix(T_2026),
					   T_2026),
			 T_2026);
	/* Before 1970 and before 1900. */
	assert_int_equal(sk_rfc868_to_unix(sk_rfc868_from_unix(-1000000000),
					   -1000000000),
			 -1000000000);
	assert_int_equal(sk_rfc868_to_unix(0xffffffffu, -SK_RFC868_OFFSET),
			 -SK_RFC868_OFFSET - 1);
	/* The farthest a counter can land on either side of ref. */
	assert_int_equal(sk_rfc868_to_unix(sk_rfc868_from_unix(T_2026 + TWO31
							       - 1),
					   T_2026),
			 T_2026 + TWO31 - 1);
	assert_int_equal(sk_rfc868_to_unix(sk_rfc868_from_unix(T_2026 - TWO31
							       + 1),
					   T_2026),
			 T_2026 - TWO31 + 1);
	/* One past that is the other era. */
	assert_int_equal(sk_rfc868_to_unix(sk_rfc868_from_unix(T_2026 + TWO31
							       + 1),
					   T_2026),
			 T_2026 + TWO31 + 1 - TWO32);
}

/* Exactly half a cycle away, either era is as close; it must be one. */
static void test_era_tie(void **state)
{
	int64_t r;

	(void)state;
	r = sk_rfc868_to_unix(sk_rfc868_from_unix(T_2026 + TWO31), T_2026);
	assert_true(r == T_2026 + TWO31 || r == T_2026 - TWO31);
	assert_int_equal(sk_rfc868_from_unix(r),
			 sk_rfc868_from_unix(T_2026 + TWO31));
}

/* Within ±2^31 - 1 of ref, from_unix then to_unix gives t back. */
static void test_round_trip_sweep(void **state)
{
	static const int64_t refs[] = { 0, T_2026, T_WRAP, T_WRAP - 1,
					-SK_RFC868_OFFSET, INT64_C(1) << 40,
					-(INT64_C(1) << 40) };

	(void)state;
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		for (int64_t d = -(TWO31 - 1); d < TWO31; d += 65537 * 331) {
			int64_t t = refs[i] + d;
			uint32_t v = sk_rfc868_from_unix(t);

			assert_int_equal(sk_rfc868_to_unix(v, refs[i]), t);
		}
		for (int64_t d = -3; d <= 3; d++) {
			int64_t t = refs[i] + TWO31 - 1 + d - 3;
			uint32_t v = sk_rfc868_from_unix(t);

			assert_int_equal(sk_rfc868_to_unix(v, refs[i]), t);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_instants),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_era_around_wrap),
		cmocka_unit_test(test_era_closest),
		cmocka_unit_test(test_era_tie),
		cmocka_unit_test(test_round_trip_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
