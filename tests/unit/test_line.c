/*
 * test_line.c: unit tests for src/proto/line.c, the bounded line framer.
 *
 * Covers LF and CRLF lines, empty lines, a CR inside a line, lines split
 * across calls down to one byte per call, the SK_LINE_MAX boundary (MAX
 * and MAX + 1 bytes, with and without CR, whole and split), over-long
 * lines reported exactly once and skipped, a 100 KB line fed in chunks
 * followed by a line that must still work, and the contract that a call
 * returns SK_LINE_PARTIAL only when it used all of its input.
 *
 * The framer is driven exactly as line.h says: call again with the rest
 * of the input until SK_LINE_PARTIAL. Every chunk is placed right before
 * a guard page (guard.h), so a read past the chunk faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "line.h"
#include "sk_limits.h"

#define EV_MAX 64

/* What the framer reported: lines and over-long markers, in order. */
struct events {
	int n;                         /* events recorded */
	int rc[EV_MAX];                /* SK_LINE_READY or SK_LINE_TOOLONG */
	char line[EV_MAX][SK_LINE_MAX + 1]; /* the line, for READY */
	size_t len[EV_MAX];            /* its length */
	int crlf[EV_MAX];              /* its crlf flag */
	size_t used;                   /* bytes consumed over all calls */
	int calls;                     /* calls to sk_line_next() */
};

/* Feed one chunk (guarded), following the contract of line.h. */
static void feed(struct sk_line *lb, const char *buf, size_t len,
		 struct events *ev)
{
	const char *in = sk_guard_place(buf, len);

	for (;;) {
		const char *line = NULL;
		size_t used = (size_t)-1, ll = (size_t)-1;
		int crlf = -1;
		int rc = sk_line_next(lb, in, len, &used, &line, &ll, &crlf);

		ev->calls++;
		assert_true(used <= len);
		ev->used += used;
		if (rc == SK_LINE_PARTIAL) {
			/* "all input used" */
			assert_int_equal(used, len);
			return;
		}
		assert_true(ev->n < EV_MAX);
		ev->rc[ev->n] = rc;
		if (rc == SK_LINE_READY) {
			assert_true(used > 0);
			assert_non_null(line);
			assert_true(ll <= SK_LINE_MAX);
			assert_true(crlf == 0 || crlf == 1);
			assert_null(memchr(line, '\n', ll));
			memcpy(ev->line[ev->n], line, ll);
			ev->line[ev->n][ll] = '\0';
			ev->len[ev->n] = ll;
			ev->crlf[ev->n] = crlf;
		} else {
			assert_int_equal(rc, SK_LINE_TOOLONG);
			assert_true(used > 0);
		}
		ev->n++;
		in += used;
		len -= used;
	}
}

/* Feed len bytes in chunks of at most step bytes. */
static void feed_chunks(struct sk_line *lb, const char *buf, size_t len,
			size_t step, struct events *ev)
{
	size_t off = 0;

	do {
		size_t n = len - off < step ? len - off : step;

		feed(lb, buf + off, n, ev);
		off += n;
	} while (off < len);
	assert_int_equal(ev->used, len);
}

static void assert_ready(const struct events *ev, int i, const char *want,
			 size_t wlen, int crlf)
{
	assert_true(i < ev->n);
	assert_int_equal(ev->rc[i], SK_LINE_READY);
	assert_int_equal(ev->len[i], wlen);
	assert_memory_equal(ev->line[i], want, wlen);
	assert_int_equal(ev->crlf[i], crlf);
}

static void assert_toolong(const struct events *ev, int i)
{
	assert_true(i < ev->n);
	assert_int_equal(ev->rc[i], SK_LINE_TOOLONG);
}

static struct events *new_events(void)
{
	struct events *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	return ev;
}

static void test_lf(void **state)
{
	struct sk_line lb;
	struct events *ev = new_events();

	(void)state;
	sk_line_init(&lb);
	feed(&lb, "hello\n", 6, ev);
	assert_int_equal(ev->n, 1);
	assert_ready(ev, 0, "hello", 5, 0);
	assert_int_equal(ev->used, 6);
	assert_int_equal(ev->calls, 2);
	free(ev);
}

static void test_crlf(void **state)
{
	struct sk_line lb;
	struct events *ev = new_events();

	(void)state;
	sk_line_init(&lb);
	feed(&lb, "%F %X\r\n", 7, ev);
	assert_int_equal(ev->n, 1);
	assert_ready(ev, 0, "%F %X", 5, 1);
	free(ev);
}

static void test_several_in_one_read(void **state)
{
	static const char in[] = "a\nbc\r\n\n\r\nx\ry\nrest";
	struct sk_line lb;
	struct events *ev = new_events();

	(void)state;
	sk_line_init(&lb);
	feed(&lb, in, sizeof(in) - 1, ev);
	assert_int_equal(ev->n, 5);
	assert_ready(ev, 0, "a", 1, 0);
	assert_ready(ev, 1, "bc", 2, 1);
	assert_ready(ev, 2, "", 0, 0);
	assert_ready(ev, 3, "", 0, 1);
	/* A CR inside a line is part of it. */
	assert_ready(ev, 4, "x\ry", 3, 0);
	assert_int_equal(ev->used, sizeof(in) - 1);
	/* "rest" waits for its LF. */
	feed(&lb, "\r", 1, ev);
	assert_int_equal(ev->n, 5);
	feed(&lb, "\n", 1, ev);
	assert_int_equal(ev->n, 6);
	assert_ready(ev, 5, "rest", 4, 1);
	free(ev);
}

static void test_byte_by_byte(void **state)
{
	static const char in[] = "hello\r\nworld\n\r\n%Y\n";
	struct sk_line lb;
	struct events *ev = new_events();

	(void)state;
	sk_line_init(&lb);
	feed_chunks(&lb, in, sizeof(in) - 1, 1, ev);
	assert_int_equal(ev->n, 4);
	assert_ready(ev, 0, "hello", 5, 1);
	assert_ready(ev, 1, "world", 5, 0);
	assert_ready(ev, 2, "", 0, 1);
	assert_ready(ev, 3, "%Y", 2, 0);
	free(ev);
}

static void test_split_everywhere(void **state)
{
	static const char in[] = "first line\r\nsecond\nthird\r\n";
	struct sk_line lb;

	(void)state;
	for (size_t cut = 0; cut <= sizeof(in) - 1; cut++) {
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed(&lb, in, cut, ev);
		feed(&lb, in + cut, sizeof(in) - 1 - cut, ev);
		assert_int_equal(ev->used, sizeof(in) - 1);
		assert_int_equal(ev->n, 3);
		assert_ready(ev, 0, "first line", 10, 1);
		assert_ready(ev, 1, "second", 6, 0);
		assert_ready(ev, 2, "third", 5, 1);
		free(ev);
	}
}

/* A buffer of n 'a' bytes followed by the tail string. */
static size_t make_line(char *buf, size_t n, const char *tail)
{
	memset(buf, 'a', n);
	buf[n - 1] = 'z';
	memcpy(buf + n, tail, strlen(tail));
	return n + strlen(tail);
}

/* Expect one line of MAX bytes ending in 'z', whatever the chunking. */
static void max_line_ok(const char *tail, int crlf)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 255, 256, 257, 258,
					4096 };
	char buf[SK_LINE_MAX + 8];
	char want[SK_LINE_MAX];
	size_t n = make_line(buf, SK_LINE_MAX, tail);

	memset(want, 'a', sizeof(want));
	want[SK_LINE_MAX - 1] = 'z';
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct sk_line lb;
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, n, steps[i], ev);
		feed(&lb, "next\n", 5, ev);
		assert_int_equal(ev->n, 2);
		assert_ready(ev, 0, want, SK_LINE_MAX, crlf);
		assert_ready(ev, 1, "next", 4, 0);
		free(ev);
	}
}

static void test_max_lf(void **state)
{
	(void)state;
	max_line_ok("\n", 0);
}

static void test_max_crlf(void **state)
{
	(void)state;
	max_line_ok("\r\n", 1);
}

/* Expect exactly one TOOLONG, then the next line, whatever the chunking. */
static void line_too_long(size_t n, const char *tail)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 255, 256, 257, 258,
					259, 4096 };
	char buf[SK_LINE_MAX + 16];
	size_t len = make_line(buf, n, tail);

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct sk_line lb;
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, len, steps[i], ev);
		assert_int_equal(ev->n, 1);
		assert_toolong(ev, 0);
		feed(&lb, "next\r\n", 6, ev);
		assert_int_equal(ev->n, 2);
		assert_ready(ev, 1, "next", 4, 1);
		free(ev);
	}
}

static void test_max_plus_one_lf(void **state)
{
	(void)state;
	line_too_long(SK_LINE_MAX + 1, "\n");
}

static void test_max_plus_one_crlf(void **state)
{
	(void)state;
	line_too_long(SK_LINE_MAX + 1, "\r\n");
}

static void test_max_plus_two(void **state)
{
	(void)state;
	line_too_long(SK_LINE_MAX + 2, "\n");
	line_too_long(SK_LINE_MAX + 2, "\r\n");
}

/* MAX bytes, then a CR that is not the end of the line. */
static void test_max_then_inner_cr(void **state)
{
	(void)state;
	line_too_long(SK_LINE_MAX, "\rx\n");
	line_too_long(SK_LINE_MAX, "\r\r\n");
}

/* The line after an over-long one, in the same read as its end. */
static void test_next_line_same_read(void **state)
{
	char buf[SK_LINE_MAX + 64];
	size_t len = make_line(buf, SK_LINE_MAX + 1, "\nok\r\nmore\n");
	struct sk_line lb;

	(void)state;
	for (size_t step = 1; step <= len; step++) {
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, len, step, ev);
		assert_int_equal(ev->n, 3);
		assert_toolong(ev, 0);
		assert_ready(ev, 1, "ok", 2, 1);
		assert_ready(ev, 2, "more", 4, 0);
		free(ev);
	}
}

/* A 100 KB line costs no memory, is reported once, and then all is well. */
static void test_huge_line(void **state)
{
	static const size_t steps[] = { 1000, 4096, 333, 257, 256 };
	const size_t huge = 100 * 1024;
	char *buf = malloc(huge + 32);
	size_t len;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'h', huge);
	memcpy(buf + huge, "\nnext\r\n", 7);
	len = huge + 7;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct sk_line lb;
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, len, steps[i], ev);
		assert_int_equal(ev->n, 2);
		assert_toolong(ev, 0);
		assert_ready(ev, 1, "next", 4, 1);
		/* Nothing of the long line is kept. */
		assert_int_equal(lb.len, 0);
		assert_int_equal(lb.skipping, 0);
		free(ev);
	}

	/* The LF of the long line alone in its own read. */
	{
		struct sk_line lb;
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, huge, 4096, ev);
		assert_int_equal(ev->n, 1);
		assert_toolong(ev, 0);
		assert_int_equal(lb.skipping, 1);
		feed(&lb, "\n", 1, ev);
		feed(&lb, "x\n", 2, ev);
		assert_int_equal(ev->n, 2);
		assert_ready(ev, 1, "x", 1, 0);
		free(ev);
	}
	free(buf);
}

/* Two over-long lines in a row are two reports, one each. */
static void test_two_long_lines(void **state)
{
	char buf[2 * (SK_LINE_MAX + 8) + 8];
	size_t len = make_line(buf, SK_LINE_MAX + 5, "\n");

	(void)state;
	len += make_line(buf + len, SK_LINE_MAX + 1, "\r\n");
	memcpy(buf + len, "y\n", 2);
	len += 2;
	for (size_t step = 1; step <= len; step += 37) {
		struct sk_line lb;
		struct events *ev = new_events();

		sk_line_init(&lb);
		feed_chunks(&lb, buf, len, step, ev);
		assert_int_equal(ev->n, 3);
		assert_toolong(ev, 0);
		assert_toolong(ev, 1);
		assert_ready(ev, 2, "y", 1, 0);
		free(ev);
	}
}

static void test_empty_input(void **state)
{
	struct sk_line lb;
	struct events *ev = new_events();

	(void)state;
	sk_line_init(&lb);
	feed(&lb, "", 0, ev);
	assert_int_equal(ev->n, 0);
	assert_int_equal(ev->used, 0);
	feed(&lb, "ab", 2, ev);
	feed(&lb, "", 0, ev);
	feed(&lb, "\n", 1, ev);
	assert_int_equal(ev->n, 1);
	assert_ready(ev, 0, "ab", 2, 0);
	free(ev);
}

/* An empty line looks at no byte before its input for a CR. */
static void test_empty_line_no_underread(void **state)
{
	const char *in = sk_guard_place("\r\n", 2);
	const char *line = NULL;
	struct sk_line lb;
	size_t used, ll;
	int crlf = -1;

	(void)state;
	sk_line_init(&lb);
	assert_int_equal(sk_line_next(&lb, in + 1, 1, &used, &line, &ll,
				      &crlf),
			 SK_LINE_READY);
	assert_int_equal(used, 1);
	assert_int_equal(ll, 0);
	assert_int_equal(crlf, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_several_in_one_read),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_max_lf),
		cmocka_unit_test(test_max_crlf),
		cmocka_unit_test(test_max_plus_one_lf),
		cmocka_unit_test(test_max_plus_one_crlf),
		cmocka_unit_test(test_max_plus_two),
		cmocka_unit_test(test_max_then_inner_cr),
		cmocka_unit_test(test_next_line_same_read),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_two_long_lines),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_empty_line_no_underread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
