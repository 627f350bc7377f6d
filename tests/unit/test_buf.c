/*
 * test_buf.c: unit tests for src/net/buf.c, shared buffers and output
 * queues.
 *
 * Covers: one buffer queued in many queues is freed only when the last
 * queue lets it go (ASan reports a leak or a use after free otherwise);
 * small copies gather into one chunk, but never into a shared buffer or
 * behind a slice whose buffer has more bytes after it; peek gives the
 * bytes in order, at most the slices asked for; consume in uneven steps,
 * across slice boundaries, keeps the byte count exact; clear empties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../src/net/buf.h"

/* Everything left in q, concatenated. */
static size_t drain_to(struct sk_outq *q, char *out, size_t cap)
{
	struct iovec iov[64];
	size_t n = sk_outq_peek(q, iov, 64), len = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(len + iov[i].iov_len <= cap);
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	assert_int_equal(len, q->bytes);
	return len;
}

static void test_shared_buffer_lives_until_last_queue(void **st)
{
	struct sk_outq q[3];
	struct sk_buf *b = sk_buf_copy("hello world\n", 12);
	char out[64];

	(void)st;
	assert_non_null(b);
	for (int i = 0; i < 3; i++) {
		sk_outq_init(&q[i]);
		assert_int_equal(sk_outq_push(&q[i], b, 0, 12), 0);
	}
	assert_int_equal(b->refs, 4);
	sk_buf_unref(b); /* the writer's reference */
	assert_int_equal(b->refs, 3);
	sk_outq_consume(&q[0], 12);
	assert_int_equal(q[0].bytes, 0);
	assert_null(q[0].head);
	assert_null(q[0].tail);
	assert_int_equal(b->refs, 2);
	sk_outq_consume(&q[1], 5);
	assert_int_equal(drain_to(&q[1], out, sizeof(out)), 7);
	assert_memory_equal(out, " world\n", 7);
	sk_outq_clear(&q[1]);
	assert_int_equal(b->refs, 1);
	/* The last queue still reads the bytes: nothing was freed early. */
	assert_int_equal(drain_to(&q[2], out, sizeof(out)), 12);
	assert_memory_equal(out, "hello world\n", 12);
	sk_outq_clear(&q[2]); /* frees b; ASan would see a leak otherwise */
}

static void test_copies_gather_in_one_chunk(void **st)
{
	struct sk_outq q;
	char out[SK_OUTQ_CHUNK * 2];

	(void)st;
	sk_outq_init(&q);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sk_outq_push_copy(&q, "abcd", 4), 0);
	assert_int_equal(q.nent, 1);
	assert_int_equal(q.bytes, 400);
	/* Half sent: what is left still gathers more. */
	sk_outq_consume(&q, 398);
	assert_int_equal(sk_outq_push_copy(&q, "XY", 2), 0);
	assert_int_equal(q.nent, 1);
	assert_int_equal(drain_to(&q, out, sizeof(out)), 4);
	assert_memory_equal(out, "cdXY", 4);
	/* A copy larger than the room left gets a buffer of its own. */
	memset(out, 'z', sizeof(out));
	assert_int_equal(sk_outq_push_copy(&q, out, SK_OUTQ_CHUNK), 0);
	assert_int_equal(q.nent, 2);
	assert_int_equal(q.bytes, 4 + SK_OUTQ_CHUNK);
	sk_outq_clear(&q);
	assert_int_equal(q.nent, 0);
	assert_int_equal(q.bytes, 0);
}

static void test_never_appends_to_shared(void **st)
{
	struct sk_outq q, other;
	struct sk_buf *b = sk_buf_new(100);
	char out[64];

	(void)st;
	memcpy(b->data, "shared", 6);
	b->len = 6;
	sk_outq_init(&q);
	sk_outq_init(&other);
	assert_int_equal(sk_outq_push(&q, b, 0, 6), 0);
	sk_buf_unref(b);
	/* Only q holds b now, but b has room: a copy may go there. */
	assert_int_equal(sk_outq_push_copy(&q, "+1", 2), 0);
	assert_int_equal(q.nent, 1);
	/* Once another queue holds it, it must not change under them. */
	assert_int_equal(sk_outq_push(&other, q.tail->b, 0, 8), 0);
	assert_int_equal(sk_outq_push_copy(&q, "+2", 2), 0);
	assert_int_equal(q.nent, 2);
	assert_int_equal(drain_to(&other, out, sizeof(out)), 8);
	assert_memory_equal(out, "shared+1", 8);
	assert_int_equal(drain_to(&q, out, sizeof(out)), 10);
	assert_memory_equal(out, "shared+1+2", 10);
	sk_outq_clear(&other);
	sk_outq_clear(&q);
}

static void test_slice_of_buffer_is_not_appended_behind(void **st)
{
	struct sk_outq q;
	struct sk_buf *b = sk_buf_copy("0123456789", 10);
	char out[32];

	(void)st;
	sk_outq_init(&q);
	/* A slice from the middle: bytes after it belong to no one here,
	 * and a copy must not be glued on as if it followed them. */
	assert_int_equal(sk_outq_push(&q, b, 2, 3), 0);
	sk_buf_unref(b);
	assert_int_equal(sk_outq_push_copy(&q, "ab", 2), 0);
	assert_int_equal(q.nent, 2);
	assert_int_equal(drain_to(&q, out, sizeof(out)), 5);
	assert_memory_equal(out, "234ab", 5);
	sk_outq_clear(&q);
}

static void test_peek_bounds_and_uneven_consume(void **st)
{
	struct sk_outq q;
	struct sk_buf *b[20];
	struct iovec iov[4];
	char expect[200], out[200];
	size_t len = 0;

	(void)st;
	sk_outq_init(&q);
	for (int i = 0; i < 20; i++) {
		char s[16];
		int n = snprintf(s, sizeof(s), "<%d>", i);

		b[i] = sk_buf_copy(s, (size_t)n);
		assert_int_equal(sk_outq_push(&q, b[i], 0, (size_t)n), 0);
		sk_buf_unref(b[i]);
		memcpy(expect + len, s, (size_t)n);
		len += (size_t)n;
	}
	assert_int_equal(sk_outq_peek(&q, iov, 4), 4);
	assert_memory_equal(iov[0].iov_base, "<0>", 3);
	/* Consume 1, 7, 13, ... bytes and check the rest every time. */
	for (size_t step = 1, done = 0; done < len; step += 6) {
		size_t k = step < len - done ? step : len - done;

		sk_outq_consume(&q, k);
		done += k;
		assert_int_equal(q.bytes, len - done);
		assert_int_equal(drain_to(&q, out, sizeof(out)), len - done);
		assert_memory_equal(out, expect + done, len - done);
	}
	assert_null(q.head);
	assert_int_equal(q.nent, 0);
}

static void test_zero_and_empty(void **st)
{
	struct sk_outq q;
	struct iovec iov[2];

	(void)st;
	sk_outq_init(&q);
	assert_int_equal(sk_outq_push_copy(&q, "", 0), 0);
	assert_int_equal(q.nent, 0);
	assert_int_equal(sk_outq_peek(&q, iov, 2), 0);
	sk_outq_consume(&q, 0);
	sk_outq_clear(&q);
	assert_null(sk_buf_new(0));
	sk_buf_unref(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_buffer_lives_until_last_queue),
		cmocka_unit_test(test_copies_gather_in_one_chunk),
		cmocka_unit_test(test_never_appends_to_shared),
		cmocka_unit_test(test_slice_of_buffer_is_not_appended_behind),
		cmocka_unit_test(test_peek_bounds_and_uneven_consume),
		cmocka_unit_test(test_zero_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
