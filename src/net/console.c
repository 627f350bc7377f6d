/*
 * console.c: the daemon's stdin and stdout as lines for a service (see
 * console.h), on libuv: a tty or a pipe is watched by the loop; anything
 * else libuv cannot poll (a file, /dev/null) counts as an ended stdin,
 * and output to it is written at once (a file never blocks for long).
 */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/sk_limits.h"

/* One side: a tty, a pipe, or nothing libuv watches. */
union sk__side {
	uv_handle_t h;
	uv_stream_t st;
	uv_tty_t tty;
	uv_pipe_t pipe;
};

struct sk_console {
	union sk__side in;      /* stdin, when in_open */
	union sk__side out;     /* stdout, when out_open */
	uv_timer_t eof;         /* reports an unwatchable stdin's end */
	int in_open, out_open;  /* the handles that exist */
	int handles;            /* handles not yet closed (for the free) */
	int closing;            /* sk_console_close() was called */
	int ended;              /* the end of stdin was reported */
	sk_console_cb cb;       /* where lines go */
	void *arg;              /* its argument */
	size_t queued;          /* output bytes in uv_write */
	unsigned long dropped;  /* output lines dropped */
	size_t len;             /* bytes in line */
	int skipping;           /* inside a line over the maximum */
	char line[SK_CONSOLE_LINE_MAX + 1]; /* the line being read */
	char rbuf[4096];        /* what one read takes */
};

/* One write in flight. */
struct sk__wreq {
	uv_write_t req;          /* libuv's */
	struct sk_console *k;    /* whose */
	size_t n;                /* bytes */
	char data[];             /* the copy */
};

static void sk__closed(uv_handle_t *h)
{
	struct sk_console *k = h->data;

	if (--k->handles == 0)
		free(k);
}

static void sk__end(struct sk_console *k)
{
	if (k->ended || k->closing)
		return;
	k->ended = 1;
	k->cb(k->arg, NULL, 0);
}

/* Hand the complete lines in buf[0..n) on, keeping a partial one. */
static void sk__lines(struct sk_console *k, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && !k->closing; i++) {
		char ch = buf[i];

		if (ch == '\n') {
			size_t len = k->len;

			if (!k->skipping) {
				if (len > 0 && k->line[len - 1] == '\r')
					len--;
				k->line[len] = '\0';
				k->cb(k->arg, k->line, len);
			}
			k->len = 0;
			k->skipping = 0;
		} else if (k->len < SK_CONSOLE_LINE_MAX) {
			k->line[k->len++] = ch;
		} else if (!k->skipping) {
			/* Cut at the maximum; the rest of the line goes. */
			k->line[k->len] = '\0';
			k->cb(k->arg, k->line, k->len);
			k->skipping = 1;
		}
	}
}

static void sk__alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct sk_console *k = h->data;

	(void)hint;
	b->base = k->rbuf;
	b->len = sizeof(k->rbuf);
}

static void sk__read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct sk_console *k = st->data;

	if (n > 0) {
		sk__lines(k, b->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	uv_read_stop(st);
	if (k->len > 0 && !k->skipping && !k->closing) {
		/* The last line had no LF. */
		k->line[k->len] = '\0';
		k->cb(k->arg, k->line, k->len);
		k->len = 0;
	}
	sk__end(k);
}

static void sk__eof_timer(uv_timer_t *t)
{
	sk__end(t->data);
}

/* Open fd as a libuv stream; 0, or -1 when libuv cannot watch it. */
static int sk__open(uv_loop_t *loop, union sk__side *s, int fd, int readable)
{
	switch (uv_guess_handle(fd)) {
	case UV_TTY:
		return uv_tty_init(loop, &s->tty, fd, readable) == 0 ? 0 : -1;
	case UV_NAMED_PIPE:
		if (uv_pipe_init(loop, &s->pipe, 0) != 0)
			return -1;
		if (uv_pipe_open(&s->pipe, fd) != 0) {
			/* Initialised: it must be closed all the same. */
			return -2;
		}
		return 0;
	default:
		return -1;
	}
}

struct sk_console *sk_console_open(uv_loop_t *loop, sk_console_cb cb,
				   void *arg)
{
	struct sk_console *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return NULL;
	k->cb = cb;
	k->arg = arg;
	uv_timer_init(loop, &k->eof);
	k->eof.data = k;
	k->handles = 1;
	rc = sk__open(loop, &k->in, STDIN_FILENO, 1);
	if (rc == 0) {
		k->in.h.data = k;
		k->in_open = 1;
		k->handles++;
		if (uv_read_start(&k->in.st, sk__alloc, sk__read) != 0)
			uv_timer_start(&k->eof, sk__eof_timer, 0, 0);
	} else {
		if (rc == -2) {
			k->in.h.data = k;
			k->handles++;
			uv_close(&k->in.h, sk__closed);
		}
		uv_timer_start(&k->eof, sk__eof_timer, 0, 0);
	}
	rc = sk__open(loop, &k->out, STDOUT_FILENO, 0);
	if (rc == 0) {
		k->out.h.data = k;
		k->out_open = 1;
		k->handles++;
	} else if (rc == -2) {
		k->out.h.data = k;
		k->handles++;
		uv_close(&k->out.h, sk__closed);
	}
	return k;
}

static void sk__written(uv_write_t *req, int status)
{
	struct sk__wreq *w = (struct sk__wreq *)req;

	(void)status;
	w->k->queued -= w->n;
	free(w);
}

int sk_console_write(struct sk_console *k, const char *s, size_t n)
{
	struct sk__wreq *w;
	uv_buf_t b;

	if (k->closing || n == 0)
		return 0;
	if (!k->out_open) {
		/* A file, or nothing: write it through, once. */
		ssize_t r = write(STDOUT_FILENO, s, n);

		if (r != (ssize_t)n) {
			k->dropped++;
			return -ENOBUFS;
		}
		return 0;
	}
	if (k->queued + n > SK_CONSOLE_OUT_MAX ||
	    (w = malloc(sizeof(*w) + n)) == NULL) {
		k->dropped++;
		return -ENOBUFS;
	}
	w->k = k;
	w->n = n;
	memcpy(w->data, s, n);
	b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, &k->out.st, &b, 1, sk__written) != 0) {
		free(w);
		k->dropped++;
		return -ENOBUFS;
	}
	k->queued += n;
	return 0;
}

unsigned long sk_console_dropped(const struct sk_console *k)
{
	return k->dropped;
}

void sk_console_close(struct sk_console *k)
{
	if (k == NULL || k->closing)
		return;
	k->closing = 1;
	if (k->in_open)
		uv_close(&k->in.h, sk__closed);
	if (k->out_open)
		uv_close(&k->out.h, sk__closed);
	uv_close((uv_handle_t *)&k->eof, sk__closed);
}
