/*
 * buf.h: reference-counted byte buffers and the output queue of one
 * connection, with no I/O.
 *
 * A message fanned out to N peers is one sk_buf with N references, one
 * in each peer's queue (STYLE 24). A queue holds slices (buffer, offset,
 * length) in order; the I/O layer takes iovecs from its front, writes
 * them, and then consumes what the kernel took. Small private writes are
 * appended to the tail buffer when it is not shared, so a peer that gets
 * many small replies costs one buffer, not one allocation per reply.
 *
 * Single-threaded: a buffer and a queue belong to one loop.
 */
#ifndef SK_BUF_H
#define SK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A shared, immutable-once-sent byte buffer. */
struct sk_buf {
	uint32_t refs; /* owners; freed when it drops to 0 */
	size_t cap;    /* bytes in data */
	size_t len;    /* bytes written so far */
	char data[];   /* the bytes */
};

/* A buffer for cap bytes, with one reference and len 0; NULL when out of
 * memory or cap is 0. */
struct sk_buf *sk_buf_new(size_t cap);
/* A buffer holding a copy of p[0..len), with one reference. */
struct sk_buf *sk_buf_copy(const void *p, size_t len);
void sk_buf_ref(struct sk_buf *b);
/* Drop a reference; frees b at the last. NULL is ignored. */
void sk_buf_unref(struct sk_buf *b);

/* Private writes are gathered into buffers of this size (or larger for a
 * larger write); a peer's queue holds at most one partly used one. */
#define SK_OUTQ_CHUNK 4096
/* The first buffer of an empty queue, when the write fits it. */
#define SK_OUTQ_FIRST 512

/* One slice of a queue. */
struct sk_outq_ent {
	struct sk_outq_ent *next; /* towards the tail */
	struct sk_buf *b;         /* a reference held by the queue */
	size_t off;               /* first byte still to send */
	size_t len;               /* bytes still to send */
};

/* The bytes owed to one peer, in order. */
struct sk_outq {
	struct sk_outq_ent *head; /* next to send */
	struct sk_outq_ent *tail; /* last queued */
	size_t bytes;             /* sum of len over the slices */
	size_t nent;              /* slices */
};

void sk_outq_init(struct sk_outq *q);
/* Queue len bytes of b from off; takes a reference to b. Returns 0 or
 * -ENOMEM (nothing queued). len 0 queues nothing. */
int sk_outq_push(struct sk_outq *q, struct sk_buf *b, size_t off, size_t len);
/* Queue a copy of p[0..len). Returns 0 or -ENOMEM (nothing queued). */
int sk_outq_push_copy(struct sk_outq *q, const void *p, size_t len);
/* Fill up to max iovecs from the front, without consuming; returns how
 * many. The bytes stay valid until sk_outq_consume() takes them. */
size_t sk_outq_peek(const struct sk_outq *q, struct iovec *iov, size_t max);
/* Drop n bytes from the front (n <= bytes), releasing spent buffers. */
void sk_outq_consume(struct sk_outq *q, size_t n);
/* Drop everything. */
void sk_outq_clear(struct sk_outq *q);

#endif
