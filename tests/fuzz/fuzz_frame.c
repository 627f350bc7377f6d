/*
 * fuzz_frame.c: libFuzzer target for src/proto/frame.c.
 *
 * The input is a TCP byte stream of exec frames, parsed one after the
 * other as a reader would until the parser asks for more or refuses.
 * For each frame: the size consumed fits what was left and is the header
 * plus the announced payload, which is within SK_FRAME_MAX_PAYLOAD; the
 * header fields are the input's bytes; the frame minus its last byte is
 * "need more"; a refusal is TOOBIG and follows from the length field
 * alone, and "need more" from the byte count alone.
 *
 * Then every decoder sees every frame: all but the frame's own type's
 * must say TYPE. When a decoder accepts, its views lie inside the
 * payload and obey the specification (counts, NUL bytes, NAME=VALUE,
 * absolute cwd, signal names, ranges), the header rules accept the frame
 * from its sender, and encoding the decoded message writes the input
 * frame again byte for byte, into a heap buffer of exactly its size (one
 * byte less is SPACE). Data frames that pass the header rules re-encode
 * the same way. Window increments accumulate as a receiver would, and
 * the sum never passes SK_EXEC_WINDOW_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "sk_limits.h"

static struct sk_frame_exec ex; /* 5 KiB: not on the stack */

static int in_payload(const struct sk_frame *f, struct sk_frame_str s)
{
	const char *lo = (const char *)f->payload;

	return s.p != NULL && s.p >= lo && s.len <= f->len &&
	       s.p + s.len <= lo + f->len;
}

static int has_nul(struct sk_frame_str s)
{
	return s.len > 0 && memchr(s.p, '\0', s.len) != NULL;
}

/* Re-encoding a decoded message must give the frame back exactly. */
struct enc {
	uint8_t *out; /* malloc()ed, exactly the frame's size */
	size_t n;     /* the frame's size */
};

static struct enc enc_new(size_t n)
{
	struct enc e = { malloc(n), n };

	if (e.out == NULL)
		abort();
	return e;
}

static void enc_check(struct enc *e, int rc, const uint8_t *frame)
{
	if (rc != (int)e->n || memcmp(e->out, frame, e->n) != 0)
		abort();
	free(e->out);
	e->out = NULL;
}

/* The same encoder, one byte short of room: SPACE. */
static void short_check(int rc)
{
	if (rc != SK_FRAME_E_SPACE)
		abort();
}

static void check_exec(const struct sk_frame *f, const uint8_t *frame,
		       size_t n)
{
	struct enc e;
	int rc = sk_frame_exec_decode(f, &ex);

	if (rc != 0)
		return;
	if (ex.argc < 1 || ex.argc > SK_EXEC_MAX_ARGS ||
	    ex.envc > SK_EXEC_MAX_ENV || (ex.shell && ex.argc != 1) ||
	    ex.shell != ((f->flags & SK_FRAME_F_SHELL) != 0))
		abort();
	if (ex.argv[0].len == 0)
		abort();
	for (size_t i = 0; i < ex.argc; i++)
		if (!in_payload(f, ex.argv[i]) || has_nul(ex.argv[i]))
			abort();
	for (size_t i = 0; i < ex.envc; i++) {
		struct sk_frame_str s = ex.env[i];

		if (!in_payload(f, s) || has_nul(s) || s.len < 2 ||
		    s.p[0] == '=' || memchr(s.p, '=', s.len) == NULL)
			abort();
	}
	if (!in_payload(f, ex.cwd) || has_nul(ex.cwd) ||
	    (ex.cwd.len > 0 && ex.cwd.p[0] != '/'))
		abort();
	e = enc_new(n);
	short_check(sk_frame_exec_encode(e.out, n - 1, f->stream, &ex));
	enc_check(&e, sk_frame_exec_encode(e.out, n, f->stream, &ex), frame);
}

static void check_error(const struct sk_frame *f, const uint8_t *frame,
			size_t n)
{
	struct sk_frame_error er;
	struct enc e;

	if (sk_frame_error_decode(f, &er) != 0)
		return;
	if (er.code == 0 || er.code > 0xffff || !in_payload(f, er.text) ||
	    er.text.len > SK_FRAME_MAX_TEXT || has_nul(er.text) ||
	    er.text.len + 2 != f->len)
		abort();
	if (sk_frame_code_name(er.code) == NULL)
		abort();
	e = enc_new(n);
	short_check(sk_frame_error_encode(e.out, n - 1, f->stream, er.code,
					  er.text.p, er.text.len));
	enc_check(&e, sk_frame_error_encode(e.out, n, f->stream, er.code,
					    er.text.p, er.text.len),
		  frame);
}

static void check_exit(const struct sk_frame *f, const uint8_t *frame,
		       size_t n)
{
	struct sk_frame_exit x;
	struct enc e;

	if (sk_frame_exit_decode(f, &x) != 0)
		return;
	if (x.signaled) {
		if (x.signaled != 1 || x.status != 0 || (x.core & ~1) != 0 ||
		    !in_payload(f, x.signal) ||
		    !sk_frame_signame_ok(x.signal.p, x.signal.len))
			abort();
	} else if (x.status > 255 || x.core != 0 || x.signal.len != 0 ||
		   f->len != 2) {
		abort();
	}
	e = enc_new(n);
	short_check(sk_frame_exit_encode(e.out, n - 1, f->stream, &x));
	enc_check(&e, sk_frame_exit_encode(e.out, n, f->stream, &x), frame);
}

static void check_signal(const struct sk_frame *f, const uint8_t *frame,
			 size_t n)
{
	struct sk_frame_str s;
	struct enc e;
	int signo;

	if (sk_frame_signal_decode(f, &s) != 0)
		return;
	if (!in_payload(f, s) || s.len != f->len || s.len == 0 ||
	    s.len > SK_FRAME_MAX_SIGNAME)
		abort();
	signo = sk_signal_number(s.p, s.len);
	if (signo >= 0) {
		const char *name = sk_signal_name(signo);

		if (name == NULL || strlen(name) != s.len ||
		    memcmp(name, s.p, s.len) != 0)
			abort();
	}
	e = enc_new(n);
	short_check(sk_frame_signal_encode(e.out, n - 1, f->stream, s.p,
					   s.len));
	enc_check(&e, sk_frame_signal_encode(e.out, n, f->stream, s.p, s.len),
		  frame);
}

static void check_window(const struct sk_frame *f, const uint8_t *frame,
			 size_t n, uint32_t *window)
{
	uint32_t inc, before = *window;
	struct enc e;

	if (sk_frame_window_decode(f, &inc) != 0)
		return;
	if (inc == 0 || inc > SK_EXEC_WINDOW_MAX)
		abort();
	if (sk_frame_window_add(window, inc) == 0) {
		if (*window != before + inc || *window > SK_EXEC_WINDOW_MAX)
			abort();
	} else if (*window != before ||
		   (uint64_t)before + inc <= SK_EXEC_WINDOW_MAX) {
		abort();
	}
	e = enc_new(n);
	short_check(sk_frame_window_encode(e.out, n - 1, f->stream, inc));
	enc_check(&e, sk_frame_window_encode(e.out, n, f->stream, inc), frame);
}

static void check_misc(const struct sk_frame *f, const uint8_t *frame,
		       size_t n)
{
	unsigned u;
	struct enc e;

	if (f->type == SK_FRAME_HELLO) {
		int rc = sk_frame_hello_decode(f, &u);

		if (rc == 0 || rc == SK_FRAME_E_VERSION) {
			if ((rc == 0) != (u == SK_FRAME_VERSION) ||
			    !sk_frame_hello_prefix(frame, n))
				abort();
		}
		if (rc != 0)
			return;
		e = enc_new(n);
		short_check(sk_frame_hello_encode(e.out, n - 1, u));
		enc_check(&e, sk_frame_hello_encode(e.out, n, u), frame);
	} else if (f->type == SK_FRAME_RESET) {
		if (sk_frame_reset_decode(f, &u) != 0)
			return;
		if (u == 0 || u > 0xffff)
			abort();
		e = enc_new(n);
		short_check(sk_frame_reset_encode(e.out, n - 1, f->stream, u));
		enc_check(&e, sk_frame_reset_encode(e.out, n, f->stream, u),
			  frame);
	}
}

/* Data frames and EXEC_OK: only the header rules apply. */
static void check_data(const struct sk_frame *f, const uint8_t *frame,
		       size_t n, int ok)
{
	struct enc e;

	if (!ok)
		return;
	if (f->type == SK_FRAME_EXEC_OK && f->len != 0)
		abort();
	if ((f->type == SK_FRAME_STDOUT || f->type == SK_FRAME_STDERR) &&
	    f->len == 0)
		abort();
	e = enc_new(n);
	short_check(sk_frame_encode(e.out, n - 1, f->type, f->flags, f->stream,
				    f->payload, f->len));
	enc_check(&e, sk_frame_encode(e.out, n, f->type, f->flags, f->stream,
				      f->payload, f->len),
		  frame);
}

/* Every decoder but the frame's own must refuse it as another type. */
static void check_foreign(const struct sk_frame *f)
{
	struct sk_frame_error er;
	struct sk_frame_exit x;
	struct sk_frame_str s;
	unsigned u;
	uint32_t w;

	if (f->type != SK_FRAME_HELLO &&
	    sk_frame_hello_decode(f, &u) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_EXEC &&
	    sk_frame_exec_decode(f, &ex) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_ERROR &&
	    sk_frame_error_decode(f, &er) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_EXIT &&
	    sk_frame_exit_decode(f, &x) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_SIGNAL &&
	    sk_frame_signal_decode(f, &s) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_WINDOW_UPDATE &&
	    sk_frame_window_decode(f, &w) != SK_FRAME_E_TYPE)
		abort();
	if (f->type != SK_FRAME_RESET &&
	    sk_frame_reset_decode(f, &u) != SK_FRAME_E_TYPE)
		abort();
}

/* The side that sends a type, for the header rules. */
static int sender(unsigned type)
{
	switch (type) {
	case SK_FRAME_EXEC_OK:
	case SK_FRAME_STDOUT:
	case SK_FRAME_STDERR:
	case SK_FRAME_EXIT:
		return SK_FRAME_SERVER;
	case SK_FRAME_ERROR:
		return SK_FRAME_SERVER; /* a client's is on stream 0 only */
	default:
		return SK_FRAME_CLIENT;
	}
}

/* The decoder of f's type accepts it; do the header rules agree? */
static int decodes(const struct sk_frame *f)
{
	struct sk_frame_error er;
	struct sk_frame_exit x;
	struct sk_frame_str s;
	unsigned u;
	uint32_t w;

	switch (f->type) {
	case SK_FRAME_HELLO:
		return sk_frame_hello_decode(f, &u) == 0;
	case SK_FRAME_EXEC:
		return sk_frame_exec_decode(f, &ex) == 0;
	case SK_FRAME_ERROR:
		return sk_frame_error_decode(f, &er) == 0;
	case SK_FRAME_EXIT:
		return sk_frame_exit_decode(f, &x) == 0;
	case SK_FRAME_SIGNAL:
		return sk_frame_signal_decode(f, &s) == 0;
	case SK_FRAME_WINDOW_UPDATE:
		return sk_frame_window_decode(f, &w) == 0;
	case SK_FRAME_RESET:
		return sk_frame_reset_decode(f, &u) == 0;
	default:
		return 0;
	}
}

static void check_frame(const struct sk_frame *f, const uint8_t *frame,
			size_t n, uint32_t *window)
{
	int cc = sk_frame_check(f, sender(f->type));
	int other = sk_frame_check(f, sender(f->type) == SK_FRAME_CLIENT
					      ? SK_FRAME_SERVER
					      : SK_FRAME_CLIENT);

	if (cc > 0 || cc < SK_FRAME_E_SPACE || other > 0 ||
	    other < SK_FRAME_E_SPACE)
		abort();
	if ((f->type < 1 || f->type > 11) != (cc == SK_FRAME_E_TYPE))
		abort();
	if (sk_frame_strerror(cc) == NULL || sk_frame_code(cc) == 0)
		abort();
	/* A type sent by one side only is refused from the other. */
	if (cc == 0 && other == 0 && f->type != SK_FRAME_HELLO &&
	    f->type != SK_FRAME_ERROR && f->type != SK_FRAME_WINDOW_UPDATE)
		abort();
	/* What a decoder accepts, the header rules accept. */
	if (decodes(f) && cc != 0)
		abort();
	check_foreign(f);
	switch (f->type) {
	case SK_FRAME_EXEC:
		check_exec(f, frame, n);
		break;
	case SK_FRAME_ERROR:
		check_error(f, frame, n);
		break;
	case SK_FRAME_EXIT:
		check_exit(f, frame, n);
		break;
	case SK_FRAME_SIGNAL:
		check_signal(f, frame, n);
		break;
	case SK_FRAME_WINDOW_UPDATE:
		check_window(f, frame, n, window);
		break;
	case SK_FRAME_HELLO:
	case SK_FRAME_RESET:
		check_misc(f, frame, n);
		break;
	case SK_FRAME_EXEC_OK:
	case SK_FRAME_STDIN:
	case SK_FRAME_STDOUT:
	case SK_FRAME_STDERR:
		check_data(f, frame, n, cc == 0);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t window = SK_EXEC_WINDOW;
	size_t off = 0;

	/* The first byte alone tells a HELLO from a typed line. */
	if (size > 0 && sk_frame_hello_prefix(data, 1) != (data[0] == 0x01))
		abort();
	while (off < size) {
		const uint8_t *p = data + off;
		size_t left = size - off;
		/* The announced payload length, once its bytes are in. */
		size_t plen = left >= 4 ? (size_t)p[2] << 8 | p[3] : 0;
		struct sk_frame f;
		int rc = sk_frame_parse(p, left, &f);

		if (rc < 0) {
			if (rc != SK_FRAME_E_TOOBIG || left < 4 ||
			    plen <= SK_FRAME_MAX_PAYLOAD)
				abort();
			break;
		}
		if (rc == 0) {
			if (plen > SK_FRAME_MAX_PAYLOAD ||
			    (left >= SK_FRAME_HEADER &&
			     left - SK_FRAME_HEADER >= plen))
				abort();
			break;
		}
		if ((size_t)rc > left ||
		    (size_t)rc != SK_FRAME_HEADER + f.len ||
		    f.len > SK_FRAME_MAX_PAYLOAD || f.payload != p + 8 ||
		    f.type != p[0] || f.flags != p[1] ||
		    f.stream != ((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
				 (uint32_t)p[6] << 8 | p[7]))
			abort();
		{
			struct sk_frame g;

			if (sk_frame_parse(p, (size_t)rc - 1, &g) != 0)
				abort();
		}
		check_frame(&f, p, (size_t)rc, &window);
		off += (size_t)rc;
	}
	return 0;
}
