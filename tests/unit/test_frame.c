/*
 * test_frame.c: unit tests for src/proto/frame.c, the exec frame codec.
 *
 * Covers every message type at the byte level: known-answer frames that
 * the encoders must write exactly and the decoders must read back field
 * by field, and that re-encode to the same bytes; the header parser on
 * split input (every prefix of every frame is "need more"), on frames
 * back to back, and at the payload limit (16384 accepted, 16385 and
 * 65535 refused from the first 4 bytes); the header rules (type, sender,
 * stream 0 or not, flags, empty payloads) as a full matrix; every
 * malformed payload form (truncated at each byte, trailing bytes, counts
 * the payload cannot hold, counts over SK_EXEC_MAX_ARGS and
 * SK_EXEC_MAX_ENV and exactly at them, NUL in strings, empty strings
 * where one is needed, bad NAME=VALUE, relative cwd, bad UTF-8, bad
 * signal names, out-of-range numbers); encoders refusing what decoders
 * refuse and output that does not fit; flow-control window arithmetic;
 * error codes and texts; the signal name table.
 *
 * Every input ends right before a guard page and every output buffer is
 * exactly its frame's size, ending at one. guard.h holds one page; the
 * frames of up to SK_FRAME_MAX bytes use a larger mapping here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "frame.h"
#include "guard.h"
#include "sk_limits.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- guarded buffers of up to SK_FRAME_MAX bytes -------------------- */

/* [0] inputs, [1] outputs, as in guard.h. */
static struct {
	unsigned char *base; /* the data pages */
	size_t size;         /* their size, whole pages >= SK_FRAME_MAX */
} bigs[2];

static unsigned char *big_end(int which, size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);

	if (bigs[which].base == NULL) {
		void *m;

		bigs[which].size = (SK_FRAME_MAX + ps - 1) / ps * ps;
		m = mmap(NULL, bigs[which].size + ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(m != MAP_FAILED);
		bigs[which].base = m;
		assert_int_equal(mprotect(bigs[which].base + bigs[which].size,
					  ps, PROT_NONE), 0);
	}
	assert_true(n <= bigs[which].size);
	memset(bigs[which].base, 0xa5, bigs[which].size);
	return bigs[which].base + bigs[which].size - n;
}

/* n bytes of p, ending at a guard page; any size up to SK_FRAME_MAX. */
static const uint8_t *place(const void *p, size_t n)
{
	uint8_t *dst;

	if (n <= 4096)
		return sk_guard_place(p, n);
	dst = big_end(0, n);
	memcpy(dst, p, n);
	return dst;
}

/* n writable bytes ending at a guard page. */
static uint8_t *outbuf(size_t n)
{
	if (n <= 4096)
		return sk_guard_buf(n);
	return big_end(1, n);
}

/* ---- building frames by hand --------------------------------------- */

/* A frame under construction: the header is written last. */
struct bld {
	uint8_t b[SK_FRAME_MAX + 64]; /* the frame; room to go over */
	size_t n;                     /* bytes so far, header included */
};

static void b_init(struct bld *x)
{
	memset(x->b, 0, sizeof(x->b));
	x->n = SK_FRAME_HEADER;
}

static void b_u8(struct bld *x, unsigned v)
{
	x->b[x->n++] = (uint8_t)v;
}

static void b_u16(struct bld *x, unsigned v)
{
	b_u8(x, v >> 8);
	b_u8(x, v);
}

static void b_u32(struct bld *x, uint32_t v)
{
	b_u16(x, v >> 16);
	b_u16(x, v & 0xffff);
}

static void b_raw(struct bld *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

/* A 16-bit length and n bytes. */
static void b_str(struct bld *x, const void *p, size_t n)
{
	b_u16(x, (unsigned)n);
	b_raw(x, p, n);
}

static void b_cstr(struct bld *x, const char *s)
{
	b_str(x, s, strlen(s));
}

/* Write the header for what was built; returns the frame's size. */
static size_t b_done(struct bld *x, unsigned type, unsigned flags,
		     uint32_t stream)
{
	size_t len = x->n - SK_FRAME_HEADER;

	x->b[0] = (uint8_t)type;
	x->b[1] = (uint8_t)flags;
	x->b[2] = (uint8_t)(len >> 8);
	x->b[3] = (uint8_t)len;
	x->b[4] = (uint8_t)(stream >> 24);
	x->b[5] = (uint8_t)(stream >> 16);
	x->b[6] = (uint8_t)(stream >> 8);
	x->b[7] = (uint8_t)stream;
	return x->n;
}

/* Place a whole frame before the guard and parse it into *f. */
static void frame_at_guard(const uint8_t *b, size_t n, struct sk_frame *f)
{
	assert_int_equal(sk_frame_parse(place(b, n), n, f), (int)n);
}

static int dec_hello(const uint8_t *b, size_t n, unsigned *v)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_hello_decode(&f, v);
}

static struct sk_frame_exec ex; /* 5 KiB: not on the stack */

static int dec_exec(const uint8_t *b, size_t n)
{
	struct sk_frame f;

	memset(&ex, 0xa5, sizeof(ex));
	frame_at_guard(b, n, &f);
	return sk_frame_exec_decode(&f, &ex);
}

static int dec_error(const uint8_t *b, size_t n, struct sk_frame_error *e)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_error_decode(&f, e);
}

static int dec_exit(const uint8_t *b, size_t n, struct sk_frame_exit *x)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_exit_decode(&f, x);
}

static int dec_signal(const uint8_t *b, size_t n, struct sk_frame_str *s)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_signal_decode(&f, s);
}

static int dec_window(const uint8_t *b, size_t n, uint32_t *inc)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_window_decode(&f, inc);
}

static int dec_reset(const uint8_t *b, size_t n, unsigned *code)
{
	struct sk_frame f;

	frame_at_guard(b, n, &f);
	return sk_frame_reset_decode(&f, code);
}

static void assert_str(struct sk_frame_str s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	if (s.len > 0)
		assert_memory_equal(s.p, want, s.len);
}

static struct sk_frame_str S(const char *s)
{
	struct sk_frame_str v = { s, strlen(s) };

	return v;
}

/* ---- known-answer frames ------------------------------------------- */

static const uint8_t kat_hello[] = {
	0x01, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00,
	0x89, 'S', 'K', 'X', 0x00, 0x01,
};

/* ls -l /tmp in /srv with LANG=C, 5 s, stream 1. */
static const uint8_t kat_exec[] = {
	0x03, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x13, 0x88,         /* timeout 5000 ms */
	0x00, 0x03, 0x00, 0x01,         /* 3 arguments, 1 pair */
	0x00, 0x04, '/', 's', 'r', 'v', /* cwd */
	0x00, 0x02, 'l', 's',
	0x00, 0x02, '-', 'l',
	0x00, 0x04, '/', 't', 'm', 'p',
	0x00, 0x06, 'L', 'A', 'N', 'G', '=', 'C',
};

/* A shell line on stream 3: SHELL flag, no timeout, cwd or env. */
static const uint8_t kat_shell[] = {
	0x03, 0x01, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x03,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00,
	0x00, 0x0f, 'e', 'c', 'h', 'o', ' ', 'h', 'i', ' ', '|', ' ',
	'w', 'c', ' ', '-', 'c',
};

static const uint8_t kat_exec_ok[] = {
	0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

static const uint8_t kat_stdin[] = {
	0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 'h', 'i', '\n',
};

static const uint8_t kat_stdin_end[] = {
	0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

static const uint8_t kat_stdout[] = {
	0x06, 0x00, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04, '2', '\n',
};

static const uint8_t kat_stderr[] = {
	0x07, 0x00, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff, 'o', 'o', 'p', 's',
};

/* NOT_FOUND on stream 1. */
static const uint8_t kat_error[] = {
	0x02, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x07, 'n', 'o', ' ', 's', 'u', 'c', 'h', ' ', 'p', 'r',
	'o', 'g', 'r', 'a', 'm', ':', ' ', 'l', 'z',
};

/* VERSION on stream 0, with non-ASCII text ("é", U+00E9). */
static const uint8_t kat_error_version[] = {
	0x02, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x04, 'v', '1', ' ', 'o', 'n', 'l', 0xc3, 0xa9,
};

static const uint8_t kat_exit_status[] = {
	0x08, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03,
};

static const uint8_t kat_exit_signal[] = {
	0x08, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01,
	0x01, 0x01, 'K', 'I', 'L', 'L',
};

static const uint8_t kat_signal[] = {
	0x09, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 'I', 'N', 'T',
};

/* 256 KiB of credit on stream 1. */
static const uint8_t kat_window[] = {
	0x0a, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x04, 0x00, 0x00,
};

/* CANCEL on stream 7. */
static const uint8_t kat_reset[] = {
	0x0b, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x0c,
};

static const struct {
	const uint8_t *b; /* the frame */
	size_t n;         /* its size */
	int from;         /* the side that sends it */
} kats[] = {
	{ kat_hello, sizeof(kat_hello), SK_FRAME_CLIENT },
	{ kat_exec, sizeof(kat_exec), SK_FRAME_CLIENT },
	{ kat_shell, sizeof(kat_shell), SK_FRAME_CLIENT },
	{ kat_exec_ok, sizeof(kat_exec_ok), SK_FRAME_SERVER },
	{ kat_stdin, sizeof(kat_stdin), SK_FRAME_CLIENT },
	{ kat_stdin_end, sizeof(kat_stdin_end), SK_FRAME_CLIENT },
	{ kat_stdout, sizeof(kat_stdout), SK_FRAME_SERVER },
	{ kat_stderr, sizeof(kat_stderr), SK_FRAME_SERVER },
	{ kat_error, sizeof(kat_error), SK_FRAME_SERVER },
	{ kat_error_version, sizeof(kat_error_version), SK_FRAME_SERVER },
	{ kat_exit_status, sizeof(kat_exit_status), SK_FRAME_SERVER },
	{ kat_exit_signal, sizeof(kat_exit_signal), SK_FRAME_SERVER },
	{ kat_signal, sizeof(kat_signal), SK_FRAME_CLIENT },
	{ kat_window, sizeof(kat_window), SK_FRAME_CLIENT },
	{ kat_reset, sizeof(kat_reset), SK_FRAME_CLIENT },
};

/* An encoder's result: exactly want, and SPACE one byte short. */
#define ENCODES(call_n, call_short, want)                                  \
	do {                                                               \
		uint8_t *o_ = outbuf(sizeof(want));                        \
		int rc_;                                                   \
		(void)o_;                                                  \
		rc_ = (call_n);                                            \
		assert_int_equal(rc_, (int)sizeof(want));                  \
		assert_memory_equal(o_, want, sizeof(want));               \
		o_ = outbuf(sizeof(want) - 1);                             \
		assert_int_equal((call_short), SK_FRAME_E_SPACE);          \
	} while (0)

/* ---- the header ---------------------------------------------------- */

static void test_parse_fields(void **state)
{
	struct sk_frame f;
	const uint8_t *g;

	(void)state;
	g = place(kat_stderr, sizeof(kat_stderr));
	assert_int_equal(sk_frame_parse(g, sizeof(kat_stderr), &f), 12);
	assert_int_equal(f.type, SK_FRAME_STDERR);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.len, 4);
	assert_int_equal(f.stream, 0xffffffffu);
	assert_ptr_equal(f.payload, g + SK_FRAME_HEADER);

	g = place(kat_stdout, sizeof(kat_stdout));
	assert_int_equal(sk_frame_parse(g, sizeof(kat_stdout), &f), 10);
	assert_int_equal(f.stream, 0x01020304u);
	assert_memory_equal(f.payload, "2\n", 2);

	g = place(kat_stdin_end, sizeof(kat_stdin_end));
	assert_int_equal(sk_frame_parse(g, sizeof(kat_stdin_end), &f), 8);
	assert_int_equal(f.type, SK_FRAME_STDIN);
	assert_int_equal(f.flags, SK_FRAME_F_END);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.stream, 1);
}

/* Every prefix of every frame is "need more", and *f is not touched. */
static void test_parse_every_prefix(void **state)
{
	struct sk_frame f, pristine;

	(void)state;
	memset(&pristine, 0x5a, sizeof(pristine));
	for (size_t k = 0; k < N(kats); k++) {
		for (size_t n = 0; n < kats[k].n; n++) {
			f = pristine;
			assert_int_equal(sk_frame_parse(place(kats[k].b, n), n,
							&f), 0);
			assert_memory_equal(&f, &pristine, sizeof(f));
		}
		frame_at_guard(kats[k].b, kats[k].n, &f);
		assert_int_equal(sk_frame_check(&f, kats[k].from), 0);
	}
}

/* A stream of frames: each call takes exactly one. */
static void test_parse_back_to_back(void **state)
{
	static uint8_t stream[SK_FRAME_MAX];
	const uint8_t *g;
	struct sk_frame f;
	size_t n = 0, off = 0;

	(void)state;
	for (size_t k = 0; k < N(kats); k++) {
		memcpy(stream + n, kats[k].b, kats[k].n);
		n += kats[k].n;
	}
	g = place(stream, n);
	for (size_t k = 0; k < N(kats); k++) {
		int rc = sk_frame_parse(g + off, n - off, &f);

		assert_int_equal(rc, (int)kats[k].n);
		assert_int_equal(f.type, kats[k].b[0]);
		assert_ptr_equal(f.payload, g + off + SK_FRAME_HEADER);
		/* Cut anywhere inside the next frame: need more. */
		if (k + 1 < N(kats))
			assert_int_equal(sk_frame_parse(g + off, (size_t)rc - 1,
							&f), 0);
		off += (size_t)rc;
	}
	assert_int_equal(off, n);
	assert_int_equal(sk_frame_parse(g + off, 0, &f), 0);
}

/* 16384 is fine; 16385 is refused from the first 4 bytes alone. */
static void test_parse_payload_limit(void **state)
{
	static uint8_t big[SK_FRAME_MAX + 1];
	struct sk_frame f, pristine;
	const uint8_t *g;

	(void)state;
	memset(big, 'x', sizeof(big));
	big[0] = SK_FRAME_STDOUT;
	big[1] = 0;
	big[2] = 0x40; /* 16384 */
	big[3] = 0x00;
	memcpy(big + 4, "\0\0\0\1", 4);
	for (size_t n = 0; n < SK_FRAME_MAX; n++)
		assert_int_equal(sk_frame_parse(place(big, n), n, &f), 0);
	g = place(big, SK_FRAME_MAX);
	assert_int_equal(sk_frame_parse(g, SK_FRAME_MAX, &f), SK_FRAME_MAX);
	assert_int_equal(f.len, SK_FRAME_MAX_PAYLOAD);
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER), 0);
	/* More input after it is left alone. */
	g = place(big, SK_FRAME_MAX + 1);
	assert_int_equal(sk_frame_parse(g, SK_FRAME_MAX + 1, &f), SK_FRAME_MAX);

	/* 16385, then 65535: an error once 4 bytes are in. */
	for (unsigned len = SK_FRAME_MAX_PAYLOAD + 1; len <= 0xffff;
	     len += 0xffff - SK_FRAME_MAX_PAYLOAD - 1) {
		big[2] = (uint8_t)(len >> 8);
		big[3] = (uint8_t)len;
		memset(&pristine, 0x5a, sizeof(pristine));
		for (size_t n = 0; n < 4; n++)
			assert_int_equal(sk_frame_parse(place(big, n), n, &f),
					 0);
		for (size_t n = 4; n <= 16; n++) {
			f = pristine;
			assert_int_equal(sk_frame_parse(place(big, n), n, &f),
					 SK_FRAME_E_TOOBIG);
			assert_memory_equal(&f, &pristine, sizeof(f));
		}
		assert_int_equal(sk_frame_parse(place(big, sizeof(big)),
						sizeof(big), &f),
				 SK_FRAME_E_TOOBIG);
	}
}

static void test_header_encode(void **state)
{
	uint8_t *o;

	(void)state;
	o = outbuf(8);
	assert_int_equal(sk_frame_header(o, 8, SK_FRAME_STDOUT, 0, 0x01020304u,
					 2), 8);
	assert_memory_equal(o, kat_stdout, 8);
	o = outbuf(8);
	assert_int_equal(sk_frame_header(o, 8, 0xff, 0xfe, 0, 0x4000), 8);
	assert_memory_equal(o, "\xff\xfe\x40\x00\0\0\0\0", 8);
	o = outbuf(7);
	assert_int_equal(sk_frame_header(o, 7, SK_FRAME_STDOUT, 0, 1, 2),
			 SK_FRAME_E_SPACE);
	o = outbuf(8);
	assert_int_equal(sk_frame_header(o, 8, SK_FRAME_STDOUT, 0, 1,
					 SK_FRAME_MAX_PAYLOAD + 1),
			 SK_FRAME_E_TOOBIG);
}

static void test_data_encode(void **state)
{
	static uint8_t payload[SK_FRAME_MAX_PAYLOAD + 1];
	uint8_t *o;

	(void)state;
	ENCODES(sk_frame_encode(o_, sizeof(kat_stdin), SK_FRAME_STDIN,
				SK_FRAME_F_END, 1, "hi\n", 3),
		sk_frame_encode(o_, sizeof(kat_stdin) - 1, SK_FRAME_STDIN,
				SK_FRAME_F_END, 1, "hi\n", 3),
		kat_stdin);
	ENCODES(sk_frame_encode(o_, 8, SK_FRAME_STDIN, SK_FRAME_F_END, 1,
				NULL, 0),
		sk_frame_encode(o_, 7, SK_FRAME_STDIN, SK_FRAME_F_END, 1,
				NULL, 0),
		kat_stdin_end);
	ENCODES(sk_frame_encode(o_, 8, SK_FRAME_EXEC_OK, 0, 1, NULL, 0),
		sk_frame_encode(o_, 7, SK_FRAME_EXEC_OK, 0, 1, NULL, 0),
		kat_exec_ok);
	ENCODES(sk_frame_encode(o_, sizeof(kat_stderr), SK_FRAME_STDERR, 0,
				0xffffffffu, "oops", 4),
		sk_frame_encode(o_, sizeof(kat_stderr) - 1, SK_FRAME_STDERR,
				0, 0xffffffffu, "oops", 4),
		kat_stderr);

	/* The largest payload, then one byte more. */
	memset(payload, 'y', sizeof(payload));
	o = outbuf(SK_FRAME_MAX);
	assert_int_equal(sk_frame_encode(o, SK_FRAME_MAX, SK_FRAME_STDOUT, 0,
					 9, payload, SK_FRAME_MAX_PAYLOAD),
			 SK_FRAME_MAX);
	assert_memory_equal(o, "\x06\x00\x40\x00\0\0\0\x09", 8);
	assert_memory_equal(o + 8, payload, SK_FRAME_MAX_PAYLOAD);
	o = outbuf(SK_FRAME_MAX);
	assert_int_equal(sk_frame_encode(o, SK_FRAME_MAX, SK_FRAME_STDOUT, 0,
					 9, payload, SK_FRAME_MAX_PAYLOAD + 1),
			 SK_FRAME_E_TOOBIG);
	/* Nothing is written when it does not fit. */
	o = outbuf(SK_FRAME_MAX - 1);
	assert_int_equal(sk_frame_encode(o, SK_FRAME_MAX - 1, SK_FRAME_STDOUT,
					 0, 9, payload, SK_FRAME_MAX_PAYLOAD),
			 SK_FRAME_E_SPACE);
	assert_int_equal(o[0], 0xa5);
}

/* ---- header rules -------------------------------------------------- */

/* Who may send each type, and on which stream: the specification's
 * table, written out again independently of frame.c. */
static const struct {
	unsigned type;
	int client, server; /* may send it */
	int zero, nonzero;  /* allowed on stream 0, on another */
	unsigned flags;     /* defined flags */
	size_t len;         /* a payload length the header rules accept */
} spec[] = {
	{ SK_FRAME_HELLO, 1, 1, 1, 0, 0, 6 },
	{ SK_FRAME_ERROR, 1, 1, 1, 1, 0, 2 }, /* client: stream 0 only */
	{ SK_FRAME_EXEC, 1, 0, 0, 1, SK_FRAME_F_SHELL, 12 },
	{ SK_FRAME_EXEC_OK, 0, 1, 0, 1, 0, 0 },
	{ SK_FRAME_STDIN, 1, 0, 0, 1, SK_FRAME_F_END, 1 },
	{ SK_FRAME_STDOUT, 0, 1, 0, 1, 0, 1 },
	{ SK_FRAME_STDERR, 0, 1, 0, 1, 0, 1 },
	{ SK_FRAME_EXIT, 0, 1, 0, 1, 0, 2 },
	{ SK_FRAME_SIGNAL, 1, 0, 0, 1, 0, 3 },
	{ SK_FRAME_WINDOW_UPDATE, 1, 1, 0, 1, 0, 4 },
	{ SK_FRAME_RESET, 1, 0, 0, 1, 0, 2 },
};

static void test_check_matrix(void **state)
{
	static const uint32_t streams[] = { 0, 1, 2, 0x7fffffffu, 0xffffffffu };
	static const int sides[] = { SK_FRAME_CLIENT, SK_FRAME_SERVER };

	(void)state;
	assert_int_equal(N(spec), 11);
	for (size_t t = 0; t < N(spec); t++) {
		assert_int_equal(spec[t].type, t + 1);
		for (size_t s = 0; s < N(sides); s++) {
			for (size_t i = 0; i < N(streams); i++) {
				struct sk_frame f = { spec[t].type, 0,
						      spec[t].len, streams[i],
						      NULL };
				int may = sides[s] == SK_FRAME_CLIENT
						  ? spec[t].client
						  : spec[t].server;
				int on = streams[i] == 0 ? spec[t].zero
							 : spec[t].nonzero;
				int want = 0;

				if (spec[t].type == SK_FRAME_ERROR &&
				    sides[s] == SK_FRAME_CLIENT)
					on = streams[i] == 0;
				if (!may)
					want = SK_FRAME_E_SIDE;
				else if (!on)
					want = SK_FRAME_E_STREAM;
				assert_int_equal(sk_frame_check(&f, sides[s]),
						 want);
			}
		}
	}
}

static void test_check_flags(void **state)
{
	(void)state;
	for (size_t t = 0; t < N(spec); t++) {
		int from = spec[t].client ? SK_FRAME_CLIENT : SK_FRAME_SERVER;

		for (unsigned bit = 0; bit < 8; bit++) {
			struct sk_frame f = { spec[t].type, 1u << bit,
					      spec[t].len,
					      spec[t].zero ? 0 : 1, NULL };

			assert_int_equal(sk_frame_check(&f, from),
					 (spec[t].flags & (1u << bit))
						 ? 0
						 : SK_FRAME_E_FLAGS);
		}
		{
			struct sk_frame f = { spec[t].type, 0xff, spec[t].len,
					      spec[t].zero ? 0 : 1, NULL };

			assert_int_equal(sk_frame_check(&f, from),
					 SK_FRAME_E_FLAGS);
		}
	}
}

/* Unknown types parse (the caller decides) and are refused by check. */
static void test_check_unknown_types(void **state)
{
	uint8_t b[10] = { 0, 0, 0, 2, 0, 0, 0, 1, 'a', 'b' };
	struct sk_frame f;

	(void)state;
	for (unsigned t = 0; t < 256; t++) {
		int known = t >= 1 && t <= 11;

		b[0] = (uint8_t)t;
		frame_at_guard(b, sizeof(b), &f);
		assert_int_equal(f.type, t);
		if (!known) {
			assert_int_equal(sk_frame_check(&f, SK_FRAME_CLIENT),
					 SK_FRAME_E_TYPE);
			assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER),
					 SK_FRAME_E_TYPE);
		}
	}
	/* Neither side: refused whatever the type. */
	b[0] = SK_FRAME_HELLO;
	b[7] = 0;
	frame_at_guard(b, sizeof(b), &f);
	assert_int_equal(sk_frame_check(&f, 0), SK_FRAME_E_SIDE);
	assert_int_equal(sk_frame_check(&f, 3), SK_FRAME_E_SIDE);
	assert_int_equal(sk_frame_check(&f, SK_FRAME_CLIENT), 0);
}

static void test_check_lengths(void **state)
{
	struct sk_frame f = { SK_FRAME_EXEC_OK, 0, 1, 1, NULL };

	(void)state;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER),
			 SK_FRAME_E_LENGTH);
	f.len = 0;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER), 0);

	f.type = SK_FRAME_STDIN;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_CLIENT),
			 SK_FRAME_E_LENGTH);
	f.flags = SK_FRAME_F_END;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_CLIENT), 0);
	f.len = SK_FRAME_MAX_PAYLOAD;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_CLIENT), 0);

	f.flags = 0;
	f.len = 0;
	f.type = SK_FRAME_STDOUT;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER),
			 SK_FRAME_E_LENGTH);
	f.type = SK_FRAME_STDERR;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER),
			 SK_FRAME_E_LENGTH);
	f.len = 1;
	assert_int_equal(sk_frame_check(&f, SK_FRAME_SERVER), 0);
}

/* A decoder refuses a frame of another type, whatever its payload. */
static void test_decoders_check_type(void **state)
{
	struct sk_frame f;
	struct sk_frame_error e;
	struct sk_frame_exit x;
	struct sk_frame_str s;
	unsigned u;
	uint32_t w;

	(void)state;
	frame_at_guard(kat_stdout, sizeof(kat_stdout), &f);
	assert_int_equal(sk_frame_hello_decode(&f, &u), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_exec_decode(&f, &ex), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_error_decode(&f, &e), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_exit_decode(&f, &x), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_signal_decode(&f, &s), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_window_decode(&f, &w), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_reset_decode(&f, &u), SK_FRAME_E_TYPE);
	frame_at_guard(kat_hello, sizeof(kat_hello), &f);
	assert_int_equal(sk_frame_exec_decode(&f, &ex), SK_FRAME_E_TYPE);
	assert_int_equal(sk_frame_hello_decode(&f, &u), 0);
}

/* ---- HELLO --------------------------------------------------------- */

static void test_hello(void **state)
{
	unsigned v = 0;

	(void)state;
	ENCODES(sk_frame_hello_encode(o_, sizeof(kat_hello), SK_FRAME_VERSION),
		sk_frame_hello_encode(o_, sizeof(kat_hello) - 1,
				      SK_FRAME_VERSION),
		kat_hello);
	assert_int_equal(dec_hello(kat_hello, sizeof(kat_hello), &v), 0);
	assert_int_equal(v, 1);
	/* The first byte of a connection is not printable, nor is the
	 * magic's: a typed command line cannot look like a HELLO. */
	assert_int_equal(kat_hello[0], 0x01);
	assert_int_equal(kat_hello[8], 0x89);
	/* Every prefix of a HELLO looks like one, of any length field. */
	for (size_t n = 0; n <= sizeof(kat_hello); n++)
		assert_true(sk_frame_hello_prefix(place(kat_hello, n), n));
	{
		uint8_t b[sizeof(kat_hello)];

		memcpy(b, kat_hello, sizeof(b));
		b[2] = 0xff;
		b[3] = 0xff;
		b[13] = 0x07;
		assert_true(sk_frame_hello_prefix(place(b, sizeof(b)),
						  sizeof(b)));
		/* Any other byte in the type, flags, stream or magic. */
		for (size_t i = 0; i < 12; i++) {
			if (i == 2 || i == 3)
				continue;
			memcpy(b, kat_hello, sizeof(b));
			b[i] ^= 0x40;
			for (size_t n = i + 1; n <= sizeof(b); n++)
				assert_false(sk_frame_hello_prefix(
					place(b, n), n));
			assert_true(sk_frame_hello_prefix(place(b, i), i));
		}
	}
	/* Other frames, from their first byte. */
	for (size_t k = 1; k < N(kats); k++)
		assert_false(sk_frame_hello_prefix(place(kats[k].b, 1), 1));
}

static void test_hello_malformed(void **state)
{
	struct bld x;
	unsigned v;
	size_t n;

	(void)state;
	/* Each magic byte wrong. */
	for (size_t i = 0; i < 4; i++) {
		uint8_t b[sizeof(kat_hello)];

		memcpy(b, kat_hello, sizeof(b));
		b[8 + i] ^= 0x20;
		assert_int_equal(dec_hello(b, sizeof(b), &v), SK_FRAME_E_MAGIC);
	}
	/* A command line typed at the raw client announces 0x202d bytes
	 * ("ls -"), under the limit, so the parser waits for them: it is
	 * the first byte that tells it is not a HELLO. */
	{
		static const char line[] = "ls -la\nuname -a\n";
		struct sk_frame f;
		const uint8_t *g = place(line, sizeof(line) - 1);

		assert_int_equal(sk_frame_parse(g, sizeof(line) - 1, &f), 0);
		for (size_t k = 1; k < sizeof(line); k++)
			assert_false(sk_frame_hello_prefix(g, k));
	}
	/* Truncated: 0 to 5 payload bytes. */
	for (size_t len = 0; len < SK_FRAME_HELLO_LEN; len++) {
		b_init(&x);
		b_raw(&x, kat_hello + 8, len);
		n = b_done(&x, SK_FRAME_HELLO, 0, 0);
		assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_SHORT);
	}
	/* A byte too many. */
	b_init(&x);
	b_raw(&x, kat_hello + 8, 6);
	b_u8(&x, 0);
	n = b_done(&x, SK_FRAME_HELLO, 0, 0);
	assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_TRAILING);
	/* Other versions, shorter or longer layouts: VERSION, and said. */
	for (unsigned ver = 0; ver < 4; ver++) {
		if (ver == SK_FRAME_VERSION)
			continue;
		b_init(&x);
		b_raw(&x, SK_FRAME_MAGIC, 4);
		b_u16(&x, ver);
		b_u32(&x, 0xdeadbeef);
		n = b_done(&x, SK_FRAME_HELLO, 0, 0);
		v = 99;
		assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_VERSION);
		assert_int_equal(v, ver);
		n -= 4;
		x.b[3] -= 4;
		assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_VERSION);
	}
	b_init(&x);
	b_raw(&x, SK_FRAME_MAGIC, 4);
	b_u16(&x, 0xffff);
	n = b_done(&x, SK_FRAME_HELLO, 0, 0);
	assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_VERSION);
	assert_int_equal(v, 0xffff);
	/* Stream and flags. */
	b_init(&x);
	b_raw(&x, kat_hello + 8, 6);
	n = b_done(&x, SK_FRAME_HELLO, 0, 1);
	assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_STREAM);
	n = b_done(&x, SK_FRAME_HELLO, 0x80, 0);
	assert_int_equal(dec_hello(x.b, n, &v), SK_FRAME_E_FLAGS);

	/* The encoder writes any 16-bit version, and nothing above. */
	{
		uint8_t *o = outbuf(14);

		assert_int_equal(sk_frame_hello_encode(o, 14, 2), 14);
		assert_memory_equal(o + 8, "\x89SKX\x00\x02", 6);
		assert_int_equal(dec_hello(o, 14, &v), SK_FRAME_E_VERSION);
		o = outbuf(14);
		assert_int_equal(sk_frame_hello_encode(o, 14, 0x10000),
				 SK_FRAME_E_VALUE);
	}
}

/* ---- EXEC ---------------------------------------------------------- */

static void test_exec(void **state)
{
	(void)state;
	assert_int_equal(dec_exec(kat_exec, sizeof(kat_exec)), 0);
	assert_int_equal(ex.timeout_ms, 5000);
	assert_int_equal(ex.shell, 0);
	assert_int_equal(ex.argc, 3);
	assert_str(ex.argv[0], "ls");
	assert_str(ex.argv[1], "-l");
	assert_str(ex.argv[2], "/tmp");
	assert_int_equal(ex.envc, 1);
	assert_str(ex.env[0], "LANG=C");
	assert_str(ex.cwd, "/srv");
	/* Views point into the payload. */
	assert_true((const uint8_t *)ex.argv[0].p > (const uint8_t *)ex.cwd.p);
	/* Decoded, then encoded: the same bytes. */
	ENCODES(sk_frame_exec_encode(o_, sizeof(kat_exec), 1, &ex),
		sk_frame_exec_encode(o_, sizeof(kat_exec) - 1, 1, &ex),
		kat_exec);
}

static void test_exec_encode(void **state)
{
	static struct sk_frame_exec e;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.timeout_ms = 5000;
	e.argc = 3;
	e.argv[0] = S("ls");
	e.argv[1] = S("-l");
	e.argv[2] = S("/tmp");
	e.envc = 1;
	e.env[0] = S("LANG=C");
	e.cwd = S("/srv");
	ENCODES(sk_frame_exec_encode(o_, sizeof(kat_exec), 1, &e),
		sk_frame_exec_encode(o_, sizeof(kat_exec) - 1, 1, &e),
		kat_exec);

	memset(&e, 0, sizeof(e));
	e.shell = 1;
	e.argc = 1;
	e.argv[0] = S("echo hi | wc -c");
	ENCODES(sk_frame_exec_encode(o_, sizeof(kat_shell), 3, &e),
		sk_frame_exec_encode(o_, sizeof(kat_shell) - 1, 3, &e),
		kat_shell);
	assert_int_equal(dec_exec(kat_shell, sizeof(kat_shell)), 0);
	assert_int_equal(ex.shell, 1);
	assert_int_equal(ex.timeout_ms, 0);
	assert_int_equal(ex.argc, 1);
	assert_str(ex.argv[0], "echo hi | wc -c");
	assert_int_equal(ex.envc, 0);
	assert_int_equal(ex.cwd.len, 0);

	/* Encoder refusals, each as the decoder would refuse. */
	{
		uint8_t *o = outbuf(64);

		assert_int_equal(sk_frame_exec_encode(o, 64, 0, &e),
				 SK_FRAME_E_STREAM);
		e.shell = 2;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_VALUE);
		e.shell = 1;
		e.argc = 2;
		e.argv[1] = S("x");
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_COUNT);
		e.shell = 0;
		e.argc = 0;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_COUNT);
		e.argc = 1;
		e.argv[0] = S("");
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_STRING);
		e.argv[0].p = "a\0b";
		e.argv[0].len = 3;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_STRING);
		e.argv[0] = S("true");
		e.cwd = S("tmp");
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_STRING);
		e.cwd = S("/");
		e.envc = 1;
		e.env[0] = S("NOEQUALS");
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_STRING);
		e.env[0] = S("A=");
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e), 8 + 8 + 3 +
				 6 + 4);
		/* A string longer than any payload, without reading it. */
		e.env[0].len = (size_t)1 << 40;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_TOOBIG);
		e.envc = SK_EXEC_MAX_ENV + 1;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_COUNT);
		e.envc = 0;
		e.argc = SK_EXEC_MAX_ARGS + 1;
		assert_int_equal(sk_frame_exec_encode(o, 64, 1, &e),
				 SK_FRAME_E_COUNT);
	}
}

/* A shell line that fills the payload exactly, then one byte more. */
static void test_exec_payload_limit(void **state)
{
	static char line[SK_FRAME_MAX_PAYLOAD];
	static uint8_t copy[SK_FRAME_MAX];
	static struct sk_frame_exec e;
	/* timeout, counts, empty cwd, the line's length */
	size_t room = SK_FRAME_MAX_PAYLOAD - SK_FRAME_EXEC_FIXED - 2 - 2;
	uint8_t *o;

	(void)state;
	memset(line, 'z', sizeof(line));
	memset(&e, 0, sizeof(e));
	e.shell = 1;
	e.argc = 1;
	e.argv[0].p = line;
	e.argv[0].len = room;
	o = outbuf(SK_FRAME_MAX);
	assert_int_equal(sk_frame_exec_encode(o, SK_FRAME_MAX, 1, &e),
			 SK_FRAME_MAX);
	memcpy(copy, o, SK_FRAME_MAX);
	assert_int_equal(dec_exec(copy, SK_FRAME_MAX), 0);
	assert_int_equal(ex.argv[0].len, room);
	e.argv[0].len = room + 1;
	o = outbuf(SK_FRAME_MAX);
	assert_int_equal(sk_frame_exec_encode(o, SK_FRAME_MAX, 1, &e),
			 SK_FRAME_E_TOOBIG);
}

/* Each prefix of the payload, as a frame of its own, and one byte more. */
static void test_exec_truncated(void **state)
{
	struct bld x;
	size_t n;

	(void)state;
	for (size_t len = 0; len < sizeof(kat_exec) - 8; len++) {
		b_init(&x);
		b_raw(&x, kat_exec + 8, len);
		n = b_done(&x, SK_FRAME_EXEC, 0, 1);
		assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	}
	for (size_t len = 0; len < sizeof(kat_shell) - 8; len++) {
		b_init(&x);
		b_raw(&x, kat_shell + 8, len);
		n = b_done(&x, SK_FRAME_EXEC, SK_FRAME_F_SHELL, 3);
		assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	}
	b_init(&x);
	b_raw(&x, kat_exec + 8, sizeof(kat_exec) - 8);
	b_u8(&x, 0);
	n = b_done(&x, SK_FRAME_EXEC, 0, 1);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_TRAILING);
	/* An extra empty string is trailing too: the counts say where the
	 * payload ends. */
	x.n--;
	b_u16(&x, 0);
	n = b_done(&x, SK_FRAME_EXEC, 0, 1);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_TRAILING);
}

/* A command: timeout 0, argc args of one byte, envc pairs, cwd "/". */
static size_t exec_frame(struct bld *x, unsigned argc, unsigned envc,
			 unsigned flags)
{
	b_init(x);
	b_u32(x, 0);
	b_u16(x, argc);
	b_u16(x, envc);
	b_cstr(x, "/");
	for (unsigned i = 0; i < argc; i++)
		b_cstr(x, "a");
	for (unsigned i = 0; i < envc; i++)
		b_cstr(x, "K=");
	return b_done(x, SK_FRAME_EXEC, flags, 1);
}

static void test_exec_counts(void **state)
{
	static struct bld x;
	size_t n;

	(void)state;
	/* Exactly the maxima, then one more of each. */
	n = exec_frame(&x, SK_EXEC_MAX_ARGS, SK_EXEC_MAX_ENV, 0);
	assert_int_equal(dec_exec(x.b, n), 0);
	assert_int_equal(ex.argc, SK_EXEC_MAX_ARGS);
	assert_int_equal(ex.envc, SK_EXEC_MAX_ENV);
	assert_str(ex.argv[SK_EXEC_MAX_ARGS - 1], "a");
	assert_str(ex.env[SK_EXEC_MAX_ENV - 1], "K=");
	{
		uint8_t *o = outbuf(n);

		assert_int_equal(sk_frame_exec_encode(o, n, 1, &ex), (int)n);
		assert_memory_equal(o, x.b, n);
	}
	n = exec_frame(&x, SK_EXEC_MAX_ARGS + 1, 0, 0);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	n = exec_frame(&x, 1, SK_EXEC_MAX_ENV + 1, 0);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	/* Counts are checked before the payload is walked. */
	n = exec_frame(&x, 1, 0, 0);
	memset(x.b + 8 + 4, 0xff, 4);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	/* No program. */
	n = exec_frame(&x, 0, 0, 0);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	/* SHELL takes exactly one string. */
	n = exec_frame(&x, 2, 0, SK_FRAME_F_SHELL);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	n = exec_frame(&x, 0, 0, SK_FRAME_F_SHELL);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_COUNT);
	n = exec_frame(&x, 1, 2, SK_FRAME_F_SHELL);
	assert_int_equal(dec_exec(x.b, n), 0);
	assert_int_equal(ex.shell, 1);

	/* Counts the payload cannot hold: one more than the strings, a lot
	 * more, and in the environment. */
	n = exec_frame(&x, 3, 1, 0);
	x.b[8 + 5] = 4;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	x.b[8 + 5] = 3;
	x.b[8 + 7] = 2;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	x.b[8 + 5] = 200;
	x.b[8 + 7] = 0;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	/* Fewer than the strings: the rest is trailing. */
	x.b[8 + 5] = 2;
	x.b[8 + 7] = 1;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_TRAILING);
	/* A string length past the end. */
	n = exec_frame(&x, 1, 0, 0);
	x.b[n - 2] = 2;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	x.b[n - 3] = 0xff;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
	/* The cwd's length past the end. */
	n = exec_frame(&x, 1, 0, 0);
	x.b[8 + 9] = 0x40;
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_SHORT);
}

/* One EXEC with the given strings: argc of argv, one env pair, cwd. */
static int exec_with(const char *const *argv, size_t argc, const char *env,
		     size_t envlen, const char *cwd, size_t cwdlen)
{
	struct bld x;
	size_t n;

	b_init(&x);
	b_u32(&x, 1000);
	b_u16(&x, (unsigned)argc);
	b_u16(&x, env != NULL);
	b_str(&x, cwd, cwdlen);
	for (size_t i = 0; i < argc; i++)
		b_cstr(&x, argv[i]);
	if (env != NULL)
		b_str(&x, env, envlen);
	n = b_done(&x, SK_FRAME_EXEC, 0, 1);
	return dec_exec(x.b, n);
}

static void test_exec_strings(void **state)
{
	static const char *const ok[] = { "printf", "", "%s\n", "" };
	static const char *const empty0[] = { "", "x" };
	static const char *const one[] = { "env" };
	struct bld x;
	size_t n;

	(void)state;
	/* Only argv[0] must not be empty. */
	assert_int_equal(exec_with(ok, 4, "A=", 2, "/", 1), 0);
	assert_str(ex.argv[1], "");
	assert_str(ex.argv[2], "%s\n");
	assert_int_equal(exec_with(empty0, 2, NULL, 0, "", 0),
			 SK_FRAME_E_STRING);
	/* Environment pairs. */
	assert_int_equal(exec_with(one, 1, "A=B=C", 5, "", 0), 0);
	assert_str(ex.env[0], "A=B=C");
	assert_int_equal(exec_with(one, 1, "A==", 3, "", 0), 0);
	assert_int_equal(exec_with(one, 1, "=C", 2, "", 0), SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, "=", 1, "", 0), SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, "LANG", 4, "", 0),
			 SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, "", 0, "", 0), SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, "A=b\0c", 5, "", 0),
			 SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, "A\0=c", 4, "", 0),
			 SK_FRAME_E_STRING);
	/* cwd: empty or absolute, no NUL. */
	assert_int_equal(exec_with(one, 1, NULL, 0, "/tmp", 4), 0);
	assert_int_equal(exec_with(one, 1, NULL, 0, "tmp", 3),
			 SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, NULL, 0, "./", 2),
			 SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, NULL, 0, "/t\0p", 4),
			 SK_FRAME_E_STRING);
	assert_int_equal(exec_with(one, 1, NULL, 0, "/tmp\0", 5),
			 SK_FRAME_E_STRING);
	/* NUL in an argument, at each place. */
	for (size_t at = 0; at < 3; at++) {
		char arg[3] = { 'a', 'b', 'c' };

		arg[at] = '\0';
		b_init(&x);
		b_u32(&x, 0);
		b_u16(&x, 2);
		b_u16(&x, 0);
		b_str(&x, "", 0);
		b_cstr(&x, "echo");
		b_str(&x, arg, 3);
		n = b_done(&x, SK_FRAME_EXEC, 0, 1);
		assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_STRING);
	}
	/* An argument that is one NUL byte, first or later. */
	for (size_t at = 0; at < 2; at++) {
		b_init(&x);
		b_u32(&x, 0);
		b_u16(&x, 2);
		b_u16(&x, 0);
		b_str(&x, "", 0);
		b_str(&x, at == 0 ? "\0" : "echo", at == 0 ? 1 : 4);
		b_str(&x, at == 1 ? "\0" : "x", 1);
		n = b_done(&x, SK_FRAME_EXEC, 0, 1);
		assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_STRING);
	}
	/* The shell line must not be empty. */
	b_init(&x);
	b_u32(&x, 0);
	b_u16(&x, 1);
	b_u16(&x, 0);
	b_str(&x, "", 0);
	b_str(&x, "", 0);
	n = b_done(&x, SK_FRAME_EXEC, SK_FRAME_F_SHELL, 1);
	assert_int_equal(dec_exec(x.b, n), SK_FRAME_E_STRING);
	/* Stream 0 and unknown flags. */
	memcpy(x.b, kat_exec, sizeof(kat_exec));
	x.b[7] = 0;
	assert_int_equal(dec_exec(x.b, sizeof(kat_exec)), SK_FRAME_E_STREAM);
	x.b[7] = 1;
	x.b[1] = 0x02;
	assert_int_equal(dec_exec(x.b, sizeof(kat_exec)), SK_FRAME_E_FLAGS);
}

/* ---- ERROR --------------------------------------------------------- */

static void test_error(void **state)
{
	static const char text[] = "no such program: lz";
	static const char vtext[] = "v1 onl\xc3\xa9";
	struct sk_frame_error e;

	(void)state;
	ENCODES(sk_frame_error_encode(o_, sizeof(kat_error), 1,
				      SK_FRAME_CODE_NOT_FOUND, text,
				      strlen(text)),
		sk_frame_error_encode(o_, sizeof(kat_error) - 1, 1,
				      SK_FRAME_CODE_NOT_FOUND, text,
				      strlen(text)),
		kat_error);
	assert_int_equal(dec_error(kat_error, sizeof(kat_error), &e), 0);
	assert_int_equal(e.code, SK_FRAME_CODE_NOT_FOUND);
	assert_str(e.text, text);

	ENCODES(sk_frame_error_encode(o_, sizeof(kat_error_version), 0,
				      SK_FRAME_CODE_VERSION, vtext,
				      strlen(vtext)),
		sk_frame_error_encode(o_, sizeof(kat_error_version) - 1, 0,
				      SK_FRAME_CODE_VERSION, vtext,
				      strlen(vtext)),
		kat_error_version);
	assert_int_equal(dec_error(kat_error_version,
				   sizeof(kat_error_version), &e), 0);
	assert_int_equal(e.code, SK_FRAME_CODE_VERSION);
	assert_str(e.text, vtext);
	{
		/* Decoded, then encoded: the same bytes. */
		uint8_t *o = outbuf(sizeof(kat_error_version));

		assert_int_equal(sk_frame_error_encode(
					 o, sizeof(kat_error_version), 0,
					 e.code, e.text.p, e.text.len),
				 (int)sizeof(kat_error_version));
		assert_memory_equal(o, kat_error_version,
				    sizeof(kat_error_version));
	}
}

static void test_error_malformed(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{ "a\0b", 3 },          /* NUL */
		{ "\0", 1 },            /* NUL alone */
		{ "\xff", 1 },          /* never in UTF-8 */
		{ "ab\xc3", 3 },        /* truncated sequence */
		{ "\xc0\xaf", 2 },      /* overlong '/' */
		{ "\xed\xa0\x80", 3 },  /* a surrogate */
		{ "\xf4\x90\x80\x80", 4 }, /* above U+10FFFF */
		{ "\x80", 1 },          /* a lone continuation byte */
	};
	static const size_t lens[] = {
		0, 1, 2, SK_FRAME_MAX_TEXT - 1, SK_FRAME_MAX_TEXT,
		SK_FRAME_MAX_TEXT + 1,
	};
	static char text[SK_FRAME_MAX_TEXT + 1];
	struct sk_frame_error e;
	struct bld x;
	uint8_t *o;
	size_t n;

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		b_init(&x);
		b_u16(&x, SK_FRAME_CODE_INTERNAL);
		b_raw(&x, bad[i].s, bad[i].n);
		n = b_done(&x, SK_FRAME_ERROR, 0, 0);
		assert_int_equal(dec_error(x.b, n, &e), SK_FRAME_E_STRING);
		o = outbuf(64);
		assert_int_equal(sk_frame_error_encode(o, 64, 0, 1, bad[i].s,
						       bad[i].n),
				 SK_FRAME_E_STRING);
	}
	/* Text: empty is fine, SK_FRAME_MAX_TEXT too, one more is not. */
	memset(text, 'e', sizeof(text));
	for (size_t i = 0; i < N(lens); i++) {
		size_t len = lens[i];
		int want = len <= SK_FRAME_MAX_TEXT ? 0 : SK_FRAME_E_STRING;

		b_init(&x);
		b_u16(&x, SK_FRAME_CODE_POLICY);
		b_raw(&x, text, len);
		n = b_done(&x, SK_FRAME_ERROR, 0, 9);
		assert_int_equal(dec_error(x.b, n, &e), want);
		if (want == 0)
			assert_int_equal(e.text.len, len);
		o = outbuf(n);
		assert_int_equal(sk_frame_error_encode(o, n, 9,
						       SK_FRAME_CODE_POLICY,
						       text, len),
				 want == 0 ? (int)n : want);
	}
	/* Code 0; codes this version lacks are fine. */
	b_init(&x);
	b_u16(&x, 0);
	n = b_done(&x, SK_FRAME_ERROR, 0, 0);
	assert_int_equal(dec_error(x.b, n, &e), SK_FRAME_E_VALUE);
	x.b[9] = 0xff;
	x.b[8] = 0xff;
	assert_int_equal(dec_error(x.b, n, &e), 0);
	assert_int_equal(e.code, 0xffff);
	assert_int_equal(e.text.len, 0);
	o = outbuf(16);
	assert_int_equal(sk_frame_error_encode(o, 16, 0, 0, NULL, 0),
			 SK_FRAME_E_VALUE);
	assert_int_equal(sk_frame_error_encode(o, 16, 0, 0x10000, NULL, 0),
			 SK_FRAME_E_VALUE);
	/* Short: no room for the code. */
	for (size_t len = 0; len < 2; len++) {
		b_init(&x);
		b_raw(&x, "\x00\x01", len);
		n = b_done(&x, SK_FRAME_ERROR, 0, 0);
		assert_int_equal(dec_error(x.b, n, &e), SK_FRAME_E_SHORT);
	}
	/* Any stream decodes; flags do not. */
	b_init(&x);
	b_u16(&x, 1);
	n = b_done(&x, SK_FRAME_ERROR, 0, 0xffffffffu);
	assert_int_equal(dec_error(x.b, n, &e), 0);
	n = b_done(&x, SK_FRAME_ERROR, 1, 0);
	assert_int_equal(dec_error(x.b, n, &e), SK_FRAME_E_FLAGS);
}

/* ---- EXIT ---------------------------------------------------------- */

static void test_exit(void **state)
{
	struct sk_frame_exit x;

	(void)state;
	memset(&x, 0, sizeof(x));
	x.status = 3;
	ENCODES(sk_frame_exit_encode(o_, sizeof(kat_exit_status), 1, &x),
		sk_frame_exit_encode(o_, sizeof(kat_exit_status) - 1, 1, &x),
		kat_exit_status);
	memset(&x, 0x5a, sizeof(x));
	assert_int_equal(dec_exit(kat_exit_status, sizeof(kat_exit_status),
				  &x), 0);
	assert_int_equal(x.signaled, 0);
	assert_int_equal(x.status, 3);
	assert_int_equal(x.core, 0);
	assert_int_equal(x.signal.len, 0);

	memset(&x, 0, sizeof(x));
	x.signaled = 1;
	x.core = 1;
	x.signal = S("KILL");
	x.status = 77; /* not looked at */
	ENCODES(sk_frame_exit_encode(o_, sizeof(kat_exit_signal), 1, &x),
		sk_frame_exit_encode(o_, sizeof(kat_exit_signal) - 1, 1, &x),
		kat_exit_signal);
	memset(&x, 0x5a, sizeof(x));
	assert_int_equal(dec_exit(kat_exit_signal, sizeof(kat_exit_signal),
				  &x), 0);
	assert_int_equal(x.signaled, 1);
	assert_int_equal(x.status, 0);
	assert_int_equal(x.core, 1);
	assert_str(x.signal, "KILL");
	ENCODES(sk_frame_exit_encode(o_, sizeof(kat_exit_signal), 1, &x),
		sk_frame_exit_encode(o_, sizeof(kat_exit_signal) - 1, 1, &x),
		kat_exit_signal);

	/* Every status. */
	for (unsigned st = 0; st < 256; st++) {
		uint8_t b[10];

		memcpy(b, kat_exit_status, sizeof(b));
		b[9] = (uint8_t)st;
		assert_int_equal(dec_exit(b, sizeof(b), &x), 0);
		assert_int_equal(x.status, st);
	}
}

static void test_exit_malformed(void **state)
{
	static const char *const bad_names[] = {
		"", "kill", "SIGKILL!", "K-ILL", "K ILL", "KILL\n",
		"ABCDEFGHIJKLMNOPQ", /* 17 */
	};
	struct sk_frame_exit x;
	struct bld b;
	uint8_t *o;
	size_t n;

	(void)state;
	/* How other than 0 and 1. */
	for (unsigned how = 2; how < 256; how++) {
		b_init(&b);
		b_u8(&b, how);
		b_u8(&b, 0);
		b_raw(&b, "KILL", 4);
		n = b_done(&b, SK_FRAME_EXIT, 0, 1);
		assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_VALUE);
	}
	/* Exited, with a name after the status. */
	b_init(&b);
	b_u8(&b, 0);
	b_u8(&b, 1);
	b_u8(&b, 'X');
	n = b_done(&b, SK_FRAME_EXIT, 0, 1);
	assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_TRAILING);
	/* Killed, with detail bits other than CORE. */
	for (unsigned bit = 1; bit < 8; bit++) {
		b_init(&b);
		b_u8(&b, 1);
		b_u8(&b, 1u << bit);
		b_raw(&b, "TERM", 4);
		n = b_done(&b, SK_FRAME_EXIT, 0, 1);
		assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_VALUE);
	}
	/* Killed, with a bad name (or none). */
	for (size_t i = 0; i < N(bad_names); i++) {
		b_init(&b);
		b_u8(&b, 1);
		b_u8(&b, 0);
		b_raw(&b, bad_names[i], strlen(bad_names[i]));
		n = b_done(&b, SK_FRAME_EXIT, 0, 1);
		assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_STRING);
	}
	/* 16 characters is the longest name. */
	b_init(&b);
	b_u8(&b, 1);
	b_u8(&b, 0);
	b_raw(&b, "ABCDEFGHIJKLMNOP", 16);
	n = b_done(&b, SK_FRAME_EXIT, 0, 1);
	assert_int_equal(dec_exit(b.b, n, &x), 0);
	/* A NUL in the name. */
	b.b[n - 1] = '\0';
	assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_STRING);
	/* Short, stream 0, flags. */
	for (size_t len = 0; len < 2; len++) {
		b_init(&b);
		b_raw(&b, "\0\0", len);
		n = b_done(&b, SK_FRAME_EXIT, 0, 1);
		assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_SHORT);
	}
	b_init(&b);
	b_u16(&b, 0);
	n = b_done(&b, SK_FRAME_EXIT, 0, 0);
	assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_STREAM);
	n = b_done(&b, SK_FRAME_EXIT, 1, 1);
	assert_int_equal(dec_exit(b.b, n, &x), SK_FRAME_E_FLAGS);

	/* The encoder refuses the same. */
	o = outbuf(32);
	memset(&x, 0, sizeof(x));
	x.status = 256;
	assert_int_equal(sk_frame_exit_encode(o, 32, 1, &x), SK_FRAME_E_VALUE);
	x.status = 255;
	assert_int_equal(sk_frame_exit_encode(o, 32, 0, &x), SK_FRAME_E_STREAM);
	assert_int_equal(sk_frame_exit_encode(o, 32, 1, &x), 10);
	x.signaled = 2;
	assert_int_equal(sk_frame_exit_encode(o, 32, 1, &x), SK_FRAME_E_VALUE);
	x.signaled = 1;
	x.signal = S("TERM");
	x.core = 2;
	assert_int_equal(sk_frame_exit_encode(o, 32, 1, &x), SK_FRAME_E_VALUE);
	x.core = 0;
	for (size_t i = 0; i < N(bad_names); i++) {
		x.signal = S(bad_names[i]);
		assert_int_equal(sk_frame_exit_encode(o, 32, 1, &x),
				 SK_FRAME_E_STRING);
	}
}

/* ---- SIGNAL -------------------------------------------------------- */

static void test_signal(void **state)
{
	struct sk_frame_str s;
	struct bld b;
	uint8_t *o;
	size_t n;

	(void)state;
	ENCODES(sk_frame_signal_encode(o_, sizeof(kat_signal), 5, "INT", 3),
		sk_frame_signal_encode(o_, sizeof(kat_signal) - 1, 5, "INT", 3),
		kat_signal);
	assert_int_equal(dec_signal(kat_signal, sizeof(kat_signal), &s), 0);
	assert_str(s, "INT");

	b_init(&b);
	n = b_done(&b, SK_FRAME_SIGNAL, 0, 5);
	assert_int_equal(dec_signal(b.b, n, &s), SK_FRAME_E_STRING);
	b_raw(&b, "int", 3);
	n = b_done(&b, SK_FRAME_SIGNAL, 0, 5);
	assert_int_equal(dec_signal(b.b, n, &s), SK_FRAME_E_STRING);
	b_init(&b);
	b_raw(&b, "RTMIN+3", 7);
	n = b_done(&b, SK_FRAME_SIGNAL, 0, 5);
	assert_int_equal(dec_signal(b.b, n, &s), SK_FRAME_E_STRING);
	b_init(&b);
	b_raw(&b, "ABCDEFGHIJKLMNOP", 16);
	n = b_done(&b, SK_FRAME_SIGNAL, 0, 5);
	assert_int_equal(dec_signal(b.b, n, &s), 0);
	b_u8(&b, 'Q');
	n = b_done(&b, SK_FRAME_SIGNAL, 0, 5);
	assert_int_equal(dec_signal(b.b, n, &s), SK_FRAME_E_STRING);
	memcpy(b.b, kat_signal, sizeof(kat_signal));
	b.b[7] = 0;
	assert_int_equal(dec_signal(b.b, sizeof(kat_signal), &s),
			 SK_FRAME_E_STREAM);
	b.b[7] = 5;
	b.b[1] = 1;
	assert_int_equal(dec_signal(b.b, sizeof(kat_signal), &s),
			 SK_FRAME_E_FLAGS);

	o = outbuf(32);
	assert_int_equal(sk_frame_signal_encode(o, 32, 5, "", 0),
			 SK_FRAME_E_STRING);
	assert_int_equal(sk_frame_signal_encode(o, 32, 5, "SIG INT", 7),
			 SK_FRAME_E_STRING);
	assert_int_equal(sk_frame_signal_encode(o, 32, 0, "INT", 3),
			 SK_FRAME_E_STREAM);
}

/* ---- WINDOW_UPDATE and RESET --------------------------------------- */

static void test_window(void **state)
{
	static const uint32_t bad[] = { 0, 0x80000000u, 0xffffffffu };
	struct bld b;
	uint32_t inc, w;
	uint8_t *o;
	size_t n;

	(void)state;
	ENCODES(sk_frame_window_encode(o_, sizeof(kat_window), 1,
				       SK_EXEC_WINDOW),
		sk_frame_window_encode(o_, sizeof(kat_window) - 1, 1,
				       SK_EXEC_WINDOW),
		kat_window);
	assert_int_equal(dec_window(kat_window, sizeof(kat_window), &inc), 0);
	assert_int_equal(inc, 256 * 1024);

	b_init(&b);
	b_u32(&b, SK_EXEC_WINDOW_MAX);
	n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 1);
	assert_int_equal(dec_window(b.b, n, &inc), 0);
	assert_int_equal(inc, 0x7fffffffu);
	b_init(&b);
	b_u32(&b, 1);
	n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 1);
	assert_int_equal(dec_window(b.b, n, &inc), 0);
	assert_int_equal(inc, 1);
	for (size_t i = 0; i < N(bad); i++) {
		b_init(&b);
		b_u32(&b, bad[i]);
		n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 1);
		assert_int_equal(dec_window(b.b, n, &inc), SK_FRAME_E_VALUE);
		o = outbuf(12);
		assert_int_equal(sk_frame_window_encode(o, 12, 1, bad[i]),
				 SK_FRAME_E_VALUE);
	}
	for (size_t len = 0; len < 4; len++) {
		b_init(&b);
		b_raw(&b, "\0\0\0\1", len);
		n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 1);
		assert_int_equal(dec_window(b.b, n, &inc), SK_FRAME_E_SHORT);
	}
	b_init(&b);
	b_raw(&b, "\0\0\0\1\0", 5);
	n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 1);
	assert_int_equal(dec_window(b.b, n, &inc), SK_FRAME_E_TRAILING);
	b_init(&b);
	b_u32(&b, 1);
	n = b_done(&b, SK_FRAME_WINDOW_UPDATE, 0, 0);
	assert_int_equal(dec_window(b.b, n, &inc), SK_FRAME_E_STREAM);
	o = outbuf(12);
	assert_int_equal(sk_frame_window_encode(o, 12, 0, 1),
			 SK_FRAME_E_STREAM);

	/* The window never passes 2^31 - 1, and is kept when refused. */
	w = SK_EXEC_WINDOW;
	assert_int_equal(sk_frame_window_add(&w, SK_EXEC_WINDOW_MAX -
						     SK_EXEC_WINDOW),
			 0);
	assert_int_equal(w, SK_EXEC_WINDOW_MAX);
	assert_int_equal(sk_frame_window_add(&w, 1), SK_FRAME_E_FLOW);
	assert_int_equal(w, SK_EXEC_WINDOW_MAX);
	w = 0;
	assert_int_equal(sk_frame_window_add(&w, SK_EXEC_WINDOW_MAX), 0);
	w = 1;
	assert_int_equal(sk_frame_window_add(&w, SK_EXEC_WINDOW_MAX),
			 SK_FRAME_E_FLOW);
	assert_int_equal(sk_frame_window_add(&w, 0xffffffffu), SK_FRAME_E_FLOW);
	assert_int_equal(w, 1);
	w = 0x80000000u;
	assert_int_equal(sk_frame_window_add(&w, 0), SK_FRAME_E_FLOW);
}

static void test_reset(void **state)
{
	struct bld b;
	unsigned code;
	uint8_t *o;
	size_t n;

	(void)state;
	ENCODES(sk_frame_reset_encode(o_, sizeof(kat_reset), 7,
				      SK_FRAME_CODE_CANCEL),
		sk_frame_reset_encode(o_, sizeof(kat_reset) - 1, 7,
				      SK_FRAME_CODE_CANCEL),
		kat_reset);
	assert_int_equal(dec_reset(kat_reset, sizeof(kat_reset), &code), 0);
	assert_int_equal(code, SK_FRAME_CODE_CANCEL);

	b_init(&b);
	b_u16(&b, 0);
	n = b_done(&b, SK_FRAME_RESET, 0, 7);
	assert_int_equal(dec_reset(b.b, n, &code), SK_FRAME_E_VALUE);
	for (size_t len = 0; len < 2; len++) {
		b_init(&b);
		b_raw(&b, "\0\x0c", len);
		n = b_done(&b, SK_FRAME_RESET, 0, 7);
		assert_int_equal(dec_reset(b.b, n, &code), SK_FRAME_E_SHORT);
	}
	b_init(&b);
	b_raw(&b, "\0\x0c\0", 3);
	n = b_done(&b, SK_FRAME_RESET, 0, 7);
	assert_int_equal(dec_reset(b.b, n, &code), SK_FRAME_E_TRAILING);
	b_init(&b);
	b_u16(&b, 0xffff);
	n = b_done(&b, SK_FRAME_RESET, 0, 7);
	assert_int_equal(dec_reset(b.b, n, &code), 0);
	assert_int_equal(code, 0xffff);
	n = b_done(&b, SK_FRAME_RESET, 0, 0);
	assert_int_equal(dec_reset(b.b, n, &code), SK_FRAME_E_STREAM);
	n = b_done(&b, SK_FRAME_RESET, 4, 7);
	assert_int_equal(dec_reset(b.b, n, &code), SK_FRAME_E_FLAGS);
	o = outbuf(10);
	assert_int_equal(sk_frame_reset_encode(o, 10, 7, 0), SK_FRAME_E_VALUE);
	assert_int_equal(sk_frame_reset_encode(o, 10, 7, 0x10000),
			 SK_FRAME_E_VALUE);
	assert_int_equal(sk_frame_reset_encode(o, 10, 0, 1), SK_FRAME_E_STREAM);
}

/* ---- codes, texts, signal names ------------------------------------ */

static void test_codes(void **state)
{
	static const char *const names[] = {
		NULL, "BAD_FRAME", "UNKNOWN_TYPE", "BAD_STREAM", "VERSION",
		"FLOW", "TOO_MANY", "NOT_FOUND", "PERMISSION", "POLICY",
		"TIMEOUT", "TRUNCATED", "CANCEL", "SHUTDOWN", "INTERNAL",
	};

	(void)state;
	/* The numbers are the specification's. */
	for (unsigned c = 1; c < N(names); c++)
		assert_string_equal(sk_frame_code_name(c), names[c]);
	assert_int_equal(SK_FRAME_CODE_INTERNAL, 14);
	assert_string_equal(sk_frame_code_name(0), "INTERNAL");
	assert_string_equal(sk_frame_code_name(15), "INTERNAL");
	assert_string_equal(sk_frame_code_name(0xffff), "INTERNAL");

	assert_int_equal(sk_frame_code(SK_FRAME_E_TYPE),
			 SK_FRAME_CODE_UNKNOWN_TYPE);
	assert_int_equal(sk_frame_code(SK_FRAME_E_STREAM),
			 SK_FRAME_CODE_BAD_STREAM);
	assert_int_equal(sk_frame_code(SK_FRAME_E_VERSION),
			 SK_FRAME_CODE_VERSION);
	assert_int_equal(sk_frame_code(SK_FRAME_E_FLOW), SK_FRAME_CODE_FLOW);
	assert_int_equal(sk_frame_code(SK_FRAME_E_SPACE),
			 SK_FRAME_CODE_INTERNAL);
	for (int e = SK_FRAME_E_TOOBIG; e >= SK_FRAME_E_SPACE; e--) {
		const char *t = sk_frame_strerror(e);

		assert_non_null(t);
		assert_string_not_equal(t, "unknown frame error");
		for (int o = e - 1; o >= SK_FRAME_E_SPACE; o--)
			assert_string_not_equal(t, sk_frame_strerror(o));
		if (e != SK_FRAME_E_TYPE && e != SK_FRAME_E_STREAM &&
		    e != SK_FRAME_E_VERSION && e != SK_FRAME_E_FLOW &&
		    e != SK_FRAME_E_SPACE)
			assert_int_equal(sk_frame_code(e),
					 SK_FRAME_CODE_BAD_FRAME);
	}
	assert_string_equal(sk_frame_strerror(0), "unknown frame error");
	assert_string_equal(sk_frame_strerror(SK_FRAME_E_SPACE - 1),
			    "unknown frame error");
}

static void test_signal_names(void **state)
{
	static const char *const common[] = {
		"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE",
		"KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "CHLD",
		"CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
		"VTALRM", "PROF", "WINCH", "SYS",
	};
	static const char *const unknown[] = {
		"", "SIGKILL", "kill", "Kill", "KILL ", "FOO", "IOT", "POLL",
		"RTMIN", "0", "ABCDEFGHIJKLMNOPQ",
	};

	(void)state;
	for (size_t i = 0; i < N(common); i++) {
		int signo = sk_signal_number(common[i], strlen(common[i]));

		assert_true(signo > 0);
		assert_string_equal(sk_signal_name(signo), common[i]);
		assert_true(sk_frame_signame_ok(common[i], strlen(common[i])));
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(
				signo, sk_signal_number(common[j],
							strlen(common[j])));
	}
	assert_int_equal(sk_signal_number("KILL", 4), SIGKILL);
	assert_int_equal(sk_signal_number("TERM", 4), SIGTERM);
	assert_int_equal(sk_signal_number("INT", 3), SIGINT);
	assert_int_equal(sk_signal_number("WINCH", 5), SIGWINCH);
	/* A prefix of a name is not the name. */
	assert_int_equal(sk_signal_number("KILL", 3), -1);
	assert_int_equal(sk_signal_number("USR", 3), -1);
	for (size_t i = 0; i < N(unknown); i++)
		assert_int_equal(sk_signal_number(unknown[i],
						  strlen(unknown[i])),
				 -1);
	assert_int_equal(sk_signal_number(NULL, 0), -1);
	assert_null(sk_signal_name(0));
	assert_null(sk_signal_name(-1));
	assert_null(sk_signal_name(100000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_every_prefix),
		cmocka_unit_test(test_parse_back_to_back),
		cmocka_unit_test(test_parse_payload_limit),
		cmocka_unit_test(test_header_encode),
		cmocka_unit_test(test_data_encode),
		cmocka_unit_test(test_check_matrix),
		cmocka_unit_test(test_check_flags),
		cmocka_unit_test(test_check_unknown_types),
		cmocka_unit_test(test_check_lengths),
		cmocka_unit_test(test_decoders_check_type),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_malformed),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_exec_encode),
		cmocka_unit_test(test_exec_payload_limit),
		cmocka_unit_test(test_exec_truncated),
		cmocka_unit_test(test_exec_counts),
		cmocka_unit_test(test_exec_strings),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_error_malformed),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_exit_malformed),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_signal_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
