/*
 * guard.h: put parser input right before an unmapped page (STYLE 17).
 *
 * sk_guard_place() copies n bytes so that the last one is the last byte
 * before a PROT_NONE page and returns where the copy starts. A parser that
 * reads one byte past its input then dies with SIGSEGV even without ASan.
 * The bytes in front of the copy are filled with 0xA5, never NUL or LF, so
 * that an under-read does not look like a terminator either.
 *
 * One mapping (a page of data, then the guard page) serves all inputs of a
 * test program; each call overwrites the previous copy, so a pointer that
 * a parser returns into its input is good only until the next call.
 * sk_guard_buf() does the same for output buffers of exact size, so that a
 * write past their end faults too. More than a page aborts the test.
 */
#ifndef SK_TEST_GUARD_H
#define SK_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One data page followed by its guard page. */
struct sk__guard {
	unsigned char *page; /* the data page, NULL until first use */
	size_t size;         /* its size, from sysconf() */
};

/* [0] holds inputs, [1] output buffers, so both can be guarded at once. */
static struct sk__guard sk__guards[2];

static inline unsigned char *sk__guard_map(struct sk__guard *g)
{
	long ps;
	void *m;

	if (g->page != NULL)
		return g->page;
	ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0)
		abort();
	g->size = (size_t)ps;
	m = mmap(NULL, 2 * g->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	g->page = m;
	if (mprotect(g->page + g->size, g->size, PROT_NONE) != 0)
		abort();
	return g->page;
}

static inline unsigned char *sk__guard_end(struct sk__guard *g, size_t n)
{
	sk__guard_map(g);
	if (n > g->size) {
		fprintf(stderr, "guard: %zu bytes do not fit in a page\n", n);
		abort();
	}
	memset(g->page, 0xa5, g->size);
	return g->page + g->size - n;
}

/* Copy n bytes of p so that they end at the guard; returns the copy. */
static inline void *sk_guard_place(const void *p, size_t n)
{
	unsigned char *dst = sk__guard_end(&sk__guards[0], n);

	if (n > 0)
		memcpy(dst, p, n);
	return dst;
}

/* A NUL-terminated copy of s whose NUL is the last byte before the guard. */
static inline char *sk_guard_str(const char *s)
{
	return sk_guard_place(s, strlen(s) + 1);
}

/* n writable bytes (set to 0xA5) ending at a second guard, for outputs. */
static inline void *sk_guard_buf(size_t n)
{
	return sk__guard_end(&sk__guards[1], n);
}

#endif
