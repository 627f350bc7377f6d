/*
 * test_timefmt.c: unit tests for src/proto/timefmt.c.
 *
 * Covers format validation (every enum sk_timefmt_err, the 256/257-byte
 * and width 99/100 boundaries, NUL, malformed conversions), the UTF-8
 * validator (overlongs, surrogates, truncated sequences, > U+10FFFF and
 * the valid edges of every sequence length), rendering for a fixed
 * 2026-11-25 12:03:25 UTC (empty format, the 512-byte reply boundary, a
 * caller's smaller cap), the exact error replies, and line replies
 * (sk_timefmt_reply_line), which refuse a reply holding CR or LF.
 *
 * Every format is checked from right before a guard page (guard.h), and
 * rendered output goes to a guarded buffer of exactly the cap given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard.h"
#include "sk_limits.h"
#include "timefmt.h"

/* 2026-11-25 12:03:25 UTC, a Wednesday, day 329 of the year. */
#define T_FIXED INT64_C(1795608205)

static struct tm fixed_tm(void)
{
	struct tm want = { .tm_year = 2026 - 1900, .tm_mon = 10,
			   .tm_mday = 25, .tm_hour = 12, .tm_min = 3,
			   .tm_sec = 25 };
	struct tm tm;
	time_t t = timegm(&want);

	assert_int_equal((int64_t)t, T_FIXED);
	assert_non_null(gmtime_r(&t, &tm));
	return tm;
}

/* sk_timefmt_check() on n bytes of s placed right before the guard. */
static int check(const char *s, size_t n)
{
	return sk_timefmt_check(sk_guard_place(s, n), n);
}

#define CHECK_STR(s) check((s), sizeof(s) - 1)

static int utf8(const char *s, size_t n)
{
	return sk_utf8_valid(sk_guard_place(s, n), n);
}

#define UTF8_STR(s) utf8((s), sizeof(s) - 1)

/*
 * Render fmt (n bytes, guarded) into a guarded out buffer of cap bytes.
 * On success the reply is copied, NUL-terminated, to got (>= 513 bytes).
 */
static int render(const char *fmt, size_t n, size_t cap, char *got)
{
	struct tm tm = fixed_tm();
	char *out = sk_guard_buf(cap);
	int rc;

	rc = sk_timefmt_render(sk_guard_place(fmt, n), n, &tm, out, cap);
	if (rc >= 0) {
		assert_true((size_t)rc <= cap);
		memcpy(got, out, (size_t)rc);
		got[rc] = '\0';
	}
	return rc;
}

static void assert_render(const char *fmt, const char *want)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	int rc = render(fmt, strlen(fmt), SK_TIMEFMT_MAX_OUT, got);

	assert_int_equal(rc, (int)strlen(want));
	assert_string_equal(got, want);
}

/* The reply for a request, NUL-terminated in got; returns its length. */
static size_t reply(const char *req, size_t n, char *got)
{
	struct tm tm = fixed_tm();
	char *out = sk_guard_buf(SK_TIMEFMT_MAX_OUT);
	size_t len;

	len = sk_timefmt_reply(sk_guard_place(req, n), n, &tm, out,
			       SK_TIMEFMT_MAX_OUT);
	assert_true(len <= SK_TIMEFMT_MAX_OUT);
	memcpy(got, out, len);
	got[len] = '\0';
	return len;
}

static void assert_reply(const char *req, size_t n, const char *want)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	size_t len = reply(req, n, got);

	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
}

/* The same through sk_timefmt_reply_line(). */
static void assert_reply_line(const char *req, size_t n, const char *want)
{
	struct tm tm = fixed_tm();
	char *out = sk_guard_buf(SK_TIMEFMT_MAX_OUT);
	size_t len;

	len = sk_timefmt_reply_line(sk_guard_place(req, n), n, &tm, out,
				    SK_TIMEFMT_MAX_OUT);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
}

/* ---- validation ---------------------------------------------------- */

static void test_check_plain(void **state)
{
	(void)state;
	assert_int_equal(check("", 0), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("hello"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%F %X"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%%"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("100%% at %H:%M"), SK_TIMEFMT_OK);
}

static void test_check_every_conversion(void **state)
{
	static const char conv[] =
		"aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%";
	char f[3] = "%";

	(void)state;
	for (size_t i = 0; i < sizeof(conv) - 1; i++) {
		f[1] = conv[i];
		assert_int_equal(check(f, 2), SK_TIMEFMT_OK);
	}
}

static void test_check_flags_and_modifiers(void **state)
{
	(void)state;
	assert_int_equal(CHECK_STR("%_H"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%-d"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%0e"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%^a"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%#Z"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%_-0^#10Y"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%Ec"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%Od"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%5EY"), SK_TIMEFMT_OK);
}

static void test_check_conv_errors(void **state)
{
	static const char *bad[] = {
		"%",   "abc%", "%q",  "%J",  "%L",  "%+",  "%*", "%1",
		"%99", "%_",   "%#",  "%E",  "%O",  "%Eq", "%EE", "%EO",
		"%E5Y", "%5",  "% Y", "%Y%", "%%%", "%\xc3\xa9",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i], strlen(bad[i])),
				 SK_TIMEFMT_E_CONV);
}

static void test_check_width(void **state)
{
	(void)state;
	assert_int_equal(CHECK_STR("%99Y"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%099Y"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%_99H"), SK_TIMEFMT_OK);
	assert_int_equal(CHECK_STR("%100Y"), SK_TIMEFMT_E_WIDTH);
	assert_int_equal(CHECK_STR("%_100Y"), SK_TIMEFMT_E_WIDTH);
	assert_int_equal(CHECK_STR("%0100Y"), SK_TIMEFMT_E_WIDTH);
	assert_int_equal(CHECK_STR("%999Y"), SK_TIMEFMT_E_WIDTH);
	/* Far more digits than an unsigned holds: refused, not wrapped. */
	assert_int_equal(CHECK_STR("%99999999999999999999999999999999Y"),
			 SK_TIMEFMT_E_WIDTH);
	assert_int_equal(CHECK_STR("%4294967297Y"), SK_TIMEFMT_E_WIDTH);
	/* The width error wins even when no conversion follows. */
	assert_int_equal(CHECK_STR("%100"), SK_TIMEFMT_E_WIDTH);
}

static void test_check_length(void **state)
{
	char f[SK_TIMEFMT_MAX_IN + 2];

	(void)state;
	memset(f, 'a', sizeof(f));
	assert_int_equal(check(f, 256), SK_TIMEFMT_OK);
	assert_int_equal(check(f, 257), SK_TIMEFMT_E_LONG);
	assert_int_equal(check(f, 258), SK_TIMEFMT_E_LONG);

	/* 256 bytes ending in a conversion. */
	f[254] = '%';
	f[255] = 'Y';
	assert_int_equal(check(f, 256), SK_TIMEFMT_OK);
	/* ... and in a lone % at byte 256. */
	f[254] = 'a';
	f[255] = '%';
	assert_int_equal(check(f, 256), SK_TIMEFMT_E_CONV);

	/* Length is judged first, before NUL or UTF-8. */
	f[10] = '\0';
	f[11] = (char)0xff;
	assert_int_equal(check(f, 257), SK_TIMEFMT_E_LONG);
}

static void test_check_nul(void **state)
{
	(void)state;
	assert_int_equal(check("\0", 1), SK_TIMEFMT_E_NUL);
	assert_int_equal(check("a\0b", 3), SK_TIMEFMT_E_NUL);
	assert_int_equal(check("%Y\0", 3), SK_TIMEFMT_E_NUL);
	/* A NUL right after a % is a NUL, not a conversion. */
	assert_int_equal(check("%\0", 2), SK_TIMEFMT_E_NUL);
	/* NUL is judged before UTF-8. */
	assert_int_equal(check("\xff\0", 2), SK_TIMEFMT_E_NUL);
}

/* ---- UTF-8 --------------------------------------------------------- */

static void test_utf8_valid(void **state)
{
	static const char *good[] = {
		"",
		"plain ASCII \x7f",
		"\xc2\x80",                 /* U+0080, smallest 2-byte */
		"\xc3\xa9t\xc3\xa9",        /* "été" */
		"\xdf\xbf",                 /* U+07FF */
		"\xe0\xa0\x80",             /* U+0800, smallest 3-byte */
		"\xe2\x82\xac",             /* U+20AC euro */
		"\xed\x9f\xbf",             /* U+D7FF, below surrogates */
		"\xee\x80\x80",             /* U+E000, above surrogates */
		"\xef\xbf\xbf",             /* U+FFFF */
		"\xf0\x90\x80\x80",         /* U+10000, smallest 4-byte */
		"\xf0\x9f\x98\x80",         /* U+1F600 */
		"\xf4\x8f\xbf\xbf",         /* U+10FFFF, the last */
		"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t n = strlen(good[i]);

		assert_int_equal(utf8(good[i], n), 1);
		assert_int_equal(check(good[i], n), SK_TIMEFMT_OK);
	}
}

static void test_utf8_invalid(void **state)
{
	static const char *bad[] = {
		"\x80",                     /* lone continuation */
		"a\xbf",                    /* lone continuation at end */
		"\xc0\xaf",                 /* overlong '/' */
		"\xc0\x80",                 /* overlong NUL */
		"\xc1\xbf",                 /* overlong U+007F */
		"\xe0\x80\xaf",             /* overlong '/' in 3 bytes */
		"\xe0\x9f\xbf",             /* overlong U+07FF */
		"\xf0\x80\x80\xaf",         /* overlong '/' in 4 bytes */
		"\xf0\x8f\xbf\xbf",         /* overlong U+FFFF */
		"\xed\xa0\x80",             /* U+D800, a surrogate */
		"\xed\xbf\xbf",             /* U+DFFF, a surrogate */
		"\xed\xa0\xbd\xed\xb8\x80", /* a CESU-8 surrogate pair */
		"\xf4\x90\x80\x80",         /* U+110000 */
		"\xf5\x80\x80\x80",         /* lead byte F5 */
		"\xf7\xbf\xbf\xbf",         /* U+1FFFFF */
		"\xf8\x88\x80\x80\x80",     /* 5-byte form */
		"\xfc\x84\x80\x80\x80\x80", /* 6-byte form */
		"\xfe",
		"\xff",
		"\xc3",                     /* truncated at the end */
		"\xe2\x82",
		"\xe2",
		"\xf0\x9f\x98",
		"\xf0\x9f",
		"\xf0",
		"\xc3" "A",                 /* continuation missing */
		"\xe2\x82" "A",
		"\xe2" "AB",
		"\xf0\x9f\x98" "A",
		"\xc3\xc3\xa9",             /* lead where continuation due */
		"\xc3\xa9\xa9",             /* one continuation too many */
		"ok \xe2\x82\xac then \xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		assert_int_equal(utf8(bad[i], n), 0);
		assert_int_equal(check(bad[i], n), SK_TIMEFMT_E_UTF8);
	}
	assert_int_equal(UTF8_STR("\xc3\xa9"), 1);
	assert_int_equal(utf8("\xc3\xa9", 1), 0);
}

/* Every 2- to 4-byte sequence decodes the same as a reference decoder. */
static void test_utf8_exhaustive_short(void **state)
{
	unsigned char b[4];

	(void)state;
	for (unsigned c0 = 0x80; c0 <= 0xff; c0++) {
		for (unsigned c1 = 0; c1 <= 0xff; c1++) {
			int want;

			b[0] = (unsigned char)c0;
			b[1] = (unsigned char)c1;
			/* Table 3-7 of the Unicode standard, two bytes. */
			want = c0 >= 0xc2 && c0 <= 0xdf && c1 >= 0x80 &&
			       c1 <= 0xbf;
			assert_int_equal(utf8((char *)b, 2), want);
		}
	}
	for (unsigned c0 = 0xe0; c0 <= 0xf4; c0++) {
		for (unsigned c1 = 0x80; c1 <= 0xbf; c1++) {
			unsigned lo = 0x80, hi = 0xbf;
			int want;

			if (c0 == 0xe0)
				lo = 0xa0;
			else if (c0 == 0xed)
				hi = 0x9f;
			else if (c0 == 0xf0)
				lo = 0x90;
			else if (c0 == 0xf4)
				hi = 0x8f;
			want = c1 >= lo && c1 <= hi;
			b[0] = (unsigned char)c0;
			b[1] = (unsigned char)c1;
			b[2] = 0x80;
			b[3] = 0xbf;
			assert_int_equal(utf8((char *)b, c0 < 0xf0 ? 3 : 4),
					 want);
			/* One byte short is never valid. */
			assert_int_equal(utf8((char *)b, c0 < 0xf0 ? 2 : 3), 0);
		}
	}
}

/* ---- rendering ----------------------------------------------------- */

static void test_render_fixed(void **state)
{
	(void)state;
	assert_render("%F %X", "2026-11-25 12:03:25");
	assert_render("%Y-%m-%d", "2026-11-25");
	assert_render("%H:%M:%S", "12:03:25");
	assert_render("%a %A %b %B", "Wed Wednesday Nov November");
	assert_render("%j %u %w", "329 3 3");
	assert_render("%e|%-d|%_m|%5Y|%_5Y", "25|25|11|02026| 2026");
	assert_render("%z", "+0000");
	assert_render("%s", "1795608205");
	assert_render("%%Y", "%Y");
	assert_render("a%nb%tc", "a\nb\tc");
	assert_render("\xc3\xa9t\xc3\xa9 %Y \xf0\x9f\x98\x80",
		      "\xc3\xa9t\xc3\xa9 2026 \xf0\x9f\x98\x80");
	assert_render("no conversions", "no conversions");
}

static void test_render_empty_is_default(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];

	(void)state;
	assert_int_equal(render("", 0, SK_TIMEFMT_MAX_OUT, got), 19);
	assert_string_equal(got, "2026-11-25 12:03:25");
	assert_render(SK_TIMEFMT_DEFAULT, "2026-11-25 12:03:25");
}

static void test_render_width(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	char want[100];

	(void)state;
	assert_int_equal(render("%99Y", 4, SK_TIMEFMT_MAX_OUT, got), 99);
	memset(want, '0', 95);
	memcpy(want + 95, "2026", 5);
	assert_string_equal(got, want);
	assert_int_equal(render("%100Y", 5, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_WIDTH);
}

static void test_render_refuses_bad_formats(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	char f[SK_TIMEFMT_MAX_IN + 1];

	(void)state;
	memset(f, 'a', sizeof(f));
	assert_int_equal(render(f, 257, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_LONG);
	assert_int_equal(render("a\0", 2, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_NUL);
	assert_int_equal(render("\xed\xa0\x80", 3, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_UTF8);
	assert_int_equal(render("%q", 2, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_CONV);
	assert_int_equal(render("%", 1, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_CONV);
}

/* Builds a format whose reply is exactly n bytes: %99Y blocks, then 'x'. */
static size_t fmt_of_len(char *f, size_t n)
{
	size_t len = 0;

	while (n >= 99 + 1) {
		memcpy(f + len, "%99Y", 4);
		len += 4;
		n -= 99;
	}
	memset(f + len, 'x', n);
	return len + n;
}

static void test_render_out_boundary(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	char f[SK_TIMEFMT_MAX_IN];
	size_t n;

	(void)state;
	n = fmt_of_len(f, 512);
	assert_true(n <= SK_TIMEFMT_MAX_IN);
	assert_int_equal(render(f, n, SK_TIMEFMT_MAX_OUT, got), 512);
	assert_int_equal(got[0], '0');
	assert_int_equal(got[511], 'x');

	n = fmt_of_len(f, 513);
	assert_int_equal(render(f, n, SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_OUTLONG);

	/* A bigger cap does not lift the 512-byte limit. */
	n = fmt_of_len(f, 513);
	{
		struct tm tm = fixed_tm();
		static char big[4096];

		assert_int_equal(sk_timefmt_render(f, n, &tm, big,
						   sizeof(big)),
				 SK_TIMEFMT_E_OUTLONG);
	}

	/* Six 99-byte fields in a short format: a padding bomb. */
	assert_int_equal(render("%99Y%99Y%99Y%99Y%99Y%99Y", 24,
				SK_TIMEFMT_MAX_OUT, got),
			 SK_TIMEFMT_E_OUTLONG);
	/* 256 literal bytes fit. */
	memset(f, 'y', sizeof(f));
	assert_int_equal(render(f, sizeof(f), SK_TIMEFMT_MAX_OUT, got), 256);
}

static void test_render_small_cap(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];

	(void)state;
	assert_int_equal(render("%Y", 2, 4, got), 4);
	assert_string_equal(got, "2026");
	assert_int_equal(render("%Y", 2, 3, got), SK_TIMEFMT_E_OUTLONG);
	assert_int_equal(render("", 0, 19, got), 19);
	assert_int_equal(render("", 0, 18, got), SK_TIMEFMT_E_OUTLONG);
	assert_int_equal(render("x", 1, 0, got), SK_TIMEFMT_E_OUTLONG);
}

/* ---- replies ------------------------------------------------------- */

static void test_reply_ok(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];

	(void)state;
	assert_int_equal(reply("", 0, got), 19);
	assert_string_equal(got, "2026-11-25 12:03:25");
	assert_int_equal(reply("%H", 2, got), 2);
	assert_string_equal(got, "12");
}

static void test_reply_errors(void **state)
{
	char f[600];
	size_t n;

	(void)state;
	n = fmt_of_len(f, 513);
	assert_reply(f, n, "error: reply longer than 512 bytes");
	assert_reply("%99Y%99Y%99Y%99Y%99Y%99Y", 24,
		     "error: reply longer than 512 bytes");
	memset(f, 'a', sizeof(f));
	assert_reply(f, 257, "error: format longer than 256 bytes");
	assert_reply(f, sizeof(f), "error: format longer than 256 bytes");
	assert_reply("a\0b", 3, "error: format contains a NUL byte");
	assert_reply("\xc0\xaf", 2, "error: format is not valid UTF-8");
	assert_reply("%Q", 2, "error: unknown conversion in format");
	assert_reply("%100d", 5, "error: field width over 99 in format");
}

/* The TCP service answers an over-long line with this exact call: the
 * request pointer is a 1-byte string, so nothing may read it. */
static void test_reply_overlong_line(void **state)
{
	char got[SK_TIMEFMT_MAX_OUT + 1];
	struct tm tm = fixed_tm();
	size_t n;

	(void)state;
	n = sk_timefmt_reply(sk_guard_str(""), SK_TIMEFMT_MAX_IN + 1, &tm,
			     got, SK_TIMEFMT_MAX_OUT);
	assert_int_equal(n, 35);
	assert_memory_equal(got, "error: format longer than 256 bytes", 35);
	memset(got, 0, sizeof(got));
	n = sk_timefmt_reply_line(sk_guard_str(""), SK_TIMEFMT_MAX_IN + 1,
				  &tm, got, SK_TIMEFMT_MAX_OUT);
	assert_int_equal(n, 35);
	assert_memory_equal(got, "error: format longer than 256 bytes", 35);
}

/* Datagram replies may hold line breaks; they are the client's text. */
static void test_reply_keeps_breaks(void **state)
{
	(void)state;
	assert_reply("a%nb", 4, "a\nb");
	assert_reply("a\rb", 3, "a\rb");
}

static void test_reply_line_ok(void **state)
{
	(void)state;
	assert_reply_line("", 0, "2026-11-25 12:03:25");
	assert_reply_line("%F %X", 5, "2026-11-25 12:03:25");
	assert_reply_line("%t|%H", 5, "\t|12");
	assert_reply_line("%%n", 3, "%n");
}

static void test_reply_line_breaks(void **state)
{
	static const char want[] = "error: reply would contain a line break";
	char f[SK_TIMEFMT_MAX_IN];
	size_t n;

	(void)state;
	assert_int_equal(sizeof(want) - 1, 39);
	assert_reply_line("%n", 2, want);
	assert_reply_line("x%nx", 4, want);
	assert_reply_line("%5n", 3, want);
	assert_reply_line("%_99n", 5, want);
	assert_reply_line("a\rb", 3, want);
	assert_reply_line("\r", 1, want);
	assert_reply_line("\n", 1, want);
	assert_reply_line("%Y\r", 3, want);
	/* The break as the last byte of a 512-byte reply. */
	n = fmt_of_len(f, 511);
	memcpy(f + n, "%n", 2);
	assert_reply_line(f, n + 2, want);
}

/* Refusals come first, with the same replies as sk_timefmt_reply(). */
static void test_reply_line_errors(void **state)
{
	char f[600];
	size_t n;

	(void)state;
	n = fmt_of_len(f, 513);
	assert_reply_line(f, n, "error: reply longer than 512 bytes");
	memcpy(f + n - 1, "%n", 2);
	assert_reply_line(f, n + 1, "error: reply longer than 512 bytes");
	assert_reply_line("%n%q", 4, "error: unknown conversion in format");
	assert_reply_line("%n\0", 3, "error: format contains a NUL byte");
	assert_reply_line("%n\xff", 3, "error: format is not valid UTF-8");
	assert_reply_line("%100n", 5, "error: field width over 99 in format");
	memset(f, '\r', sizeof(f));
	assert_reply_line(f, 257, "error: format longer than 256 bytes");
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_LONG),
			    "format longer than 256 bytes");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_NUL),
			    "format contains a NUL byte");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_UTF8),
			    "format is not valid UTF-8");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_CONV),
			    "unknown conversion in format");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_WIDTH),
			    "field width over 99 in format");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_OUTLONG),
			    "reply longer than 512 bytes");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_E_BREAK),
			    "reply would contain a line break");
	assert_string_equal(sk_timefmt_strerror(SK_TIMEFMT_OK), "bad format");
	assert_string_equal(sk_timefmt_strerror(-99), "bad format");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_plain),
		cmocka_unit_test(test_check_every_conversion),
		cmocka_unit_test(test_check_flags_and_modifiers),
		cmocka_unit_test(test_check_conv_errors),
		cmocka_unit_test(test_check_width),
		cmocka_unit_test(test_check_length),
		cmocka_unit_test(test_check_nul),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_utf8_exhaustive_short),
		cmocka_unit_test(test_render_fixed),
		cmocka_unit_test(test_render_empty_is_default),
		cmocka_unit_test(test_render_width),
		cmocka_unit_test(test_render_refuses_bad_formats),
		cmocka_unit_test(test_render_out_boundary),
		cmocka_unit_test(test_render_small_cap),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_errors),
		cmocka_unit_test(test_reply_overlong_line),
		cmocka_unit_test(test_reply_keeps_breaks),
		cmocka_unit_test(test_reply_line_ok),
		cmocka_unit_test(test_reply_line_breaks),
		cmocka_unit_test(test_reply_line_errors),
		cmocka_unit_test(test_strerror),
	};

	/* %s renders through mktime(), which reads TZ. */
	setenv("TZ", "UTC0", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
