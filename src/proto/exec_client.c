/*
 * exec_client.c: the client's side of one exec command, with no I/O
 * (see exec_client.h). Every check a frame fails is a connection error
 * whose code the specification names: the codec's own code for a frame
 * it refuses, BAD_FRAME for a frame out of order on stream 0, BAD_STREAM
 * for one on a stream we never opened or out of its stream's order, and
 * FLOW for output beyond the credit we granted.
 */
#include "exec_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *sk__type_name(unsigned type)
{
	static const char *const names[] = {
		[SK_FRAME_HELLO] = "HELLO",
		[SK_FRAME_ERROR] = "ERROR",
		[SK_FRAME_EXEC] = "EXEC",
		[SK_FRAME_EXEC_OK] = "EXEC_OK",
		[SK_FRAME_STDIN] = "STDIN",
		[SK_FRAME_STDOUT] = "STDOUT",
		[SK_FRAME_STDERR] = "STDERR",
		[SK_FRAME_EXIT] = "EXIT",
		[SK_FRAME_SIGNAL] = "SIGNAL",
		[SK_FRAME_WINDOW_UPDATE] = "WINDOW_UPDATE",
		[SK_FRAME_RESET] = "RESET",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	return "unknown";
}

void sk_exec_client_init(struct sk_exec_client *c, uint32_t stream)
{
	memset(c, 0, sizeof(*c));
	c->stream = stream;
	c->state = SK_EXEC_OPENING;
	c->out_credit = SK_EXEC_WINDOW;
	c->in_credit = SK_EXEC_WINDOW;
}

void sk_exec_client_next(struct sk_exec_client *c, uint32_t stream)
{
	uint32_t upto = c->state == SK_EXEC_RESET ? c->stream : c->reset_upto;
	int hello = c->hello;

	sk_exec_client_init(c, stream);
	c->hello = hello;
	c->reset_upto = upto;
}

/* A protocol error: fill ev with the code to send and the reason. */
__attribute__((format(printf, 4, 5)))
static int sk__fail(struct sk_exec_event *ev, int err, unsigned code,
		    const char *fmt, ...)
{
	va_list ap;

	ev->code = code;
	va_start(ap, fmt);
	vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
	va_end(ap);
	return err;
}

/* A frame the codec refused: the codec's code and text, and the type. */
static int sk__bad(struct sk_exec_event *ev, const struct sk_frame *f,
		   int err)
{
	return sk__fail(ev, err, sk_frame_code(err), "%s frame: %s",
			sk__type_name(f->type), sk_frame_strerror(err));
}

/* A frame on the connection (stream 0), after the server's HELLO. */
static int sk__conn_frame(const struct sk_frame *f, struct sk_exec_event *ev)
{
	struct sk_frame_error e;
	int rc;

	if (f->type == SK_FRAME_HELLO)
		return sk__fail(ev, SK_FRAME_E_TYPE, SK_FRAME_CODE_BAD_FRAME,
				"a second HELLO");
	/* sk_frame_check() left ERROR as the only other type on 0. */
	rc = sk_frame_error_decode(f, &e);
	if (rc < 0)
		return sk__bad(ev, f, rc);
	ev->kind = SK_EXEC_EV_CONN_ERROR;
	ev->code = e.code;
	ev->data = e.text;
	return 0;
}

/* A frame on our stream. */
static int sk__stream_frame(struct sk_exec_client *c, const struct sk_frame *f,
			    struct sk_exec_event *ev)
{
	struct sk_frame_error e;
	uint32_t inc;
	int rc;

	if (c->state == SK_EXEC_RESET)
		return 0; /* frames crossed our RESET: ignored */
	if (c->state == SK_EXEC_ENDED)
		return sk__fail(ev, SK_FRAME_E_STREAM, SK_FRAME_CODE_BAD_STREAM,
				"%s frame on stream %u, which has ended",
				sk__type_name(f->type), (unsigned)f->stream);
	switch (f->type) {
	case SK_FRAME_EXEC_OK:
		if (c->state != SK_EXEC_OPENING)
			return sk__fail(ev, SK_FRAME_E_STREAM,
					SK_FRAME_CODE_BAD_STREAM,
					"a second EXEC_OK on stream %u",
					(unsigned)f->stream);
		c->state = SK_EXEC_RUNNING;
		ev->kind = SK_EXEC_EV_STARTED;
		return 0;
	case SK_FRAME_STDOUT:
	case SK_FRAME_STDERR:
	case SK_FRAME_EXIT:
		if (c->state != SK_EXEC_RUNNING)
			return sk__fail(ev, SK_FRAME_E_STREAM,
					SK_FRAME_CODE_BAD_STREAM,
					"%s frame on stream %u before EXEC_OK",
					sk__type_name(f->type),
					(unsigned)f->stream);
		if (f->type == SK_FRAME_EXIT) {
			rc = sk_frame_exit_decode(f, &ev->exit);
			if (rc < 0)
				return sk__bad(ev, f, rc);
			c->state = SK_EXEC_ENDED;
			ev->kind = SK_EXEC_EV_EXIT;
			return 0;
		}
		if (f->len > c->out_credit)
			return sk__fail(ev, SK_FRAME_E_FLOW, SK_FRAME_CODE_FLOW,
					"%s frame of %zu bytes beyond the %u "
					"bytes of credit granted",
					sk__type_name(f->type), f->len,
					(unsigned)c->out_credit);
		c->out_credit -= (uint32_t)f->len;
		ev->kind = f->type == SK_FRAME_STDOUT ? SK_EXEC_EV_STDOUT
						      : SK_EXEC_EV_STDERR;
		ev->data.p = (const char *)f->payload;
		ev->data.len = f->len;
		return 0;
	case SK_FRAME_ERROR:
		rc = sk_frame_error_decode(f, &e);
		if (rc < 0)
			return sk__bad(ev, f, rc);
		ev->kind = c->state == SK_EXEC_OPENING ? SK_EXEC_EV_REFUSED
						       : SK_EXEC_EV_ENDED;
		ev->code = e.code;
		ev->data = e.text;
		c->state = SK_EXEC_ENDED;
		return 0;
	case SK_FRAME_WINDOW_UPDATE:
		rc = sk_frame_window_decode(f, &inc);
		if (rc < 0)
			return sk__bad(ev, f, rc);
		if (sk_frame_window_add(&c->in_credit, inc) != 0)
			return sk__fail(ev, SK_FRAME_E_FLOW, SK_FRAME_CODE_FLOW,
					"WINDOW_UPDATE of %u takes the STDIN "
					"window over 2^31-1", (unsigned)inc);
		return 0;
	default:
		/* sk_frame_check() refused every other type from a server. */
		return sk__fail(ev, SK_FRAME_E_TYPE, SK_FRAME_CODE_INTERNAL,
				"%s frame", sk__type_name(f->type));
	}
}

int sk_exec_client_input(struct sk_exec_client *c, const uint8_t *buf,
			 size_t len, struct sk_exec_event *ev)
{
	struct sk_frame f;
	int n, rc;

	memset(ev, 0, sizeof(*ev));
	n = sk_frame_parse(buf, len, &f);
	if (n == 0)
		return 0;
	if (n < 0)
		return sk__fail(ev, n, SK_FRAME_CODE_BAD_FRAME,
				"a frame announcing more than %d bytes",
				SK_FRAME_MAX_PAYLOAD);
	rc = sk_frame_check(&f, SK_FRAME_SERVER);
	if (rc < 0)
		return sk__bad(ev, &f, rc);
	if (!c->hello) {
		/* The server answers our HELLO with its own, or refuses it
		 * (or the connection) with ERROR on stream 0. */
		if (f.type == SK_FRAME_HELLO) {
			rc = sk_frame_hello_decode(&f, &ev->version);
			if (rc == SK_FRAME_E_VERSION)
				return sk__fail(ev, rc, SK_FRAME_CODE_VERSION,
						"the server speaks version %u; "
						"we speak %d", ev->version,
						SK_FRAME_VERSION);
			if (rc < 0)
				return sk__bad(ev, &f, rc);
			c->hello = 1;
			ev->kind = SK_EXEC_EV_HELLO;
			return n;
		}
		if (f.type != SK_FRAME_ERROR || f.stream != 0)
			return sk__fail(ev, SK_FRAME_E_TYPE,
					SK_FRAME_CODE_BAD_FRAME,
					"%s frame before the server's HELLO",
					sk__type_name(f.type));
		rc = sk__conn_frame(&f, ev);
		return rc < 0 ? rc : n;
	}
	if (f.stream == 0)
		rc = sk__conn_frame(&f, ev);
	else if (f.stream != c->stream && f.stream <= c->reset_upto)
		rc = 0; /* it crossed our RESET of that stream: ignored */
	else if (f.stream != c->stream)
		rc = sk__fail(ev, SK_FRAME_E_STREAM, SK_FRAME_CODE_BAD_STREAM,
			      "%s frame on stream %u, which we never opened",
			      sk__type_name(f.type), (unsigned)f.stream);
	else
		rc = sk__stream_frame(c, &f, ev);
	return rc < 0 ? rc : n;
}

void sk_exec_client_written(struct sk_exec_client *c, size_t n)
{
	c->out_written += (uint32_t)n;
}

uint32_t sk_exec_client_grant(struct sk_exec_client *c)
{
	uint32_t inc = c->out_written;

	if (inc < SK_EXEC_GRANT_MIN || c->state == SK_EXEC_ENDED ||
	    c->state == SK_EXEC_RESET)
		return 0;
	if (!c->grown) {
		inc += SK_EXEC_CLIENT_WINDOW - SK_EXEC_WINDOW;
		c->grown = 1;
	}
	c->out_written = 0;
	c->out_credit += inc;
	return inc;
}

int sk_exec_client_open(const struct sk_exec_client *c)
{
	return c->state == SK_EXEC_OPENING || c->state == SK_EXEC_RUNNING;
}

size_t sk_exec_client_stdin_room(const struct sk_exec_client *c)
{
	if (!sk_exec_client_open(c) || c->stdin_ended)
		return 0;
	return c->in_credit < SK_FRAME_MAX_PAYLOAD ? c->in_credit
						   : SK_FRAME_MAX_PAYLOAD;
}

void sk_exec_client_stdin_sent(struct sk_exec_client *c, size_t n, int end)
{
	c->in_credit -= (uint32_t)n;
	if (end)
		c->stdin_ended = 1;
}

void sk_exec_client_reset(struct sk_exec_client *c)
{
	c->state = SK_EXEC_RESET;
}
