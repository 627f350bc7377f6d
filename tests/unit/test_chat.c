/*
 * test_chat.c: unit tests for src/proto/chat.c, the chat line protocol.
 *
 * The splitter is driven as the service will drive it: a buffer of
 * SK_CHAT_INBUF bytes that input is appended to, calls until
 * SK_CHAT_PARTIAL, and the consumed bytes dropped from its front. Covered:
 * LF and CRLF, a CR inside a line, empty lines, NUL bytes, splits at
 * every byte, a line of exactly SK_CHAT_LINE_MAX bytes (with CRLF, with
 * LF, and waiting on its CR), one byte more reported exactly once and
 * skipped over many calls with the next line intact, a 100 KB line,
 * partial lines and flush, and flush inside an over-long line.
 *
 * The sanitiser is checked against exact bytes for every class of
 * invalid UTF-8 and every forbidden character, and sk_chat_is_clean()
 * against sk_chat_clean() on every input here and on random ones. Then
 * commands, nicks, output lines (exact bytes and the worst case, which
 * must be SK_CHAT_OUT_MAX exactly) and their classification.
 *
 * Every input is placed right before a guard page, and so is every
 * output buffer of exact size: guard.h for up to a page, and big_place()
 * and big_buf() below for the longer ones (a line with its CR LF is a
 * page and two bytes), so a read or write past the end faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "guard.h"
#include "sk_limits.h"

#define R "\xef\xbf\xbd" /* U+FFFD as sk_chat_clean() writes it */
#define LEN(s) (sizeof(s) - 1)

/* ---- guarded buffers longer than a page ----------------------------- */

/* Bytes of the longest guarded buffer this file needs. */
#define BIG_MAX (SK_CHAT_OUT_MAX + 64)

/* One region of BIG_MAX bytes (rounded up to pages) before a guard page. */
struct big {
	unsigned char *data; /* the region, NULL until first use */
	size_t size;         /* its size */
};

/* [0] for inputs, [1] for outputs, as in guard.h. */
static struct big bigs[2];

static unsigned char *big_end(struct big *b, size_t n)
{
	if (b->data == NULL) {
		size_t ps = (size_t)sysconf(_SC_PAGESIZE);
		void *m;

		b->size = (BIG_MAX + ps - 1) / ps * ps;
		m = mmap(NULL, b->size + ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(m != MAP_FAILED);
		b->data = m;
		assert_int_equal(mprotect(b->data + b->size, ps, PROT_NONE), 0);
	}
	assert_true(n <= b->size);
	memset(b->data, 0xa5, b->size);
	return b->data + b->size - n;
}

/* Like sk_guard_place(), for inputs of any size up to BIG_MAX. */
static const char *place(const void *p, size_t n)
{
	const char *dst;

	if (n <= (size_t)sysconf(_SC_PAGESIZE))
		return sk_guard_place(p, n);
	dst = (const char *)big_end(&bigs[0], n);
	memcpy((char *)dst, p, n);
	return dst;
}

/* Like sk_guard_buf(), for outputs of any size up to BIG_MAX. */
static char *outbuf(size_t n)
{
	if (n <= (size_t)sysconf(_SC_PAGESIZE))
		return sk_guard_buf(n);
	return (char *)big_end(&bigs[1], n);
}

/* ---- line splitting ------------------------------------------------- */

#define EV_MAX 32

/* A member's connection as the service keeps it, and what it saw. */
struct reader {
	struct sk_chat_in st;           /* the splitter */
	char buf[SK_CHAT_INBUF];        /* unconsumed input */
	size_t len;                     /* bytes in buf */
	int n;                          /* events recorded */
	int rc[EV_MAX];                 /* SK_CHAT_LINE or SK_CHAT_TOOLONG */
	char line[EV_MAX][SK_CHAT_LINE_MAX]; /* the line, for LINE */
	size_t linelen[EV_MAX];         /* its length */
	size_t used;                    /* bytes consumed over all calls */
	size_t pushed;                  /* bytes appended over all calls */
	int calls;                      /* calls to sk_chat_in_next() */
};

static struct reader *new_reader(void)
{
	struct reader *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	sk_chat_in_init(&r->st);
	return r;
}

/* Call the splitter until PARTIAL, as chat.h says; check each answer. */
static void drain(struct reader *r, int flush)
{
	for (;;) {
		const char *in = place(r->buf, r->len);
		const char *line = (const char *)1;
		size_t used = (size_t)-1, ll = (size_t)-1;
		int rc = sk_chat_in_next(&r->st, in, r->len, flush, &used,
					 &line, &ll);

		r->calls++;
		assert_true(used <= r->len);
		if (rc == SK_CHAT_LINE) {
			assert_true(used > 0);
			assert_true(line >= in && line + ll <= in + used);
			assert_true(ll <= SK_CHAT_LINE_MAX);
			assert_null(memchr(line, '\n', ll));
			assert_true(r->n < EV_MAX);
			memcpy(r->line[r->n], line, ll);
			r->linelen[r->n] = ll;
		} else {
			assert_null(line);
			assert_int_equal(ll, 0);
		}
		if (rc != SK_CHAT_PARTIAL) {
			assert_true(rc == SK_CHAT_LINE || rc == SK_CHAT_TOOLONG);
			assert_true(r->n < EV_MAX);
			r->rc[r->n++] = rc;
		}
		memmove(r->buf, r->buf + used, r->len - used);
		r->len -= used;
		r->used += used;
		if (rc == SK_CHAT_PARTIAL) {
			/* Nothing complete is left, and what is kept fits. */
			assert_null(memchr(r->buf, '\n', r->len));
			if (flush || r->st.skipping)
				assert_int_equal(r->len, 0);
			else
				assert_true(r->len <= SK_CHAT_LINE_MAX + 1);
			return;
		}
	}
}

/* Append n bytes in chunks of at most step, draining after each read. */
static void push(struct reader *r, const char *p, size_t n, size_t step)
{
	size_t off = 0;

	while (off < n) {
		size_t c = n - off < step ? n - off : step;

		while (c > 0) {
			size_t k = sizeof(r->buf) - r->len;

			/* A drained buffer is never full. */
			assert_true(k > 0);
			if (k > c)
				k = c;
			memcpy(r->buf + r->len, p + off, k);
			r->len += k;
			r->pushed += k;
			off += k;
			c -= k;
			drain(r, 0);
		}
	}
	assert_int_equal(r->used + r->len, r->pushed);
}

static void pushs(struct reader *r, const char *s)
{
	push(r, s, strlen(s), (size_t)-1);
}

static void assert_line(const struct reader *r, int i, const char *want,
			size_t wlen)
{
	assert_true(i < r->n);
	assert_int_equal(r->rc[i], SK_CHAT_LINE);
	assert_int_equal(r->linelen[i], wlen);
	assert_memory_equal(r->line[i], want, wlen);
}

static void assert_toolong(const struct reader *r, int i)
{
	assert_true(i < r->n);
	assert_int_equal(r->rc[i], SK_CHAT_TOOLONG);
}

static void test_in_lf_crlf(void **state)
{
	static const char in[] = "a\nbc\r\n\n\r\nx\ry\nz\r\r\nrest";
	struct reader *r = new_reader();

	(void)state;
	push(r, in, LEN(in), (size_t)-1);
	assert_int_equal(r->n, 6);
	assert_line(r, 0, "a", 1);
	assert_line(r, 1, "bc", 2);
	assert_line(r, 2, "", 0);
	assert_line(r, 3, "", 0);
	/* A CR inside a line, or a second one at its end, is part of it. */
	assert_line(r, 4, "x\ry", 3);
	assert_line(r, 5, "z\r", 2);
	/* "rest" waits for its LF, in the caller's buffer. */
	assert_int_equal(r->len, 4);
	pushs(r, "\r");
	assert_int_equal(r->n, 6);
	assert_int_equal(r->len, 5);
	pushs(r, "\n");
	assert_int_equal(r->n, 7);
	assert_line(r, 6, "rest", 4);
	assert_int_equal(r->len, 0);
	free(r);
}

static void test_in_split_everywhere(void **state)
{
	static const char in[] = "first line\r\nsecond\n\r\nthird\r\n";

	(void)state;
	for (size_t cut = 0; cut <= LEN(in); cut++) {
		struct reader *r = new_reader();

		push(r, in, cut, (size_t)-1);
		push(r, in + cut, LEN(in) - cut, (size_t)-1);
		assert_int_equal(r->n, 4);
		assert_line(r, 0, "first line", 10);
		assert_line(r, 1, "second", 6);
		assert_line(r, 2, "", 0);
		assert_line(r, 3, "third", 5);
		free(r);
	}
	{
		struct reader *r = new_reader();

		push(r, in, LEN(in), 1);
		assert_int_equal(r->n, 4);
		assert_line(r, 3, "third", 5);
		free(r);
	}
}

static void test_in_nul(void **state)
{
	static const char in[] = "a\0b\n\0\n\0\r\n";
	struct reader *r = new_reader();

	(void)state;
	push(r, in, LEN(in), (size_t)-1);
	assert_int_equal(r->n, 3);
	assert_line(r, 0, "a\0b", 3);
	assert_line(r, 1, "\0", 1);
	assert_line(r, 2, "\0", 1);
	free(r);
}

static void test_in_empty_input(void **state)
{
	struct sk_chat_in st;
	const char *line = (const char *)1;
	size_t used = 9, ll = 9;

	(void)state;
	sk_chat_in_init(&st);
	assert_int_equal(sk_chat_in_next(&st, NULL, 0, 0, &used, &line, &ll),
			 SK_CHAT_PARTIAL);
	assert_int_equal(used, 0);
	assert_null(line);
	assert_int_equal(ll, 0);
	assert_int_equal(sk_chat_in_next(&st, NULL, 0, 1, &used, &line, &ll),
			 SK_CHAT_PARTIAL);
	assert_int_equal(used, 0);
}

/* A stream of n bytes of 'a' (the last one 'z') and then tail. */
static char *long_line(size_t n, const char *tail, size_t *len)
{
	size_t tl = strlen(tail);
	char *p = malloc(n + tl + 1);

	assert_non_null(p);
	memset(p, 'a', n);
	if (n > 0)
		p[n - 1] = 'z';
	memcpy(p + n, tail, tl + 1);
	*len = n + tl;
	return p;
}

static const size_t steps[] = { 1, 2, 3, 7, 64, 1000, 4095, 4096, 4097,
				4098, 4099, 8192, (size_t)-1 };
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* A line of exactly SK_CHAT_LINE_MAX bytes is a line, whatever the reads. */
static void max_ok(const char *tail)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX, tail, &len);

	for (size_t i = 0; i < NSTEPS; i++) {
		struct reader *r = new_reader();

		push(r, p, len, steps[i]);
		pushs(r, "next\n");
		assert_int_equal(r->n, 2);
		assert_line(r, 0, p, SK_CHAT_LINE_MAX);
		assert_line(r, 1, "next", 4);
		free(r);
	}
	free(p);
}

static void test_in_max_crlf(void **state)
{
	(void)state;
	max_ok("\r\n");
}

static void test_in_max_lf(void **state)
{
	(void)state;
	max_ok("\n");
}

/* MAX bytes and a CR fill all but one byte: the splitter waits for it. */
static void test_in_max_waits_for_lf(void **state)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX, "\r", &len);
	struct reader *r = new_reader();

	(void)state;
	push(r, p, len, (size_t)-1);
	assert_int_equal(r->n, 0);
	assert_int_equal(r->len, SK_CHAT_LINE_MAX + 1);
	pushs(r, "\n");
	assert_int_equal(r->n, 1);
	assert_line(r, 0, p, SK_CHAT_LINE_MAX);
	assert_int_equal(r->len, 0);
	free(r);
	/* And if what follows the CR is not LF, the line is too long. */
	r = new_reader();
	push(r, p, len, (size_t)-1);
	pushs(r, "x");
	assert_int_equal(r->n, 1);
	assert_toolong(r, 0);
	assert_int_equal(r->len, 0);
	pushs(r, "yyy\nok\n");
	assert_int_equal(r->n, 2);
	assert_line(r, 1, "ok", 2);
	free(r);
	free(p);
}

/* Exactly one TOOLONG, then the next line, whatever the reads. */
static void too_long(size_t n, const char *tail)
{
	size_t len;
	char *p = long_line(n, tail, &len);

	for (size_t i = 0; i < NSTEPS; i++) {
		struct reader *r = new_reader();

		push(r, p, len, steps[i]);
		assert_int_equal(r->n, 1);
		assert_toolong(r, 0);
		assert_int_equal(r->len, 0);
		assert_int_equal(r->st.skipping, 0);
		pushs(r, "next\r\n");
		assert_int_equal(r->n, 2);
		assert_line(r, 1, "next", 4);
		free(r);
	}
	free(p);
}

static void test_in_max_plus_one(void **state)
{
	(void)state;
	too_long(SK_CHAT_LINE_MAX + 1, "\n");
	too_long(SK_CHAT_LINE_MAX + 1, "\r\n");
	too_long(SK_CHAT_LINE_MAX + 2, "\r\n");
	/* MAX bytes and a CR that does not end the line. */
	too_long(SK_CHAT_LINE_MAX, "\rx\n");
	too_long(SK_CHAT_LINE_MAX, "\r\r\n");
}

/* Reported at the moment it is known, and skipped across many calls. */
static void test_in_toolong_moment(void **state)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX + 1, "", &len);
	struct reader *r = new_reader();
	int calls;

	(void)state;
	push(r, p, SK_CHAT_LINE_MAX, 100);
	assert_int_equal(r->n, 0);
	push(r, p + SK_CHAT_LINE_MAX, 1, 1);
	/* MAX + 1 bytes that do not end in CR: too long, now. */
	assert_int_equal(r->n, 1);
	assert_toolong(r, 0);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->st.skipping, 1);
	/* 50000 more bytes of it, one to ten at a time: all dropped. */
	calls = r->calls;
	for (int i = 0; i < 10000; i++)
		push(r, "bbbbbbbbbb", 1 + (size_t)i % 10, 3);
	assert_true(r->calls - calls >= 10000);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->len, 0);
	/* Its end and the next line, in one read. */
	pushs(r, "bb\r\nhello\r\n");
	assert_int_equal(r->n, 2);
	assert_line(r, 1, "hello", 5);
	assert_int_equal(r->st.skipping, 0);
	free(r);
	free(p);
}

/* A 100 KB line costs one buffer, is reported once, and all is well. */
static void test_in_huge(void **state)
{
	static const size_t hsteps[] = { 1000, 4096, 4098, 333, 7 };
	const size_t huge = 100 * 1024;
	char *p = malloc(huge + 32);
	size_t len;

	(void)state;
	assert_non_null(p);
	memset(p, 'h', huge);
	memcpy(p + huge, "\nnext\r\n", 7);
	len = huge + 7;
	for (size_t i = 0; i < sizeof(hsteps) / sizeof(hsteps[0]); i++) {
		struct reader *r = new_reader();

		push(r, p, len, hsteps[i]);
		assert_int_equal(r->n, 2);
		assert_toolong(r, 0);
		assert_line(r, 1, "next", 4);
		assert_int_equal(r->used, len);
		free(r);
	}
	free(p);
}

static void test_in_two_long_lines(void **state)
{
	size_t l1, l2;
	char *a = long_line(SK_CHAT_LINE_MAX + 5, "\n", &l1);
	char *b = long_line(SK_CHAT_LINE_MAX + 1, "\r\ny\n", &l2);

	(void)state;
	for (size_t i = 0; i < NSTEPS; i++) {
		struct reader *r = new_reader();

		push(r, a, l1, steps[i]);
		push(r, b, l2, steps[i]);
		assert_int_equal(r->n, 3);
		assert_toolong(r, 0);
		assert_toolong(r, 1);
		assert_line(r, 2, "y", 1);
		free(r);
	}
	free(a);
	free(b);
}

static void test_in_flush(void **state)
{
	struct reader *r = new_reader();

	(void)state;
	/* The tutorial's client: no LF at all. */
	pushs(r, "hello");
	assert_int_equal(r->n, 0);
	assert_int_equal(r->len, 5);
	drain(r, 1);
	assert_int_equal(r->n, 1);
	assert_line(r, 0, "hello", 5);
	assert_int_equal(r->len, 0);
	/* A final CR is dropped, as before an LF. */
	pushs(r, "hi\r");
	drain(r, 1);
	assert_line(r, 1, "hi", 2);
	/* A lone CR is an empty line, consumed. */
	pushs(r, "\r");
	drain(r, 1);
	assert_int_equal(r->n, 3);
	assert_line(r, 2, "", 0);
	/* Nothing held: nothing reported. */
	drain(r, 1);
	assert_int_equal(r->n, 3);
	/* Complete lines first, then the partial one. */
	pushs(r, "a\nb\r\nc");
	assert_int_equal(r->n, 5);
	drain(r, 1);
	assert_int_equal(r->n, 6);
	assert_line(r, 3, "a", 1);
	assert_line(r, 4, "b", 1);
	assert_line(r, 5, "c", 1);
	/* And framing goes on as before. */
	pushs(r, "d\n");
	assert_int_equal(r->n, 7);
	assert_line(r, 6, "d", 1);
	free(r);
}

/* MAX bytes and a CR, flushed: the LF never came, so it is a line. */
static void test_in_flush_max(void **state)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX, "\r", &len);
	struct reader *r = new_reader();

	(void)state;
	push(r, p, len, (size_t)-1);
	assert_int_equal(r->n, 0);
	drain(r, 1);
	assert_int_equal(r->n, 1);
	assert_line(r, 0, p, SK_CHAT_LINE_MAX);
	free(r);
	free(p);
}

static void test_in_flush_skipping(void **state)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX + 10, "", &len);
	struct reader *r = new_reader();

	(void)state;
	push(r, p, len, 512);
	assert_int_equal(r->n, 1);
	assert_toolong(r, 0);
	assert_int_equal(r->st.skipping, 1);
	/* More of it, then the service's timeout: dropped, and the long
	 * line is over. */
	pushs(r, "more");
	drain(r, 1);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->st.skipping, 0);
	/* The next bytes are a new line, even without an LF first. */
	pushs(r, "new\n");
	assert_int_equal(r->n, 2);
	assert_line(r, 1, "new", 3);
	free(r);
	free(p);
}

/* A flush call that is the one to find the line too long. */
static void test_in_flush_finds_toolong(void **state)
{
	size_t len;
	char *p = long_line(SK_CHAT_LINE_MAX + 1, "", &len);
	const char *in = place(p, len);
	const char *line;
	struct sk_chat_in st;
	size_t used, ll;

	(void)state;
	sk_chat_in_init(&st);
	assert_int_equal(sk_chat_in_next(&st, in, len, 1, &used, &line, &ll),
			 SK_CHAT_TOOLONG);
	assert_int_equal(used, len);
	assert_int_equal(st.skipping, 0);
	in = place("x\n", 2);
	assert_int_equal(sk_chat_in_next(&st, in, 2, 0, &used, &line, &ll),
			 SK_CHAT_LINE);
	assert_int_equal(ll, 1);
	assert_memory_equal(line, "x", 1);
	free(p);
}

/* Skipping ends at an LF, and the rest of the same input is framed. */
static void test_in_skip_then_lines(void **state)
{
	struct sk_chat_in st;
	const char *in, *line;
	size_t used, ll;

	(void)state;
	sk_chat_in_init(&st);
	st.skipping = 1;
	in = place("tail\r\none\ntwo", 13);
	assert_int_equal(sk_chat_in_next(&st, in, 13, 0, &used, &line, &ll),
			 SK_CHAT_LINE);
	assert_int_equal(used, 10);
	assert_int_equal(ll, 3);
	assert_memory_equal(line, "one", 3);
	/* Only an over-long line's tail: PARTIAL with bytes used. */
	st.skipping = 1;
	in = place("tail\ntwo", 8);
	assert_int_equal(sk_chat_in_next(&st, in, 8, 0, &used, &line, &ll),
			 SK_CHAT_PARTIAL);
	assert_int_equal(used, 5);
	assert_int_equal(st.skipping, 0);
	/* Flushed with bytes of it in hand: dropped, and skipping ends. */
	st.skipping = 1;
	in = place("more", 4);
	assert_int_equal(sk_chat_in_next(&st, in, 4, 1, &used, &line, &ll),
			 SK_CHAT_PARTIAL);
	assert_int_equal(used, 4);
	assert_int_equal(st.skipping, 0);
	/* Not flushed: dropped, and skipping goes on. */
	st.skipping = 1;
	in = place("more", 4);
	assert_int_equal(sk_chat_in_next(&st, in, 4, 0, &used, &line, &ll),
			 SK_CHAT_PARTIAL);
	assert_int_equal(used, 4);
	assert_int_equal(st.skipping, 1);
}

/* ---- sanitising ----------------------------------------------------- */

struct clean_case {
	const char *in;  /* input */
	size_t inlen;    /* its bytes */
	const char *out; /* exactly what sk_chat_clean() writes */
	size_t outlen;   /* its bytes */
};

#define CASE(i, o) { i, LEN(i), o, LEN(o) }
#define SAME(i) CASE(i, i)

static const struct clean_case clean_cases[] = {
	SAME(""),
	SAME("hello, world! ~{}|"),
	SAME(" "),
	/* TAB is kept. */
	SAME("a\tb\t"),
	/* C0 controls, DEL. */
	CASE("\x1b[2J", R "[2J"),
	CASE("\x1b]0;pwned\x07", R "]0;pwned" R),
	CASE("a\0b", "a" R "b"),
	CASE("\r", R),
	CASE("\n", R),
	CASE("x\r\n", "x" R R),
	CASE("\x01\x1f", R R),
	CASE("\x7f", R),
	CASE("\x7e\x7f\x80", "~" R R),
	/* C1 controls, encoded: U+0080, U+0085 (NEL), U+009B (CSI), U+009F. */
	CASE("\xc2\x80", R),
	CASE("\xc2\x85", R),
	CASE("\xc2\x9b" "31m", R "31m"),
	CASE("\xc2\x9f", R),
	/* U+00A0 and above are shown. */
	SAME("\xc2\xa0"),
	SAME("caf\xc3\xa9"),
	SAME("\xdf\xbf"),
	SAME("\xe0\xa0\x80"),
	SAME("\xed\x9f\xbf"),
	SAME("\xee\x80\x80"),
	SAME("\xef\xbf\xbd"),
	SAME("\xef\xbf\xbf"),
	SAME("\xf0\x90\x80\x80"),
	SAME("\xf0\x9f\x98\x80"),
	SAME("\xf4\x8f\xbf\xbf"),
	/* Line and bidi controls. */
	CASE("\xe2\x80\xa8", R),
	CASE("\xe2\x80\xa9", R),
	CASE("\xe2\x80\xaa", R),
	CASE("\xe2\x80\xab", R),
	CASE("\xe2\x80\xac", R),
	CASE("\xe2\x80\xad", R),
	CASE("\xe2\x80\xae" "cba", R "cba"),
	CASE("\xe2\x81\xa6", R),
	CASE("\xe2\x81\xa7", R),
	CASE("\xe2\x81\xa8", R),
	CASE("\xe2\x81\xa9", R),
	/* Their neighbours are not. */
	SAME("\xe2\x80\xa7"),
	SAME("\xe2\x80\xaf"),
	SAME("\xe2\x81\xa5"),
	SAME("\xe2\x81\xaa"),
	SAME("\xe2\x80\x8f"),
	/* Bytes that cannot start a character. */
	CASE("\x80", R),
	CASE("\xbf", R),
	CASE("\x80\x80", R R),
	CASE("\xfe", R),
	CASE("\xff", R),
	CASE("\xff\xfe", R R),
	CASE("\xf5\x80\x80\x80", R R R R),
	CASE("\xf8\x88\x80\x80\x80", R R R R R),
	CASE("\xfc\x84\x80\x80\x80\x80", R R R R R R),
	/* Overlongs: refused at the second byte, one U+FFFD each byte. */
	CASE("\xc0\x80", R R),
	CASE("\xc0\xaf", R R),
	CASE("\xc1\xbf", R R),
	CASE("\xe0\x80\xaf", R R R),
	CASE("\xe0\x9f\xbf", R R R),
	CASE("\xf0\x80\x80\xaf", R R R R),
	CASE("\xf0\x8f\xbf\xbf", R R R R),
	/* Surrogates, alone, paired (CESU-8) and in four bytes. */
	CASE("\xed\xa0\x80", R R R),
	CASE("\xed\xbf\xbf", R R R),
	CASE("\xed\xa0\xbd\xed\xb8\x80", R R R R R R),
	CASE("\xf0\x8d\xa0\x80", R R R R),
	/* Above U+10FFFF. */
	CASE("\xf4\x90\x80\x80", R R R R),
	CASE("\xf7\xbf\xbf\xbf", R R R R),
	/* Truncated: the lead and its good continuations are one. */
	CASE("\xc3", R),
	CASE("\xe2\x82", R),
	CASE("\xf0\x9f\x98", R),
	CASE("\xc3" "a", R "a"),
	CASE("\xe2\x82" "x", R "x"),
	CASE("\xf0\x9f\x98" "x", R "x"),
	CASE("\xc3\xc3\xa9", R "\xc3\xa9"),
	CASE("\xf0\x9f\xe2\x82\xac", R "\xe2\x82\xac"),
	CASE("\xe2\x82\x1b", R R),
	CASE("\xe2\x80\xa8\xe2\x80", R R),
	/* Unicode 15, table 3-8 (the "U+FFFD substitution" example). */
	CASE("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
	     "a" R R R "b" R "c" R R "d"),
	/* A second example: each maximal subpart is one U+FFFD. */
	CASE("\x61\xe0\x80\x62\xed\xa0\x63\xf4\x90\x64",
	     "a" R R "b" R R "c" R R "d"),
};

/* sk_chat_clean() into an exact guarded buffer; returns the bytes. */
static size_t clean_guarded(const char *in, size_t len, char **out)
{
	const char *g = place(in, len);
	char *o = outbuf(SK_CHAT_CLEAN_MAX(len));
	size_t n = sk_chat_clean(g, len, o);

	assert_true(n <= SK_CHAT_CLEAN_MAX(len));
	*out = o;
	return n;
}

/* is_clean agrees with clean; clean's output is clean and stays put. */
static void check_agree(const char *in, size_t len)
{
	char *tmp = malloc(SK_CHAT_CLEAN_MAX(len) + 1), *o;
	size_t n = clean_guarded(in, len, &o), n2;
	int same = n == len && memcmp(o, in, len) == 0;

	assert_non_null(tmp);
	memcpy(tmp, o, n);
	assert_int_equal(sk_chat_is_clean(place(in, len), len), same);
	assert_int_equal(sk_chat_is_clean(place(tmp, n), n), 1);
	n2 = clean_guarded(tmp, n, &o);
	assert_int_equal(n2, n);
	assert_memory_equal(o, tmp, n);
	free(tmp);
}

static void test_clean_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(clean_cases) / sizeof(clean_cases[0]);
	     i++) {
		const struct clean_case *c = &clean_cases[i];
		char *o;
		size_t n = clean_guarded(c->in, c->inlen, &o);

		if (n != c->outlen || memcmp(o, c->out, n) != 0)
			fail_msg("clean case %zu: %zu bytes, want %zu", i, n,
				 c->outlen);
		check_agree(c->in, c->inlen);
		/* And the same inside longer ASCII text, either side. */
		{
			char buf[64], want[96];
			size_t bl, wl;

			memcpy(buf, "0123456789abc", 13);
			memcpy(buf + 13, c->in, c->inlen);
			memcpy(buf + 13 + c->inlen, "xyz0123456789", 13);
			bl = 26 + c->inlen;
			memcpy(want, "0123456789abc", 13);
			memcpy(want + 13, c->out, c->outlen);
			memcpy(want + 13 + c->outlen, "xyz0123456789", 13);
			wl = 26 + c->outlen;
			n = clean_guarded(buf, bl, &o);
			assert_int_equal(n, wl);
			assert_memory_equal(o, want, wl);
			check_agree(buf, bl);
		}
	}
}

/* Every byte value, at every offset of every length up to 24 (the
 * word-at-a-time path and its tail). */
static void test_clean_every_byte(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		int ok = (b >= 0x20 && b < 0x7f) || b == '\t';

		for (size_t len = 1; len <= 24; len++) {
			for (size_t pos = 0; pos < len; pos++) {
				char buf[24];
				char *o;
				size_t n;

				memset(buf, 'q', len);
				buf[pos] = (char)b;
				assert_int_equal(
					sk_chat_is_clean(place(buf, len), len),
					ok);
				n = clean_guarded(buf, len, &o);
				assert_int_equal(n, ok ? len : len + 2);
				assert_memory_equal(o, buf, pos);
				if (!ok)
					assert_memory_equal(o + pos, R, 3);
			}
		}
	}
}

/* Random strings over bytes that matter: is_clean agrees with clean. */
static void test_clean_random(void **state)
{
	static const unsigned char alpha[] = {
		'a', ' ', '\t', 0x00, 0x1b, 0x7f, 0x80, 0x85, 0x8f, 0x90,
		0x9f, 0xa0, 0xa8, 0xaf, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0,
		0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x81, 0xa6, 0xa9,
	};
	uint32_t rng = 12345;

	(void)state;
	for (int t = 0; t < 20000; t++) {
		char buf[24];
		size_t len;

		rng = rng * 1103515245u + 12345u;
		len = (rng >> 16) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 1103515245u + 12345u;
			buf[i] = (char)alpha[(rng >> 16) % sizeof(alpha)];
		}
		check_agree(buf, len);
	}
}

/* The worst case: every byte replaced, exactly SK_CHAT_CLEAN_MAX. */
static void test_clean_worst(void **state)
{
	char *in = malloc(SK_CHAT_LINE_MAX), *o;
	size_t n;

	(void)state;
	assert_non_null(in);
	memset(in, 0xff, SK_CHAT_LINE_MAX);
	n = clean_guarded(in, SK_CHAT_LINE_MAX, &o);
	assert_int_equal(n, SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX));
	for (size_t i = 0; i < n; i += 3)
		assert_memory_equal(o + i, R, 3);
	assert_int_equal(sk_chat_is_clean(place(in, SK_CHAT_LINE_MAX),
					  SK_CHAT_LINE_MAX),
			 0);
	memset(in, 0x01, SK_CHAT_LINE_MAX);
	n = clean_guarded(in, SK_CHAT_LINE_MAX, &o);
	assert_int_equal(n, SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX));
	/* A long clean line is clean, whatever its alignment. */
	memset(in, 'w', SK_CHAT_LINE_MAX);
	for (size_t off = 0; off < 8; off++)
		assert_int_equal(sk_chat_is_clean(place(in + off,
						       SK_CHAT_LINE_MAX - off),
						 SK_CHAT_LINE_MAX - off),
				 1);
	free(in);
}

/* ---- commands ------------------------------------------------------- */

static void parse_is(const char *line, size_t len,
		     enum sk_chat_cmd_kind kind, const char *arg,
		     size_t arglen)
{
	const char *g = place(line, len);
	struct sk_chat_cmd cmd;

	memset(&cmd, 0x5a, sizeof(cmd));
	sk_chat_parse(g, len, &cmd);
	if (cmd.kind != kind)
		fail_msg("\"%.*s\": kind %d, want %d", (int)len, line,
			 (int)cmd.kind, (int)kind);
	assert_int_equal(cmd.arglen, arglen);
	if (len > 0)
		assert_true(cmd.arg >= g && cmd.arg + cmd.arglen <= g + len);
	assert_memory_equal(cmd.arg, arg, arglen);
}

#define PARSE(l, k, a) parse_is(l, LEN(l), k, a, LEN(a))

static void test_parse(void **state)
{
	(void)state;
	PARSE("", SK_CHAT_EMPTY, "");
	PARSE(" ", SK_CHAT_EMPTY, "");
	PARSE(" \t  \t", SK_CHAT_EMPTY, "");
	PARSE("hello", SK_CHAT_SAY, "hello");
	PARSE("  indented  ", SK_CHAT_SAY, "  indented  ");
	PARSE(" /nick bob", SK_CHAT_SAY, " /nick bob");
	PARSE("\r", SK_CHAT_SAY, "\r");
	PARSE("a\0b", SK_CHAT_SAY, "a\0b");
	/* The escape. */
	PARSE("//x", SK_CHAT_SAY, "/x");
	PARSE("//", SK_CHAT_SAY, "/");
	PARSE("///", SK_CHAT_SAY, "//");
	PARSE("//me waves", SK_CHAT_SAY, "/me waves");
	PARSE("// ", SK_CHAT_SAY, "/ ");
	/* /me */
	PARSE("/me waves", SK_CHAT_ME, "waves");
	PARSE("/ME  waves hello \t", SK_CHAT_ME, "waves hello");
	PARSE("/mE\twaves", SK_CHAT_ME, "waves");
	PARSE("/me", SK_CHAT_BADARG, "me");
	PARSE("/Me  \t ", SK_CHAT_BADARG, "Me");
	/* /nick */
	PARSE("/nick bob", SK_CHAT_NICK, "bob");
	PARSE("/NICK \t bob \t", SK_CHAT_NICK, "bob");
	PARSE("/nick bob smith", SK_CHAT_NICK, "bob smith");
	PARSE("/nick ***", SK_CHAT_NICK, "***");
	PARSE("/nick", SK_CHAT_BADARG, "nick");
	PARSE("/NiCk   ", SK_CHAT_BADARG, "NiCk");
	/* /who, /quit, /help */
	PARSE("/who", SK_CHAT_WHO, "");
	PARSE("/WHO ", SK_CHAT_WHO, "");
	PARSE("/who is here", SK_CHAT_WHO, "is here");
	PARSE("/quit", SK_CHAT_QUIT, "");
	PARSE("/Quit  bye now  ", SK_CHAT_QUIT, "bye now");
	PARSE("/help", SK_CHAT_HELP, "");
	PARSE("/HELP nick", SK_CHAT_HELP, "nick");
	/* /hello and /ack, for UDP clients. */
	PARSE("/hello", SK_CHAT_HELLO, "");
	PARSE("/ack 00ff", SK_CHAT_ACK, "00ff");
	PARSE("/ACK", SK_CHAT_BADARG, "ACK");
	PARSE("/acknowledge", SK_CHAT_UNKNOWN, "acknowledge");
	/* Unknown names, and known ones run into more bytes. */
	PARSE("/whoami", SK_CHAT_UNKNOWN, "whoami");
	PARSE("/mee too", SK_CHAT_UNKNOWN, "mee");
	PARSE("/nick\x01 x", SK_CHAT_UNKNOWN, "nick\x01");
	PARSE("/me\r", SK_CHAT_UNKNOWN, "me\r");
	PARSE("/join #x", SK_CHAT_UNKNOWN, "join");
	PARSE("/", SK_CHAT_UNKNOWN, "");
	PARSE("/ me", SK_CHAT_UNKNOWN, "");
	PARSE("/\t", SK_CHAT_UNKNOWN, "");
}

/* An unknown name is cut to SK_CHAT_CMD_SHOW bytes, never mid-character. */
static void test_parse_unknown_cut(void **state)
{
	char line[200];

	(void)state;
	_Static_assert(SK_CHAT_CMD_SHOW == 32, "the cases below");
	line[0] = '/';
	memset(line + 1, 'x', 100);
	parse_is(line, 101, SK_CHAT_UNKNOWN, line + 1, 32);
	parse_is(line, 33, SK_CHAT_UNKNOWN, line + 1, 32);
	parse_is(line, 34, SK_CHAT_UNKNOWN, line + 1, 32);
	/* A 2-byte character at name bytes 31-32. */
	memcpy(line + 1 + 31, "\xc3\xa9", 2);
	parse_is(line, 101, SK_CHAT_UNKNOWN, line + 1, 31);
	/* A 4-byte one at 29-32. */
	memset(line + 1, 'x', 100);
	memcpy(line + 1 + 29, "\xf0\x9f\x98\x80", 4);
	parse_is(line, 101, SK_CHAT_UNKNOWN, line + 1, 29);
	/* One that ends at byte 31: it fits. */
	memset(line + 1, 'x', 100);
	memcpy(line + 1 + 28, "\xf0\x9f\x98\x80", 4);
	parse_is(line, 101, SK_CHAT_UNKNOWN, line + 1, 32);
	/* Continuation bytes only: at most 3 are given back. */
	memset(line + 1, 0x80, 100);
	parse_is(line, 101, SK_CHAT_UNKNOWN, line + 1, 29);
}

/* ---- nicks ---------------------------------------------------------- */

static int nick_ok(const char *s, size_t len)
{
	return sk_chat_nick_valid(place(s, len), len);
}

#define NICK_OK(s) nick_ok(s, LEN(s))

static void test_nick_valid(void **state)
{
	char n[SK_CHAT_NICK_MAX + 2];

	(void)state;
	assert_true(NICK_OK("a"));
	assert_true(NICK_OK("Z"));
	assert_true(NICK_OK("Alice"));
	assert_true(NICK_OK("bob_2"));
	assert_true(NICK_OK("x.y-z"));
	assert_true(NICK_OK("a1-_."));
	memset(n, 'n', sizeof(n));
	assert_true(nick_ok(n, SK_CHAT_NICK_MAX));
	assert_false(nick_ok(n, SK_CHAT_NICK_MAX + 1));
	assert_false(nick_ok("", 0));
	assert_false(NICK_OK("1abc"));
	assert_false(NICK_OK("_a"));
	assert_false(NICK_OK("-a"));
	assert_false(NICK_OK(".a"));
	assert_false(NICK_OK("***"));
	assert_false(NICK_OK("*a"));
	assert_false(NICK_OK("a*"));
	assert_false(NICK_OK("a b"));
	assert_false(NICK_OK("a\tb"));
	assert_false(NICK_OK("a\0b"));
	assert_false(NICK_OK("<a>"));
	assert_false(NICK_OK("a>"));
	assert_false(NICK_OK("caf\xc3\xa9"));
	assert_false(NICK_OK("\xc3\xa9"));
	assert_false(NICK_OK("a\n"));
	assert_false(NICK_OK("a/b"));
	assert_false(NICK_OK("a@b"));
}

static int nick_eq(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	char copy[64];
	int eq;

	assert_true(al < sizeof(copy));
	memcpy(copy, a, al);
	eq = sk_chat_nick_eq(copy, al, place(b, bl), bl);
	/* Equal nicks hash alike. */
	if (eq)
		assert_int_equal(sk_chat_nick_hash(copy, al),
				 sk_chat_nick_hash(place(b, bl), bl));
	return eq;
}

static void test_nick_eq_hash(void **state)
{
	uint32_t rng = 99;

	(void)state;
	assert_true(nick_eq("alice", "alice"));
	assert_true(nick_eq("Alice", "aLICE"));
	assert_true(nick_eq("X.y-Z_1", "x.Y-z_1"));
	assert_false(nick_eq("alice", "alicf"));
	assert_false(nick_eq("alice", "alic"));
	assert_false(nick_eq("alic", "alice"));
	assert_false(nick_eq("a-", "a_"));
	/* Only ASCII letters fold: '@' and '`' are not 'A' and 'a'. */
	assert_false(nick_eq("@", "`"));
	assert_false(nick_eq("[", "{"));
	/* FNV-1a 32-bit test vectors. */
	assert_int_equal(sk_chat_nick_hash("", 0), 0x811c9dc5u);
	assert_int_equal(sk_chat_nick_hash("a", 1), 0xe40c292cu);
	assert_int_equal(sk_chat_nick_hash("A", 1), 0xe40c292cu);
	assert_int_equal(sk_chat_nick_hash("foobar", 6), 0xbf9cf968u);
	assert_int_equal(sk_chat_nick_hash("FooBar", 6), 0xbf9cf968u);
	/* Random nicks and case flips. */
	for (int t = 0; t < 5000; t++) {
		static const char set[] =
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
		char a[SK_CHAT_NICK_MAX], b[SK_CHAT_NICK_MAX];
		size_t len;

		rng = rng * 1103515245u + 12345u;
		len = 1 + (rng >> 16) % SK_CHAT_NICK_MAX;
		for (size_t i = 0; i < len; i++) {
			rng = rng * 1103515245u + 12345u;
			a[i] = set[(rng >> 16) % LEN(set)];
			b[i] = a[i];
			if ((rng >> 8 & 1) && b[i] >= 'a' && b[i] <= 'z')
				b[i] = (char)(b[i] - 'a' + 'A');
		}
		assert_true(sk_chat_nick_eq(a, len, b, len));
		assert_int_equal(sk_chat_nick_hash(a, len),
				 sk_chat_nick_hash(b, len));
	}
}

/* ---- output lines --------------------------------------------------- */

/* Format into an exact guarded buffer of SK_CHAT_OUT_MAX; check bytes. */
static void format_is(enum sk_chat_out_kind kind, const char *nick,
		      size_t nicklen, const char *text, size_t textlen,
		      const char *want, size_t wantlen)
{
	char *nk = NULL, *tx;
	char *out = outbuf(SK_CHAT_OUT_MAX);
	size_t n;

	if (nick != NULL) {
		nk = malloc(nicklen + 1);
		assert_non_null(nk);
		memcpy(nk, nick, nicklen);
	}
	tx = (char *)place(text, textlen);
	n = sk_chat_format(out, kind, nk, nicklen, tx, textlen);
	free(nk);
	assert_true(n <= SK_CHAT_OUT_MAX);
	if (n != wantlen || memcmp(out, want, n) != 0)
		fail_msg("format: %zu bytes \"%.*s\", want \"%.*s\"", n,
			 (int)n, out, (int)wantlen, want);
	/* Always one line. */
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\n', n - 1));
}

/* nick: a string, or NULL (no nick, as for notices). */
static size_t slen(const char *s)
{
	return s == NULL ? 0 : strlen(s);
}

#define FORMAT(k, nick, text, want)                                            \
	format_is(k, nick, slen(nick), text, LEN(text), want, LEN(want))

static void test_format(void **state)
{
	(void)state;
	FORMAT(SK_CHAT_OUT_SAY, "alice", "hello", "<alice> hello\n");
	FORMAT(SK_CHAT_OUT_ME, "alice", "waves", "* alice waves\n");
	FORMAT(SK_CHAT_OUT_NOTICE, NULL, "bob joined", "*** bob joined\n");
	FORMAT(SK_CHAT_OUT_NOTICE, "ignored", "x", "*** x\n");
	/* Empty text keeps the separator. */
	FORMAT(SK_CHAT_OUT_SAY, "alice", "", "<alice> \n");
	FORMAT(SK_CHAT_OUT_ME, "alice", "", "* alice \n");
	FORMAT(SK_CHAT_OUT_NOTICE, NULL, "", "*** \n");
	/* Text is sanitised: one line, nothing for the terminal to obey. */
	FORMAT(SK_CHAT_OUT_SAY, "alice", "\x1b[2Jhi\r",
	       "<alice> " R "[2Jhi" R "\n");
	FORMAT(SK_CHAT_OUT_SAY, "alice", "a\nb\0c", "<alice> a" R "b" R "c\n");
	FORMAT(SK_CHAT_OUT_ME, "bob", "\xe2\x80\xae" "olleh\xff",
	       "* bob " R "olleh" R "\n");
	FORMAT(SK_CHAT_OUT_SAY, "bob", "*** fake notice",
	       "<bob> *** fake notice\n");
	FORMAT(SK_CHAT_OUT_SAY, "bob", "tab\there", "<bob> tab\there\n");
	FORMAT(SK_CHAT_OUT_SAY, "bob", "caf\xc3\xa9", "<bob> caf\xc3\xa9\n");
	/* Not one of the three: a notice, never a member's line. */
	FORMAT(SK_CHAT_OUT_OTHER, "bob", "x", "*** x\n");
	FORMAT((enum sk_chat_out_kind)99, "bob", "x", "*** x\n");
	/* An invalid nick cannot break the line or the bound. */
	FORMAT(SK_CHAT_OUT_SAY, "a b\n>", "x", "<a?b?" "?> x\n");
	FORMAT(SK_CHAT_OUT_SAY, "abcdefghijklmnopqrstuvwxyz0123", "x",
	       "<abcdefghijklmnopqrstuvwx> x\n");
}

/* The longest lines there can be: SK_CHAT_OUT_MAX exactly, no more. */
static void test_format_worst(void **state)
{
	const size_t tl = SK_CHAT_LINE_MAX + 100;
	char *text = malloc(tl);
	char nick[SK_CHAT_NICK_MAX];
	char *out;
	size_t n;

	(void)state;
	assert_non_null(text);
	memset(text, 0xff, tl);
	memset(nick, 'n', sizeof(nick));
	out = outbuf(SK_CHAT_OUT_MAX);
	n = sk_chat_format(out, SK_CHAT_OUT_SAY, nick, sizeof(nick),
			   place(text, SK_CHAT_LINE_MAX), SK_CHAT_LINE_MAX);
	assert_int_equal(n, SK_CHAT_OUT_MAX);
	assert_memory_equal(out, "<nnnnnnnnnnnnnnnnnnnnnnnn> " R R, 33);
	assert_memory_equal(out + n - 4, R "\n", 4);
	out = outbuf(SK_CHAT_OUT_MAX);
	n = sk_chat_format(out, SK_CHAT_OUT_ME, nick, sizeof(nick),
			   place(text, SK_CHAT_LINE_MAX), SK_CHAT_LINE_MAX);
	assert_true(n <= SK_CHAT_OUT_MAX);
	assert_int_equal(n, SK_CHAT_OUT_MAX);
	out = outbuf(SK_CHAT_OUT_MAX);
	n = sk_chat_format(out, SK_CHAT_OUT_NOTICE, NULL, 0,
			   place(text, SK_CHAT_LINE_MAX), SK_CHAT_LINE_MAX);
	assert_int_equal(n, 4 + SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX) + 1);
	/* Longer text is cut at SK_CHAT_LINE_MAX, so it still fits. */
	out = outbuf(SK_CHAT_OUT_MAX);
	n = sk_chat_format(out, SK_CHAT_OUT_SAY, nick, sizeof(nick),
			   place(text, tl), tl);
	assert_int_equal(n, SK_CHAT_OUT_MAX);
	/* And a longer nick too. */
	out = outbuf(SK_CHAT_OUT_MAX);
	n = sk_chat_format(out, SK_CHAT_OUT_SAY, text, 100,
			   place(text, tl), tl);
	assert_int_equal(n, SK_CHAT_OUT_MAX);
	free(text);
}

/* ---- classification ------------------------------------------------- */

static void classify_is(const char *line, size_t len,
			enum sk_chat_out_kind kind, const char *nick,
			const char *text, size_t textlen)
{
	const char *g = place(line, len);
	struct sk_chat_msg m;

	memset(&m, 0x5a, sizeof(m));
	sk_chat_classify(g, len, &m);
	if (m.kind != kind)
		fail_msg("\"%.*s\": kind %d, want %d", (int)len, line,
			 (int)m.kind, (int)kind);
	if (nick == NULL) {
		assert_null(m.nick);
		assert_int_equal(m.nicklen, 0);
	} else {
		assert_int_equal(m.nicklen, strlen(nick));
		assert_memory_equal(m.nick, nick, m.nicklen);
		assert_true(m.nick >= g && m.nick + m.nicklen <= g + len);
	}
	assert_int_equal(m.textlen, textlen);
	assert_memory_equal(m.text, text, textlen);
	if (len > 0)
		assert_true(m.text >= g && m.text + m.textlen <= g + len);
}

#define CLASSIFY(l, k, nick, text) \
	classify_is(l, LEN(l), k, nick, text, LEN(text))
#define OTHER(l) CLASSIFY(l, SK_CHAT_OUT_OTHER, NULL, l)

static void test_classify(void **state)
{
	(void)state;
	CLASSIFY("*** alice joined", SK_CHAT_OUT_NOTICE, NULL, "alice joined");
	CLASSIFY("*** ", SK_CHAT_OUT_NOTICE, NULL, "");
	CLASSIFY("***", SK_CHAT_OUT_NOTICE, NULL, "");
	CLASSIFY("***  x", SK_CHAT_OUT_NOTICE, NULL, " x");
	CLASSIFY("* alice waves", SK_CHAT_OUT_ME, "alice", "waves");
	CLASSIFY("* alice ", SK_CHAT_OUT_ME, "alice", "");
	CLASSIFY("* alice", SK_CHAT_OUT_ME, "alice", "");
	CLASSIFY("* a.b-c_d  x", SK_CHAT_OUT_ME, "a.b-c_d", " x");
	CLASSIFY("<alice> hi there", SK_CHAT_OUT_SAY, "alice", "hi there");
	CLASSIFY("<alice> ", SK_CHAT_OUT_SAY, "alice", "");
	CLASSIFY("<alice>", SK_CHAT_OUT_SAY, "alice", "");
	CLASSIFY("<bob> *** not a notice", SK_CHAT_OUT_SAY, "bob",
		 "*** not a notice");
	CLASSIFY("<abcdefghijklmnopqrstuvwx> x", SK_CHAT_OUT_SAY,
		 "abcdefghijklmnopqrstuvwx", "x");
	OTHER("");
	OTHER("hello");
	OTHER("**");
	OTHER("****");
	OTHER("***x");
	OTHER("*");
	OTHER("* ");
	OTHER("*  alice x");
	OTHER("*alice x");
	OTHER("* 1lice x");
	OTHER("* alice>x");
	OTHER("* alice\tx");
	OTHER("<");
	OTHER("<>");
	OTHER("<> hi");
	OTHER("<alice");
	OTHER("<alice hi");
	OTHER("<alice>hi");
	OTHER("<a b> hi");
	OTHER("<1a> hi");
	OTHER("<abcdefghijklmnopqrstuvwxy> x");
	OTHER(" <alice> x");
	OTHER("welcome to sockit, 127.0.0.1:5000");
}

/* classify(format(x)) gives x back, with the text sanitised. */
static void test_round_trip(void **state)
{
	static const char *const texts[] = {
		"", "hi", " lead", "trail ", "*** x", "<a> b", "\x1b[1m",
		"\xff\xfe", "caf\xc3\xa9", "a\tb", "\xe2\x80\xae",
	};
	static const char *const nicks[] = { "a", "Alice", "b.c-d_e",
					     "abcdefghijklmnopqrstuvwx" };
	static const enum sk_chat_out_kind kinds[] = {
		SK_CHAT_OUT_SAY, SK_CHAT_OUT_ME, SK_CHAT_OUT_NOTICE
	};

	(void)state;
	for (size_t k = 0; k < 3; k++)
		for (size_t n = 0; n < 4; n++)
			for (size_t t = 0; t < sizeof(texts) / sizeof(*texts);
			     t++) {
				char out[256], clean[64];
				char *o = outbuf(SK_CHAT_OUT_MAX);
				size_t tl = strlen(texts[t]), cl;
				size_t ol = sk_chat_format(o, kinds[k], nicks[n],
							   strlen(nicks[n]),
							   texts[t], tl);

				assert_true(ol <= sizeof(out));
				memcpy(out, o, ol);
				cl = sk_chat_clean(texts[t], tl, clean);
				classify_is(out, ol - 1, kinds[k],
					    kinds[k] == SK_CHAT_OUT_NOTICE
						    ? NULL
						    : nicks[n],
					    clean, cl);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_lf_crlf),
		cmocka_unit_test(test_in_split_everywhere),
		cmocka_unit_test(test_in_nul),
		cmocka_unit_test(test_in_empty_input),
		cmocka_unit_test(test_in_max_crlf),
		cmocka_unit_test(test_in_max_lf),
		cmocka_unit_test(test_in_max_waits_for_lf),
		cmocka_unit_test(test_in_max_plus_one),
		cmocka_unit_test(test_in_toolong_moment),
		cmocka_unit_test(test_in_huge),
		cmocka_unit_test(test_in_two_long_lines),
		cmocka_unit_test(test_in_flush),
		cmocka_unit_test(test_in_flush_max),
		cmocka_unit_test(test_in_flush_skipping),
		cmocka_unit_test(test_in_flush_finds_toolong),
		cmocka_unit_test(test_in_skip_then_lines),
		cmocka_unit_test(test_clean_cases),
		cmocka_unit_test(test_clean_every_byte),
		cmocka_unit_test(test_clean_random),
		cmocka_unit_test(test_clean_worst),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_unknown_cut),
		cmocka_unit_test(test_nick_valid),
		cmocka_unit_test(test_nick_eq_hash),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_worst),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
