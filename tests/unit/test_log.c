/*
 * test_log.c: unit tests for src/net/log.c.
 *
 * sk_strerror(): the text (libuv's, first letter in lower case; unknown
 * codes are named by number) and thread safety: the worker threads of
 * src/net/batch.c log too, so each thread must get its own buffer. One
 * test checks that directly (a second thread's call leaves the first
 * thread's text alone, which fails on a shared static buffer without any
 * sanitizer); another has two threads call it in a loop, which
 * ThreadSanitizer (make tsan) reports as a race on a shared buffer.
 *
 * The lines, with stderr pointed at a file: plain before sk_log_init();
 * with the syslog priority when JOURNAL_STREAM names that file (and
 * only then); with the time when asked; cut at SK_LOG_LINE_MAX and still
 * ended; errno left alone; and whole when two threads log at once (one
 * write(2) per line: a line written in pieces, such as a stamp then the
 * text, interleaves with the other thread's in most runs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"

/* Calls per thread in the concurrent test. */
#define ROUNDS 20000
/* Lines per thread in the concurrent logging test. */
#define LINES 2000
/* The log a test reads back, at most. */
#define LOG_MAX (2 * LINES * 1200)

/* stderr, while a test points it at a file. */
static int saved_stderr = -1;
static FILE *log_file;

/* Point stderr at a new temporary file. */
static void capture(void)
{
	log_file = tmpfile();
	assert_non_null(log_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fileno(log_file), STDERR_FILENO), STDERR_FILENO);
}

/* Put stderr back and return what was written (malloc'd), logging
 * reset to plain stderr. */
static char *captured(void)
{
	char *buf = malloc(LOG_MAX + 1);
	size_t n;

	assert_non_null(buf);
	sk_log_fini();
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	rewind(log_file);
	n = fread(buf, 1, LOG_MAX, log_file);
	buf[n] = '\0';
	fclose(log_file);
	unsetenv("JOURNAL_STREAM");
	return buf;
}

/* JOURNAL_STREAM naming the captured file. */
static void journal_is_the_file(void)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(fileno(log_file), &st), 0);
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

/* Does s match the extended regular expression re, whole? */
static int matches(const char *re, const char *s)
{
	regex_t r;
	int rc;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return rc == 0;
}

/* A line's time: 2026-11-25T22:24:05.123+00:00 and a space. */
#define STAMP "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}" \
	      "[+-][0-9]{2}:[0-9]{2} "

static void log_each(void)
{
	sk_log_info("info %d", 1);
	sk_log_warnx("warnx");
	sk_log_warn(UV_EADDRINUSE, "warn");
	sk_log_errx("errx");
	sk_log_err(UV_ECONNREFUSED, "err");
}

static void test_plain_before_init(void **state)
{
	char *out;

	(void)state;
	capture();
	journal_is_the_file(); /* not looked at before sk_log_init() */
	log_each();
	out = captured();
	assert_string_equal(out, "sockit: info 1\n"
			    "sockit: warnx\n"
			    "sockit: warn: address already in use\n"
			    "sockit: errx\n"
			    "sockit: err: connection refused\n");
	free(out);
}

static void test_journal_priorities(void **state)
{
	char *out;

	(void)state;
	capture();
	journal_is_the_file();
	sk_log_init(0, SK_LOG_TIME_AUTO);
	log_each();
	out = captured();
	assert_string_equal(out, "<6>sockit: info 1\n"
			    "<4>sockit: warnx\n"
			    "<4>sockit: warn: address already in use\n"
			    "<3>sockit: errx\n"
			    "<3>sockit: err: connection refused\n");
	free(out);
	/* Asked for, the time comes after the priority. */
	capture();
	journal_is_the_file();
	sk_log_init(0, SK_LOG_TIME_ALWAYS);
	sk_log_info("x");
	out = captured();
	assert_true(matches("^<6>" STAMP "sockit: x\n$", out));
	free(out);
}

static void test_not_the_journal(void **state)
{
	static const char *const others[] = { "1:1", "", "junk", "12:",
					      ":12", "1:2:3" };
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		capture();
		assert_int_equal(setenv("JOURNAL_STREAM", others[i], 1), 0);
		sk_log_init(0, SK_LOG_TIME_NEVER);
		sk_log_warnx("w");
		out = captured();
		assert_string_equal(out, "sockit: w\n");
		free(out);
	}
}

static void test_time_on_a_file(void **state)
{
	char *out;

	(void)state;
	capture();
	sk_log_init(0, SK_LOG_TIME_AUTO);
	sk_log_info("a");
	sk_log_warn(UV_EADDRINUSE, "b");
	out = captured();
	assert_true(matches("^" STAMP "sockit: a\n" STAMP
			    "sockit: b: address already in use\n$", out));
	free(out);
}

static void test_long_line_is_cut_and_ended(void **state)
{
	char *out, *big = malloc(3 * SK_LOG_LINE_MAX);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 3 * SK_LOG_LINE_MAX - 1);
	big[3 * SK_LOG_LINE_MAX - 1] = '\0';
	capture();
	sk_log_warn(UV_EADDRINUSE, "%s", big);
	out = captured();
	assert_int_equal(strlen(out), SK_LOG_LINE_MAX - 1);
	assert_memory_equal(out, "sockit: xxx", 11);
	assert_int_equal(out[SK_LOG_LINE_MAX - 2], '\n');
	free(out);
	free(big);
}

static void test_errno_is_kept(void **state)
{
	char *out;

	(void)state;
	capture();
	sk_log_init(0, SK_LOG_TIME_ALWAYS);
	errno = ENOSPC;
	sk_log_warn(UV_EADDRINUSE, "x");
	assert_int_equal(errno, ENOSPC);
	out = captured();
	free(out);
}

/* One of two threads logging at once: arg is its letter, as a string. */
static void log_lines(void *arg)
{
	char text[1001];

	memset(text, *(const char *)arg, 1000);
	text[1000] = '\0';
	for (int i = 0; i < LINES; i++)
		sk_log_info("%s", text);
}

static void test_threads_write_whole_lines(void **state)
{
	static const char *const letters[2] = { "a", "b" };
	uv_thread_t t[2];
	char *out, *line, *nl;
	int seen[2] = { 0, 0 };

	(void)state;
	capture();
	sk_log_init(0, SK_LOG_TIME_ALWAYS);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_create(&t[i], log_lines,
						  (void *)letters[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_join(&t[i]), 0);
	out = captured();
	for (line = out; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		const char *text = strstr(line, "sockit: ");
		int k;

		*nl = '\0';
		assert_non_null(text);
		assert_true(matches("^" STAMP "sockit: ", line));
		text += 8;
		k = text[0] == 'a' ? 0 : 1;
		assert_int_equal(strspn(text, letters[k]), 1000);
		assert_int_equal(text[1000], '\0');
		seen[k]++;
	}
	assert_string_equal(line, ""); /* the last line was ended */
	assert_int_equal(seen[0], LINES);
	assert_int_equal(seen[1], LINES);
	free(out);
}

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
		cmocka_unit_test(test_plain_before_init),
		cmocka_unit_test(test_journal_priorities),
		cmocka_unit_test(test_not_the_journal),
		cmocka_unit_test(test_time_on_a_file),
		cmocka_unit_test(test_long_line_is_cut_and_ended),
		cmocka_unit_test(test_errno_is_kept),
		cmocka_unit_test(test_threads_write_whole_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
