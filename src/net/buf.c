/* buf.c: shared buffers and output queues (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sk_buf *sk_buf_new(size_t cap)
{
	struct sk_buf *b;

	if (cap == 0 || cap > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + cap);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->cap = cap;
	b->len = 0;
	return b;
}

struct sk_buf *sk_buf_copy(const void *p, size_t len)
{
	struct sk_buf *b = sk_buf_new(len);

	if (b == NULL)
		return NULL;
	memcpy(b->data, p, len);
	b->len = len;
	return b;
}

void sk_buf_ref(struct sk_buf *b)
{
	b->refs++;
}

void sk_buf_unref(struct sk_buf *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

void sk_outq_init(struct sk_outq *q)
{
	memset(q, 0, sizeof(*q));
}

int sk_outq_push(struct sk_outq *q, struct sk_buf *b, size_t off, size_t len)
{
	struct sk_outq_ent *e;

	if (len == 0)
		return 0;
	e = malloc(sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	sk_buf_ref(b);
	e->next = NULL;
	e->b = b;
	e->off = off;
	e->len = len;
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->bytes += len;
	q->nent++;
	return 0;
}

int sk_outq_push_copy(struct sk_outq *q, const void *p, size_t len)
{
	struct sk_outq_ent *t = q->tail;
	struct sk_buf *b;
	int rc;

	if (len == 0)
		return 0;
	/* The tail buffer is ours alone and its slice ends where its bytes
	 * end: append there. Bytes already handed to the kernel lie before
	 * b->len and are not moved. */
	if (t != NULL && t->b->refs == 1 && t->off + t->len == t->b->len &&
	    t->b->cap - t->b->len >= len) {
		memcpy(t->b->data + t->b->len, p, len);
		t->b->len += len;
		t->len += len;
		q->bytes += len;
		return 0;
	}
	/* A queue's first buffer is small: most peers are sent a line now
	 * and then, and an idle room's many members should not each hold
	 * (or leave behind in the heap) a whole chunk. */
	b = sk_buf_new(len > SK_OUTQ_CHUNK ? len
		       : q->head == NULL && len <= SK_OUTQ_FIRST ? SK_OUTQ_FIRST
								 : SK_OUTQ_CHUNK);
	if (b == NULL)
		return -ENOMEM;
	memcpy(b->data, p, len);
	b->len = len;
	rc = sk_outq_push(q, b, 0, len);
	sk_buf_unref(b);
	return rc;
}

size_t sk_outq_peek(const struct sk_outq *q, struct iovec *iov, size_t max)
{
	size_t n = 0;

	for (const struct sk_outq_ent *e = q->head; e != NULL && n < max;
	     e = e->next, n++) {
		iov[n].iov_base = e->b->data + e->off;
		iov[n].iov_len = e->len;
	}
	return n;
}

void sk_outq_consume(struct sk_outq *q, size_t n)
{
	while (n > 0 && q->head != NULL) {
		struct sk_outq_ent *e = q->head;

		if (n < e->len) {
			e->off += n;
			e->len -= n;
			q->bytes -= n;
			return;
		}
		n -= e->len;
		q->bytes -= e->len;
		q->head = e->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->nent--;
		sk_buf_unref(e->b);
		free(e);
	}
}

void sk_outq_clear(struct sk_outq *q)
{
	sk_outq_consume(q, q->bytes);
}
