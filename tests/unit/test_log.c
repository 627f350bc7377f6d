/*
 * test_log.c: unit tests for sk_strerror() in src/net/log.c.
 *
 * Covers the text (libuv's, first letter in lower case; unknown codes
 * are named by number) and thread safety: the worker threads of
 * src/net/batch.c log too, so each thread must get its own buffer. One
 * test checks that directly (a second thread's call leaves the first
 * thread's text alone, which fails on a shared static buffer without any
 * sanitizer); another has two threads call it in a loop, which
 * ThreadSanitizer (make tsan) reports as a race on a shared buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <uv.h>

#include "log.h"

/* Calls per thread in the concurrent test. */
#define ROUNDS 20000

static void test_text(void **state)
{
	(void)state;
	assert_string_equal(sk_strerror(UV_EADDRINUSE),
			    "address already in use");
	assert_string_equal(sk_strerror(UV_ECONNREFUSED),
			    "connection refused");
	assert_string_equal(sk_strerror(-123456),
			    "unknown system error -123456");
}

/* Two threads taking turns, for test_per_thread_buffer. */
struct turns {
	uv_sem_t a_called; /* posted when A holds its text */
	uv_sem_t b_called; /* posted when B has called too */
	const char *a;     /* A's text */
	const char *b;     /* B's text */
};

static void thread_b(void *arg)
{
	struct turns *t = arg;

	uv_sem_wait(&t->a_called);
	t->b = sk_strerror(UV_ECONNREFUSED);
	uv_sem_post(&t->b_called);
}

static void test_per_thread_buffer(void **state)
{
	struct turns t;
	uv_thread_t b;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(uv_sem_init(&t.a_called, 0), 0);
	assert_int_equal(uv_sem_init(&t.b_called, 0), 0);
	assert_int_equal(uv_thread_create(&b, thread_b, &t), 0);
	t.a = sk_strerror(UV_EADDRINUSE);
	uv_sem_post(&t.a_called);
	uv_sem_wait(&t.b_called);
	/* B's call must not have touched A's text. */
	assert_string_equal(t.a, "address already in use");
	assert_string_equal(t.b, "connection refused");
	assert_ptr_not_equal(t.a, t.b);
	assert_int_equal(uv_thread_join(&b), 0);
	uv_sem_destroy(&t.a_called);
	uv_sem_destroy(&t.b_called);
}

/* One of the racing threads: its code, its text, mismatches seen. */
struct racer {
	int err;          /* the code it asks about */
	const char *want; /* the text it must get */
	int bad;          /* texts that were not want */
};

static void race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < ROUNDS; i++)
		if (strcmp(sk_strerror(r->err), r->want) != 0)
			r->bad++;
}

static void test_concurrent_calls(void **state)
{
	struct racer r[2] = {
		{ UV_EADDRINUSE, "address already in use", 0 },
		{ UV_ETIMEDOUT, "connection timed out", 0 },
	};
	uv_thread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_create(&t[i], race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_join(&t[i]), 0);
	assert_int_equal(r[0].bad, 0);
	assert_int_equal(r[1].bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_per_thread_buffer),
		cmocka_unit_test(test_concurrent_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
