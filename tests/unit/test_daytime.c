/*
 * test_daytime.c: unit tests for src/proto/daytime.c (RFC 867 text).
 *
 * Covers the exact reply bytes for fixed times (a two-digit day, a
 * space-padded one-digit day, the epoch, the RFC 868 wrap second, a leap
 * day), that the reply always ends in CRLF and fits SK_DAYTIME_MAX, and
 * that a buffer one byte short gives 0 and writes nothing past its cap
 * (outputs go to guarded buffers, guard.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "daytime.h"
#include "guard.h"

static struct tm utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm want = { .tm_year = y - 1900, .tm_mon = mon - 1,
			   .tm_mday = d, .tm_hour = h, .tm_min = min,
			   .tm_sec = s };
	struct tm tm;
	time_t t = timegm(&want);

	assert_non_null(gmtime_r(&t, &tm));
	return tm;
}

static void assert_daytime(struct tm tm, const char *want)
{
	size_t n = strlen(want);
	char *out = sk_guard_buf(SK_DAYTIME_MAX);

	assert_int_equal(sk_daytime_format(&tm, out, SK_DAYTIME_MAX), n);
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], '\0');
}

static void test_fixed_times(void **state)
{
	(void)state;
	assert_daytime(utc(2026, 11, 25, 12, 3, 25),
		       "Wed Nov 25 12:03:25 2026\r\n");
	assert_daytime(utc(2026, 11, 5, 1, 2, 3),
		       "Thu Nov  5 01:02:03 2026\r\n");
	assert_daytime(utc(1970, 1, 1, 0, 0, 0),
		       "Thu Jan  1 00:00:00 1970\r\n");
	assert_daytime(utc(2036, 2, 7, 6, 28, 16),
		       "Thu Feb  7 06:28:16 2036\r\n");
	assert_daytime(utc(2028, 2, 29, 23, 59, 59),
		       "Tue Feb 29 23:59:59 2028\r\n");
	assert_daytime(utc(2000, 12, 31, 0, 0, 0),
		       "Sun Dec 31 00:00:00 2000\r\n");
}

static void test_every_day_of_a_year(void **state)
{
	struct tm tm = utc(2026, 1, 1, 0, 0, 0);
	time_t t = timegm(&tm);

	(void)state;
	for (int d = 0; d < 366; d++, t += 86400) {
		char *out = sk_guard_buf(SK_DAYTIME_MAX);
		int mday;
		size_t n;

		assert_non_null(gmtime_r(&t, &tm));
		n = sk_daytime_format(&tm, out, SK_DAYTIME_MAX);
		/* "Www Mmm dd hh:mm:ss yyyy\r\n" */
		assert_int_equal(n, 26);
		assert_memory_equal(out + 24, "\r\n", 2);
		assert_int_equal(out[3], ' ');
		assert_int_equal(out[7], ' ');
		assert_int_equal(out[10], ' ');
		/* The day: " 5" or "25". */
		assert_true(out[8] == ' ' || (out[8] >= '1' && out[8] <= '3'));
		assert_true(out[9] >= '0' && out[9] <= '9');
		mday = out[8] == ' ' ? 0 : (out[8] - '0') * 10;
		mday += out[9] - '0';
		assert_int_equal(mday, tm.tm_mday);
	}
}

static void test_small_buffer(void **state)
{
	struct tm tm = utc(2026, 11, 25, 12, 3, 25);
	char *out;

	(void)state;
	/* 26 bytes and a NUL. */
	out = sk_guard_buf(27);
	assert_int_equal(sk_daytime_format(&tm, out, 27), 26);
	assert_memory_equal(out, "Wed Nov 25 12:03:25 2026\r\n", 27);
	out = sk_guard_buf(26);
	assert_int_equal(sk_daytime_format(&tm, out, 26), 0);
	out = sk_guard_buf(1);
	assert_int_equal(sk_daytime_format(&tm, out, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_times),
		cmocka_unit_test(test_every_day_of_a_year),
		cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
