/*
 * test_banner.c: unit tests for src/proto/banner.c.
 *
 * Covers compiling configured banners (the \r \n \t \\ escapes, unknown
 * and trailing backslashes, field syntax checked at compile time, the
 * SK_BANNER_MAX and caller cap limits) and expanding them (every field,
 * {time} with and without a tm, {{ and }}, unknown, empty and
 * unterminated fields, a lone }, and the overflow at SK_BANNER_MAX, after
 * which out holds the banner cut at the limit, and not a byte more).
 *
 * Sources sit right before a guard page with their NUL last, compiled
 * templates are expanded from unterminated guarded copies, and outputs go
 * to guarded buffers of exactly the cap given (guard.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banner.h"
#include "guard.h"
#include "sk_limits.h"

/* 2026-11-25 12:03:25 UTC. */
static struct tm fixed_tm(void)
{
	struct tm want = { .tm_year = 2026 - 1900, .tm_mon = 10,
			   .tm_mday = 25, .tm_hour = 12, .tm_min = 3,
			   .tm_sec = 25 };
	struct tm tm;
	time_t t = timegm(&want);

	assert_int_equal((int64_t)t, INT64_C(1795608205));
	assert_non_null(gmtime_r(&t, &tm));
	return tm;
}

/* Compile src into got (NUL-terminated, SK_BANNER_MAX + 1 bytes). */
static int compile(const char *src, size_t cap, char *got)
{
	char *out = sk_guard_buf(cap);
	int rc = sk_banner_compile(sk_guard_str(src), out, cap);

	if (rc >= 0) {
		assert_true((size_t)rc <= cap);
		memcpy(got, out, (size_t)rc);
		got[rc] = '\0';
	}
	return rc;
}

static void assert_compile(const char *src, const char *want, size_t wlen)
{
	char got[SK_BANNER_MAX + 1];

	assert_int_equal(compile(src, SK_BANNER_MAX, got), (int)wlen);
	assert_memory_equal(got, want, wlen);
}

/* Expand tmpl (len bytes, unterminated) into got (cap + 1 bytes). */
static int expand(const char *tmpl, size_t len,
		  const struct sk_banner_fields *f, size_t cap, char *got)
{
	char *out = sk_guard_buf(cap);
	int rc = sk_banner_expand(sk_guard_place(tmpl, len), len, f, out,
				  cap);

	if (rc >= 0) {
		assert_true((size_t)rc <= cap);
		memcpy(got, out, (size_t)rc);
		got[rc] = '\0';
	}
	return rc;
}

static const struct sk_banner_fields *fields(void)
{
	static struct tm tm;
	static struct sk_banner_fields f = {
		.peer = "[2001:db8::1]:4242",
		.addr = "2001:db8::1",
		.port = "4242",
		.local = "192.0.2.1:2323",
	};

	tm = fixed_tm();
	f.tm = &tm;
	return &f;
}

static void assert_expand(const char *tmpl, const char *want)
{
	char got[SK_BANNER_MAX + 1];

	assert_int_equal(expand(tmpl, strlen(tmpl), fields(), SK_BANNER_MAX,
				got),
			 (int)strlen(want));
	assert_string_equal(got, want);
}

/* ---- compile ------------------------------------------------------- */

static void test_compile_default(void **state)
{
	char tmpl[SK_BANNER_MAX + 1], got[SK_BANNER_MAX + 1];
	struct sk_banner_fields f = { "192.0.2.7:5555", "192.0.2.7", "5555",
				      "192.0.2.1:2323", NULL };
	int n;

	(void)state;
	n = compile(SK_BANNER_DEFAULT, SK_BANNER_MAX, tmpl);
	assert_int_equal(n, 27);
	assert_memory_equal(tmpl, "welcome to sockit, {peer}\r\n", 27);
	assert_int_equal(expand(tmpl, (size_t)n, &f, SK_BANNER_MAX, got), 35);
	assert_memory_equal(got, "welcome to sockit, 192.0.2.7:5555\r\n", 35);
}

static void test_compile_escapes(void **state)
{
	(void)state;
	assert_compile("", "", 0);
	assert_compile("plain", "plain", 5);
	assert_compile("a\\tb\\\\c\\nd\\r", "a\tb\\c\nd\r", 8);
	assert_compile("\\\\n", "\\n", 2);
	assert_compile("\\r\\n", "\r\n", 2);
	assert_compile("{{\\n}}", "{{\n}}", 5);
	/* Other bytes pass through, UTF-8 included. */
	assert_compile("caf\xc3\xa9 \x01", "caf\xc3\xa9 \x01", 7);
}

static void test_compile_bad_escapes(void **state)
{
	char got[SK_BANNER_MAX + 1];

	(void)state;
	assert_int_equal(compile("\\x", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	assert_int_equal(compile("\\0", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	assert_int_equal(compile("\\{", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	assert_int_equal(compile("\\N", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	/* A trailing backslash: the parser must stop at the NUL. */
	assert_int_equal(compile("\\", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	assert_int_equal(compile("hello\\", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
	assert_int_equal(compile("\\\\\\", SK_BANNER_MAX, got),
			 SK_BANNER_E_ESCAPE);
}

static void test_compile_checks_fields(void **state)
{
	char got[SK_BANNER_MAX + 1];

	(void)state;
	assert_compile("{peer}{addr}{port}{local}{time}",
		       "{peer}{addr}{port}{local}{time}", 31);
	assert_int_equal(compile("{nope}", SK_BANNER_MAX, got),
			 SK_BANNER_E_FIELD);
	assert_int_equal(compile("hi {peer", SK_BANNER_MAX, got),
			 SK_BANNER_E_FIELD);
	assert_int_equal(compile("{", SK_BANNER_MAX, got), SK_BANNER_E_FIELD);
	assert_int_equal(compile("{}", SK_BANNER_MAX, got), SK_BANNER_E_FIELD);
	assert_int_equal(compile("}", SK_BANNER_MAX, got), SK_BANNER_E_BRACE);
	assert_int_equal(compile("a}b", SK_BANNER_MAX, got),
			 SK_BANNER_E_BRACE);
	assert_int_equal(compile("\\n}", SK_BANNER_MAX, got),
			 SK_BANNER_E_BRACE);
}

static void test_compile_limits(void **state)
{
	char src[2 * (SK_BANNER_MAX + 1) + 1];
	char got[SK_BANNER_MAX + 1];

	(void)state;
	memset(src, 'a', SK_BANNER_MAX);
	src[SK_BANNER_MAX] = '\0';
	assert_int_equal(compile(src, SK_BANNER_MAX, got), SK_BANNER_MAX);
	assert_int_equal(got[SK_BANNER_MAX - 1], 'a');
	/* A bigger cap does not lift SK_BANNER_MAX. */
	src[SK_BANNER_MAX] = 'a';
	src[SK_BANNER_MAX + 1] = '\0';
	assert_int_equal(compile(src, SK_BANNER_MAX + 1, got),
			 SK_BANNER_E_LONG);
	assert_int_equal(compile(src, 4096, got), SK_BANNER_E_LONG);

	/* The limit counts compiled bytes, not source bytes. */
	for (size_t i = 0; i < SK_BANNER_MAX; i++)
		memcpy(src + 2 * i, "\\n", 2);
	src[2 * SK_BANNER_MAX] = '\0';
	assert_int_equal(compile(src, SK_BANNER_MAX, got), SK_BANNER_MAX);
	assert_int_equal(got[0], '\n');
	memcpy(src + 2 * SK_BANNER_MAX, "\\n", 3);
	assert_int_equal(compile(src, SK_BANNER_MAX, got), SK_BANNER_E_LONG);

	/* The caller's cap, when smaller. */
	assert_int_equal(compile("0123456789", 10, got), 10);
	assert_string_equal(got, "0123456789");
	assert_int_equal(compile("0123456789a", 10, got), SK_BANNER_E_LONG);
	assert_int_equal(compile("x", 0, got), SK_BANNER_E_LONG);
	assert_int_equal(compile("", 0, got), 0);
}

/* ---- expand -------------------------------------------------------- */

static void test_expand_fields(void **state)
{
	(void)state;
	assert_expand("{peer}|{addr}|{port}|{local}|{time}",
		      "[2001:db8::1]:4242|2001:db8::1|4242|192.0.2.1:2323|"
		      "2026-11-25 12:03:25");
	assert_expand("hi {peer}\r\n", "hi [2001:db8::1]:4242\r\n");
	assert_expand("{port}{port}", "42424242");
	assert_expand("", "");
	assert_expand("no fields", "no fields");
}

static void test_expand_braces(void **state)
{
	(void)state;
	assert_expand("{{", "{");
	assert_expand("}}", "}");
	assert_expand("{{peer}}", "{peer}");
	assert_expand("{{{port}}}", "{4242}");
	assert_expand("a {{ b }} c", "a { b } c");
}

static void test_expand_time_without_tm(void **state)
{
	struct sk_banner_fields f = { "p", "a", "1", "l", NULL };
	char got[SK_BANNER_MAX + 1];

	(void)state;
	assert_int_equal(expand("t=[{time}]", 10, &f, SK_BANNER_MAX, got), 4);
	assert_string_equal(got, "t=[]");
}

static void test_expand_errors(void **state)
{
	char got[SK_BANNER_MAX + 1];
	static const struct {
		const char *t;
		int rc;
	} bad[] = {
		{ "{", SK_BANNER_E_FIELD },
		{ "{peer", SK_BANNER_E_FIELD },
		{ "x{pe", SK_BANNER_E_FIELD },
		{ "{}", SK_BANNER_E_FIELD },
		{ "{nope}", SK_BANNER_E_FIELD },
		{ "{Peer}", SK_BANNER_E_FIELD },
		{ "{ peer}", SK_BANNER_E_FIELD },
		{ "{peer }", SK_BANNER_E_FIELD },
		{ "{pee}", SK_BANNER_E_FIELD },
		{ "{peers}", SK_BANNER_E_FIELD },
		{ "{{{", SK_BANNER_E_FIELD },
		{ "{pe{er}", SK_BANNER_E_FIELD },
		{ "}", SK_BANNER_E_BRACE },
		{ "a}b", SK_BANNER_E_BRACE },
		{ "x}", SK_BANNER_E_BRACE },
		{ "{peer}}", SK_BANNER_E_BRACE },
		{ "}}}", SK_BANNER_E_BRACE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(expand(bad[i].t, strlen(bad[i].t), fields(),
					SK_BANNER_MAX, got),
				 bad[i].rc);
}

/* A template of n 'a' bytes followed by tail. */
static size_t pad_tmpl(char *t, size_t n, const char *tail)
{
	memset(t, 'a', n);
	memcpy(t + n, tail, strlen(tail));
	return n + strlen(tail);
}

static void test_expand_overflow(void **state)
{
	struct sk_banner_fields f = { "p", "123456789012345678901234", "1",
				      "l", NULL };
	char t[SK_BANNER_MAX + 64];
	char got[4096 + 1];
	size_t n;

	(void)state;
	/* 1000 + 24 = 1024 bytes: fits exactly. */
	n = pad_tmpl(t, 1000, "{addr}");
	assert_int_equal(expand(t, n, &f, SK_BANNER_MAX, got), SK_BANNER_MAX);
	assert_memory_equal(got + 1000, f.addr, 24);
	/* 1025 bytes: over, even with a bigger cap. */
	n = pad_tmpl(t, 1001, "{addr}");
	assert_int_equal(expand(t, n, &f, SK_BANNER_MAX, got),
			 SK_BANNER_E_LONG);
	assert_int_equal(expand(t, n, &f, 4096, got), SK_BANNER_E_LONG);

	/* {time} is 19 bytes. */
	n = pad_tmpl(t, 1005, "{time}");
	assert_int_equal(expand(t, n, fields(), SK_BANNER_MAX, got),
			 SK_BANNER_MAX);
	assert_memory_equal(got + 1005, "2026-11-25 12:03:25", 19);
	n = pad_tmpl(t, 1006, "{time}");
	assert_int_equal(expand(t, n, fields(), SK_BANNER_MAX, got),
			 SK_BANNER_E_LONG);

	/* A literal brace is one byte of output. */
	n = pad_tmpl(t, 1023, "}}");
	assert_int_equal(expand(t, n, &f, SK_BANNER_MAX, got), SK_BANNER_MAX);
	n = pad_tmpl(t, 1024, "{{");
	assert_int_equal(expand(t, n, &f, SK_BANNER_MAX, got),
			 SK_BANNER_E_LONG);

	/* The caller's cap, when smaller. */
	assert_int_equal(expand("{port}", 6, fields(), 4, got), 4);
	assert_string_equal(got, "4242");
	assert_int_equal(expand("{port}", 6, fields(), 3, got),
			 SK_BANNER_E_LONG);
	assert_int_equal(expand("x", 1, fields(), 0, got), SK_BANNER_E_LONG);
	assert_int_equal(expand("{port}", 6, &f, 1, got), 1);
	assert_string_equal(got, "1");
}

/* On overflow, out holds exactly the first min(cap, SK_BANNER_MAX) bytes. */
static void test_expand_overflow_cut(void **state)
{
	struct sk_banner_fields f = { "[2001:db8::1]:4242",
				      "123456789012345678901234", "1", "l",
				      NULL };
	char t[SK_BANNER_MAX + 64];
	size_t n = pad_tmpl(t, 1001, "{addr}");
	const char *tmpl;
	char *out;

	(void)state;
	out = sk_guard_buf(SK_BANNER_MAX);
	tmpl = sk_guard_place(t, n);
	assert_int_equal(sk_banner_expand(tmpl, n, &f, out, SK_BANNER_MAX),
			 SK_BANNER_E_LONG);
	for (size_t i = 0; i < 1001; i++)
		assert_int_equal(out[i], 'a');
	assert_memory_equal(out + 1001, "12345678901234567890123", 23);

	/* A bigger cap: cut at SK_BANNER_MAX, the rest untouched. */
	out = sk_guard_buf(SK_BANNER_MAX + 8);
	tmpl = sk_guard_place(t, n);
	assert_int_equal(sk_banner_expand(tmpl, n, &f, out, SK_BANNER_MAX + 8),
			 SK_BANNER_E_LONG);
	assert_memory_equal(out + 1001, "12345678901234567890123", 23);
	for (size_t i = SK_BANNER_MAX; i < SK_BANNER_MAX + 8; i++)
		assert_int_equal((unsigned char)out[i], 0xa5);

	/* A smaller cap: cut inside a field. */
	out = sk_guard_buf(10);
	tmpl = sk_guard_place("hi {peer}!", 10);
	assert_int_equal(sk_banner_expand(tmpl, 10, &f, out, 10),
			 SK_BANNER_E_LONG);
	assert_memory_equal(out, "hi [2001:d", 10);
	out = sk_guard_buf(0);
	assert_int_equal(sk_banner_expand(tmpl, 10, &f, out, 0),
			 SK_BANNER_E_LONG);
}

/* An over-long field value is an overflow, not a crash. */
static void test_expand_huge_field(void **state)
{
	char *big = malloc(3 * SK_BANNER_MAX);
	struct sk_banner_fields f = { NULL, "a", "1", "l", NULL };
	char got[SK_BANNER_MAX + 1];

	(void)state;
	assert_non_null(big);
	memset(big, 'p', 3 * SK_BANNER_MAX - 1);
	big[3 * SK_BANNER_MAX - 1] = '\0';
	f.peer = big;
	assert_int_equal(expand("{peer}", 6, &f, SK_BANNER_MAX, got),
			 SK_BANNER_E_LONG);
	big[SK_BANNER_MAX] = '\0';
	assert_int_equal(expand("{peer}", 6, &f, SK_BANNER_MAX, got),
			 SK_BANNER_MAX);
	free(big);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(sk_banner_strerror(SK_BANNER_E_FIELD),
			    "unknown or unterminated {field} (know {peer} "
			    "{addr} {port} {local} {time})");
	assert_string_equal(sk_banner_strerror(SK_BANNER_E_BRACE),
			    "lone '}' (write '}}' for a brace)");
	assert_string_equal(sk_banner_strerror(SK_BANNER_E_ESCAPE),
			    "unknown escape (know \\r \\n \\t \\\\)");
	assert_string_equal(sk_banner_strerror(SK_BANNER_E_LONG),
			    "banner longer than 1024 bytes");
	assert_string_equal(sk_banner_strerror(-99), "bad banner");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_default),
		cmocka_unit_test(test_compile_escapes),
		cmocka_unit_test(test_compile_bad_escapes),
		cmocka_unit_test(test_compile_checks_fields),
		cmocka_unit_test(test_compile_limits),
		cmocka_unit_test(test_expand_fields),
		cmocka_unit_test(test_expand_braces),
		cmocka_unit_test(test_expand_time_without_tm),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_expand_overflow),
		cmocka_unit_test(test_expand_overflow_cut),
		cmocka_unit_test(test_expand_huge_field),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
