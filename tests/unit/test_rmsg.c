/*
 * test_rmsg.c: unit tests for src/proto/rmsg.c, the reliable message
 * layer of exec over UDP.
 *
 * The codec: known-answer datagrams of every type, written exactly and
 * read back field by field; every malformed form refused (every prefix,
 * one byte over the maximum, magic, type, reserved, flags, zero ids and
 * codes, lengths, ACK ranges below 0 or too many, REQUESTs without
 * exactly one EXEC frame on stream 1, offsets past the maximum); ACK
 * ranges too wide for the wire cut, never wrong.
 *
 * The state machines, over a simulated link with a virtual clock and a
 * deterministic PRNG (loss, duplication, reordering, a bottleneck and a
 * delay): 1 MB of output, byte-identical at 0, 10 and 30% loss, within
 * bounds on datagrams and virtual time, the stream read back through
 * the exec client (exec_client.c) as a TCP stream would be, on a 10 ms
 * path and on a loopback-like one whose timers fire on whole
 * milliseconds (10% loss within twice the lossless time); output that
 * trickles in, interleaved with stderr; exactly once under 30% loss with
 * the client retrying every millisecond and the link duplicating;
 * repeats answered IN_PROGRESS; the replay window (EXPIRED, REPLAY,
 * TOO_MANY that does not burn the id); duplicate ACKs that resend
 * nothing (the Sorcerer's Apprentice); the retransmission timer's
 * backoff, cap and stop, and the restart when the client is heard; the
 * client's attempts and "no reply"; truncation at the cap and when
 * memory runs out; the cache's TTL; CANCEL; the client's reassembly
 * (holes, repeats, past the window, lying FINs).
 *
 * Every datagram either side takes sits right before a guard page, and
 * garbage leaves both sides' state as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "exec_client.h"
#include "frame.h"
#include "guard.h"
#include "rmsg.h"
#include "sk_limits.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MS 1000ull
#define SEC 1000000ull

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- a deterministic PRNG (splitmix64) ------------------------------ */

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

/* ---- memory for the server, counted -------------------------------- */

static size_t mem_used;   /* bytes handed out now */
static size_t mem_budget; /* past it, growth fails */

static void *t_realloc(void *ctx, void *p, size_t n)
{
	size_t old = 0;
	size_t *h = p == NULL ? NULL : (size_t *)p - 2;

	(void)ctx;
	if (h != NULL)
		old = h[0];
	if (n == 0) {
		mem_used -= old;
		free(h);
		return NULL;
	}
	if (mem_used - old + n > mem_budget)
		return NULL;
	h = realloc(h, n + 2 * sizeof(size_t));
	assert_non_null(h);
	mem_used = mem_used - old + n;
	h[0] = n;
	return h + 2;
}

static struct sk_rmsg_srv_cfg srv_cfg(size_t cap)
{
	struct sk_rmsg_srv_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.output_cap = cap;
	cfg.mem.realloc = t_realloc;
	return cfg;
}

/* ---- building datagrams --------------------------------------------- */

/* An EXEC frame for `true`, on stream 1. */
static size_t exec_frame(uint8_t *out, size_t cap)
{
	struct sk_frame_exec *e = calloc(1, sizeof(*e));
	int n;

	assert_non_null(e);
	e->argc = 1;
	e->argv[0].p = "true";
	e->argv[0].len = 4;
	n = sk_frame_exec_encode(out, cap, SK_RMSG_STREAM, e);
	free(e);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t enc(uint8_t *out, const struct sk_rmsg_dgram *d)
{
	int n = sk_rmsg_encode(out, SK_RMSG_MAX_DGRAM, d);

	assert_true(n > 0);
	return (size_t)n;
}

static size_t mk_request(uint8_t *out, uint32_t pn, uint64_t id)
{
	uint8_t f[64];
	struct sk_rmsg_dgram d = { .type = SK_RMSG_REQUEST, .pn = pn,
				   .id = id };

	d.len = exec_frame(f, sizeof(f));
	d.data = f;
	return enc(out, &d);
}

static size_t mk_id(uint8_t *out, unsigned type, uint32_t pn, uint64_t id)
{
	struct sk_rmsg_dgram d = { .type = type, .pn = pn, .id = id };

	return enc(out, &d);
}

/* An ACK of the ranges given as lo, hi pairs, newest first. */
static size_t mk_ack(uint8_t *out, uint32_t pn, size_t n, const uint32_t *lohi)
{
	struct sk_rmsg_dgram d = { .type = SK_RMSG_ACK, .pn = pn };

	d.nranges = n;
	for (size_t i = 0; i < n; i++) {
		d.ranges[i].lo = lohi[2 * i];
		d.ranges[i].hi = lohi[2 * i + 1];
	}
	return enc(out, &d);
}

static size_t mk_data(uint8_t *out, uint32_t pn, uint64_t id, uint32_t off,
		      const void *p, size_t n, unsigned flags)
{
	struct sk_rmsg_dgram d = { .type = SK_RMSG_DATA, .pn = pn, .id = id,
				   .offset = off, .data = p, .len = n,
				   .flags = flags };

	return enc(out, &d);
}

/* Decode a copy placed right before the guard page. */
static int dec(const uint8_t *b, size_t n, struct sk_rmsg_dgram *d)
{
	return sk_rmsg_decode(sk_guard_place(b, n), n, d);
}

static int srv_in(struct sk_rmsg_srv *s, uint64_t now, const uint8_t *b,
		  size_t n, struct sk_rmsg_srv_event *ev)
{
	return sk_rmsg_srv_input(s, now, sk_guard_place(b, n), n, ev);
}

static int cli_in(struct sk_rmsg_client *c, uint64_t now, const uint8_t *b,
		  size_t n, enum sk_rmsg_client_ev *ev)
{
	return sk_rmsg_client_input(c, now, sk_guard_place(b, n), n, ev);
}

/* ---- the codec ------------------------------------------------------ */

static void test_known_answers(void **st)
{
	static const uint8_t req_hdr[] = {
		0xa1, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	static const uint8_t data[] = {
		0xa1, 0x02, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
		0x00, 0x00, 0x04, 0x00, 'h', 'i',
	};
	static const uint8_t ack[] = {
		0xa1, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
		0x00, 0x00, 0x00, 0x64, 0x01, 0xf4, 0x00, 0x02,
		0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t inprog[] = {
		0xa1, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
	};
	static const uint8_t err[] = {
		0xa1, 0x05, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe,
		0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02,
	};
	static const uint8_t cancel[] = {
		0xa1, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t buf[SK_RMSG_MAX_DGRAM], f[64];
	struct sk_rmsg_dgram d;
	size_t fl = exec_frame(f, sizeof(f)), n;

	(void)st;
	/* REQUEST: the id, then the frame as frame.c wrote it. */
	n = mk_request(buf, 7, 0x0102030405060708ull);
	assert_int_equal(n, sizeof(req_hdr) + fl);
	assert_memory_equal(buf, req_hdr, sizeof(req_hdr));
	assert_memory_equal(buf + sizeof(req_hdr), f, fl);
	assert_int_equal(dec(buf, n, &d), 0);
	assert_int_equal(d.type, SK_RMSG_REQUEST);
	assert_int_equal(d.pn, 7);
	assert_true(d.id == 0x0102030405060708ull);
	assert_int_equal(d.len, fl);
	assert_memory_equal(d.data, f, fl);

	/* DATA with FIN and TRUNCATED. */
	n = mk_data(buf, 256, 42, 1024, "hi", 2,
		    SK_RMSG_F_FIN | SK_RMSG_F_TRUNCATED);
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(buf, data, n);
	assert_int_equal(dec(data, sizeof(data), &d), 0);
	assert_int_equal(d.flags, SK_RMSG_F_FIN | SK_RMSG_F_TRUNCATED);
	assert_int_equal(d.pn, 256);
	assert_true(d.id == 42);
	assert_int_equal(d.offset, 1024);
	assert_int_equal(d.len, 2);
	assert_memory_equal(d.data, "hi", 2);

	/* ACK of 98-100, 95 and 91: Gap is the numbers missing less 1
	 * (96-97: 1; 92-94: 2), Range Length the numbers less 1. */
	{
		uint32_t r[] = { 98, 100, 95, 95, 91, 91 };
		static const uint8_t want[] = {
			0xa1, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
			0x00, 0x00, 0x00, 0x64, 0x01, 0xf4, 0x00, 0x02,
			0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
		};
		struct sk_rmsg_dgram a = { .type = SK_RMSG_ACK, .pn = 5,
					   .ack_delay = 500, .nranges = 3 };

		for (size_t i = 0; i < 3; i++) {
			a.ranges[i].lo = r[2 * i];
			a.ranges[i].hi = r[2 * i + 1];
		}
		n = enc(buf, &a);
		assert_int_equal(n, sizeof(want));
		assert_memory_equal(buf, want, n);
	}
	assert_int_equal(dec(ack, sizeof(ack), &d), 0);
	assert_int_equal(d.ranges[0].hi, 100);
	assert_int_equal(d.ranges[0].lo, 98);
	assert_int_equal(d.ack_delay, 500);
	assert_int_equal(d.nranges, 3);
	/* Gap 1: 96 and 97 missing; Length 3: 92-95. */
	assert_int_equal(d.ranges[1].hi, 95);
	assert_int_equal(d.ranges[1].lo, 92);
	/* Gap 0: 91 missing; Length 0: 90 alone. */
	assert_int_equal(d.ranges[2].hi, 90);
	assert_int_equal(d.ranges[2].lo, 90);
	assert_int_equal(enc(buf, &d), sizeof(ack));
	assert_memory_equal(buf, ack, sizeof(ack));

	assert_int_equal(dec(inprog, sizeof(inprog), &d), 0);
	assert_int_equal(d.type, SK_RMSG_IN_PROGRESS);
	assert_true(d.id == 42 && d.pn == 9);
	assert_int_equal(mk_id(buf, SK_RMSG_IN_PROGRESS, 9, 42),
			 sizeof(inprog));
	assert_memory_equal(buf, inprog, sizeof(inprog));

	assert_int_equal(dec(err, sizeof(err), &d), 0);
	assert_int_equal(d.type, SK_RMSG_ERROR);
	assert_true(d.id == 0x8000000000000001ull && d.pn == 0xfffffffe);
	assert_int_equal(d.code, SK_RMSG_CODE_EXPIRED);
	assert_int_equal(enc(buf, &d), sizeof(err));
	assert_memory_equal(buf, err, sizeof(err));

	assert_int_equal(dec(cancel, sizeof(cancel), &d), 0);
	assert_int_equal(d.type, SK_RMSG_CANCEL);
	assert_true(d.id == UINT64_MAX);

	assert_true(sk_rmsg_from_client(SK_RMSG_REQUEST));
	assert_true(sk_rmsg_from_client(SK_RMSG_ACK));
	assert_true(sk_rmsg_from_client(SK_RMSG_CANCEL));
	assert_false(sk_rmsg_from_client(SK_RMSG_DATA));
	assert_false(sk_rmsg_from_client(SK_RMSG_IN_PROGRESS));
	assert_false(sk_rmsg_from_client(SK_RMSG_ERROR));
	assert_false(sk_rmsg_from_client(0));
	assert_string_equal(sk_rmsg_code_name(SK_RMSG_CODE_REPLAY), "REPLAY");
	assert_string_equal(sk_rmsg_code_name(99), "UNKNOWN");
	assert_string_equal(sk_rmsg_strerror(SK_RMSG_E_TOOBIG),
			    "datagram over 1195 bytes");
}

static void test_limits(void **st)
{
	(void)st;
	/* 1280 - 40 - 8 - (13 + 8 + 16) */
	assert_int_equal(SK_RMSG_MAX_DGRAM, 1195);
	assert_int_equal(SK_RMSG_MAX_DATA, 1175);
	assert_int_equal(SK_RMSG_MAX_EXEC, 1179);
	assert_int_equal(SK_RMSG_TAIL_MAX, 266);
}

static void refused(const uint8_t *b, size_t n, int want)
{
	struct sk_rmsg_dgram d;

	assert_int_equal(dec(b, n, &d), want);
}

static void test_refused(void **st)
{
	uint8_t buf[SK_RMSG_MAX_DGRAM + 8], f[64], x[SK_RMSG_MAX_DGRAM + 8];
	size_t n, fl;

	(void)st;
	/* Every prefix of every fixed-size type is short or wrong. */
	n = mk_request(buf, 1, 5);
	for (size_t i = 0; i < n; i++) {
		struct sk_rmsg_dgram d;

		assert_true(dec(buf, i, &d) < 0);
	}
	refused(buf, 0, SK_RMSG_E_SHORT);
	refused(buf, 7, SK_RMSG_E_SHORT);
	refused(buf, 16, SK_RMSG_E_SHORT);
	{
		struct sk_rmsg_dgram d = { .type = SK_RMSG_ERROR, .id = 1,
					   .code = SK_RMSG_CODE_REPLAY };

		n = enc(buf, &d);
		assert_int_equal(n, SK_RMSG_ERROR_LEN);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(dec(buf, i, &d), SK_RMSG_E_SHORT);
		d.code = 0;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_VALUE);
	}
	refused(buf, 18, 0);
	buf[17] = 0;
	refused(buf, 18, SK_RMSG_E_VALUE);
	buf[17] = 1;
	refused(buf, 19, SK_RMSG_E_LENGTH);
	n = mk_id(buf, SK_RMSG_CANCEL, 0, 1);
	refused(buf, n, 0);
	refused(buf, n - 1, SK_RMSG_E_SHORT);
	refused(buf, n + 1, SK_RMSG_E_LENGTH);
	n = mk_id(buf, SK_RMSG_IN_PROGRESS, 0, 1);
	refused(buf, n + 1, SK_RMSG_E_LENGTH);

	/* Oversize: 1195 is the most, 1196 is refused before anything. */
	memset(x, 'x', sizeof(x));
	n = mk_data(buf, 0, 1, 0, x, SK_RMSG_MAX_DATA, 0);
	assert_int_equal(n, SK_RMSG_MAX_DGRAM);
	refused(buf, n, 0);
	buf[n] = 'x';
	refused(buf, n + 1, SK_RMSG_E_TOOBIG);
	memset(x, 0, sizeof(x));
	refused(x, SK_RMSG_MAX_DGRAM + 1, SK_RMSG_E_TOOBIG);
	{
		struct sk_rmsg_dgram d = { .type = SK_RMSG_DATA, .id = 1,
					   .data = x,
					   .len = SK_RMSG_MAX_DATA + 1 };

		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_TOOBIG);
		d.len = 0;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_SHORT);
		d.len = 10;
		assert_int_equal(sk_rmsg_encode(buf, SK_RMSG_DATA_FIXED + 9,
						&d), SK_RMSG_E_SPACE);
	}

	/* Magic, type, reserved, flags. */
	n = mk_id(buf, SK_RMSG_CANCEL, 0, 1);
	buf[0] = 0xa2;
	refused(buf, n, SK_RMSG_E_MAGIC);
	buf[0] = 0x01; /* an exec TCP HELLO's first byte */
	refused(buf, n, SK_RMSG_E_MAGIC);
	buf[0] = SK_RMSG_MAGIC;
	for (unsigned t = 0; t < 256; t++) {
		if (t >= SK_RMSG_REQUEST && t <= SK_RMSG_CANCEL)
			continue;
		buf[1] = (uint8_t)t;
		refused(buf, n, SK_RMSG_E_TYPE);
	}
	buf[1] = SK_RMSG_CANCEL;
	buf[3] = 1;
	refused(buf, n, SK_RMSG_E_FLAGS);
	buf[3] = 0;
	for (unsigned b = 0; b < 8; b++) {
		buf[2] = (uint8_t)(1u << b);
		refused(buf, n, SK_RMSG_E_FLAGS);
	}
	buf[2] = 0;
	n = mk_data(buf, 0, 1, 0, "a", 1, 0);
	buf[2] = SK_RMSG_F_TRUNCATED;
	refused(buf, n, SK_RMSG_E_FLAGS);
	buf[2] = 0x04 | SK_RMSG_F_FIN;
	refused(buf, n, SK_RMSG_E_FLAGS);
	buf[2] = SK_RMSG_F_FIN;
	refused(buf, n, 0);
	refused(buf, n - 1, SK_RMSG_E_SHORT); /* DATA without a byte */

	/* Zero ids. */
	n = mk_id(buf, SK_RMSG_CANCEL, 0, 1);
	buf[15] = 0;
	refused(buf, n, SK_RMSG_E_VALUE);
	n = mk_data(buf, 0, 1, 0, "a", 1, 0);
	buf[15] = 0;
	refused(buf, n, SK_RMSG_E_VALUE);
	n = mk_request(buf, 0, 1);
	buf[15] = 0;
	refused(buf, n, SK_RMSG_E_VALUE);

	/* Offsets: the stream ends at SK_RMSG_OUTPUT_MAX at most. */
	n = mk_data(buf, 0, 1, SK_RMSG_OUTPUT_MAX - 2, "ab", 2, 0);
	refused(buf, n, 0);
	buf[19]++;
	refused(buf, n, SK_RMSG_E_VALUE);
	buf[16] = 0xff;
	refused(buf, n, SK_RMSG_E_VALUE);

	/* REQUEST: exactly one EXEC frame, from a client, on stream 1. */
	fl = exec_frame(f, sizeof(f));
	n = mk_request(buf, 0, 1);
	refused(buf, n - 1, SK_RMSG_E_FRAME); /* the frame cut short */
	buf[n] = 0;
	refused(buf, n + 1, SK_RMSG_E_FRAME); /* a byte after it */
	memcpy(buf + n, f, fl);
	refused(buf, n + fl, SK_RMSG_E_FRAME); /* two frames */
	buf[16 + 7] = 2;
	refused(buf, n, SK_RMSG_E_FRAME); /* stream 2 */
	buf[16 + 7] = 1;
	buf[16] = SK_FRAME_STDIN;
	refused(buf, n, SK_RMSG_E_FRAME); /* not EXEC */
	buf[16] = SK_FRAME_EXEC;
	buf[17] = 0x80;
	refused(buf, n, SK_RMSG_E_FRAME); /* an undefined frame flag */
	buf[17] = 0;
	buf[18] = 0xff;
	refused(buf, n, SK_RMSG_E_FRAME); /* a length past the datagram */
	buf[18] = 0;
	refused(buf, n, 0);
	{
		/* The biggest EXEC that fits, and one byte more. */
		struct sk_frame_exec *e = calloc(1, sizeof(*e));
		static char arg[SK_RMSG_MAX_EXEC];
		uint8_t big[SK_FRAME_MAX];
		struct sk_rmsg_dgram d = { .type = SK_RMSG_REQUEST, .id = 1 };
		int m;

		assert_non_null(e);
		memset(arg, 'a', sizeof(arg));
		e->argc = 1;
		e->argv[0].p = arg;
		e->argv[0].len = SK_RMSG_MAX_EXEC - SK_FRAME_HEADER -
				 SK_FRAME_EXEC_FIXED - 2 - 2;
		m = sk_frame_exec_encode(big, sizeof(big), 1, e);
		assert_int_equal(m, SK_RMSG_MAX_EXEC);
		d.data = big;
		d.len = (size_t)m;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_MAX_DGRAM);
		refused(buf, SK_RMSG_MAX_DGRAM, 0);
		e->argv[0].len++;
		m = sk_frame_exec_encode(big, sizeof(big), 1, e);
		d.len = (size_t)m;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_TOOBIG);
		free(e);
	}

	/* ACK ranges. */
	{
		uint32_t r[] = { 10, 20 };

		n = mk_ack(buf, 0, 1, r);
	}
	refused(buf, n, 0);
	refused(buf, n + 1, SK_RMSG_E_LENGTH);
	refused(buf, n - 1, SK_RMSG_E_SHORT);
	buf[14] = 0;
	buf[15] = 21; /* 21 below 20 */
	refused(buf, n, SK_RMSG_E_RANGE);
	buf[15] = 20; /* down to 0: fine */
	refused(buf, n, 0);
	buf[15] = 10;
	/* a pair: the next top at 10 - Gap - 2, then Length below it */
	memset(buf + n, 0, 4);
	buf[n + 1] = 7; /* top 1 */
	buf[n + 3] = 1; /* down to 0 */
	refused(buf, n + 4, 0);
	buf[n + 3] = 2; /* below 0 */
	refused(buf, n + 4, SK_RMSG_E_RANGE);
	buf[n + 3] = 0;
	buf[n + 1] = 9; /* top below 0 */
	refused(buf, n + 4, SK_RMSG_E_RANGE);
	{
		/* SK_RMSG_ACK_RANGES ranges, then one more. */
		uint32_t r[2 * (SK_RMSG_ACK_RANGES + 1)];
		struct sk_rmsg_dgram d;

		for (size_t i = 0; i < N(r) / 2; i++)
			r[2 * i] = r[2 * i + 1] = (uint32_t)(1000 - 2 * i);
		n = mk_ack(buf, 0, SK_RMSG_ACK_RANGES, r);
		assert_int_equal(dec(buf, n, &d), 0);
		assert_int_equal(d.nranges, SK_RMSG_ACK_RANGES);
		memset(buf + n, 0, 4);
		refused(buf, n + 4, SK_RMSG_E_RANGE);
		d.nranges = SK_RMSG_ACK_RANGES + 1;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_RANGE);
		/* Ranges that touch or overlap are not written. */
		d.nranges = 2;
		d.ranges[1].hi = d.ranges[0].lo - 1;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_RANGE);
		d.nranges = 0;
		assert_int_equal(sk_rmsg_encode(buf, sizeof(buf), &d),
				 SK_RMSG_E_RANGE);
	}
}

static void test_ack_too_wide(void **st)
{
	uint8_t buf[SK_RMSG_MAX_DGRAM];
	struct sk_rmsg_dgram d;
	size_t n;

	(void)st;
	/* A first range of 100000 numbers is cut to 65536. */
	{
		uint32_t r[] = { 200000, 299999 };

		n = mk_ack(buf, 0, 1, r);
	}
	assert_int_equal(dec(buf, n, &d), 0);
	assert_int_equal(d.nranges, 1);
	assert_int_equal(d.ranges[0].hi, 299999);
	assert_int_equal(d.ranges[0].lo, 299999 - 65535);
	/* A gap too wide ends the list there. */
	{
		uint32_t r[] = { 200000, 200010, 100, 110, 50, 60 };

		n = mk_ack(buf, 0, 3, r);
	}
	assert_int_equal(dec(buf, n, &d), 0);
	assert_int_equal(d.nranges, 1);
	assert_int_equal(d.ranges[0].lo, 200000);
	/* A range too long, likewise. */
	{
		uint32_t r[] = { 200000, 200010, 100000, 199000, 50, 60 };

		n = mk_ack(buf, 0, 3, r);
	}
	assert_int_equal(dec(buf, n, &d), 0);
	assert_int_equal(d.nranges, 1);
	/* Delays over 65535 us are written as 65535. */
	{
		struct sk_rmsg_dgram a = { .type = SK_RMSG_ACK, .nranges = 1,
					   .ack_delay = 10000000 };

		n = enc(buf, &a);
		assert_int_equal(dec(buf, n, &d), 0);
		assert_int_equal(d.ack_delay, 65535);
	}
}

/* ---- the simulated link and the executor ---------------------------- */

#define QMAX 8192

/* A datagram on its way. */
struct pkt {
	uint64_t at;     /* when it arrives */
	uint64_t seq;    /* the order it was sent in, for ties */
	int to_client;   /* its direction */
	size_t len;      /* its size */
	uint8_t b[SK_RMSG_MAX_DGRAM]; /* its bytes */
};

/* How the link behaves. */
struct linkcfg {
	unsigned loss;     /* percent lost, each direction */
	unsigned dup;      /* percent delivered twice */
	uint64_t delay;    /* one-way propagation, us */
	uint64_t jitter;   /* a random extra delay up to this: reordering */
	uint64_t tx;       /* us to put one full datagram on the wire */
	uint64_t timer;    /* the callers' timers fire on multiples of this
			    * (libuv's are in ms); 0: exactly */
	uint64_t blackout; /* nothing reaches the client before this */
};

/* What the command does once the server runs it. */
struct cmd {
	size_t total;      /* bytes of output */
	size_t chunk;      /* per output() call */
	uint64_t gap;      /* us between calls (0: all at once) */
	uint64_t silent;   /* us before the first output */
	unsigned err_every; /* every k-th chunk to stderr (0: never) */
	unsigned status;   /* exit status */
};

struct sim {
	struct sk_rmsg_srv srv;        /* the server's session */
	struct sk_rmsg_client *cli;    /* the client */
	struct linkcfg link;           /* the link */
	struct cmd cmd;                /* the command */
	uint64_t now;                  /* the virtual clock */
	struct pkt *q;                 /* datagrams in flight on the link */
	size_t nq;                     /* their number */
	uint64_t seq;                  /* the next send's order */
	uint64_t busy[2];              /* the wire is busy until, per way */
	/* The executor. */
	uint64_t id;                   /* the request it runs */
	unsigned execs;                /* EXEC events for that id */
	unsigned other_execs;          /* EXEC events for other ids */
	int running;                   /* it produces output */
	size_t pos;                    /* output produced so far */
	unsigned chunks;               /* output() calls so far */
	uint64_t next_out;             /* the next output() */
	int cut;                       /* output() said SK_RMSG_CUT */
	uint8_t *src;                  /* the output's bytes */
	uint8_t *want_out, *want_err;  /* what went to stdout and stderr */
	size_t nwant_out, nwant_err;
	/* The client's side. */
	uint8_t *stream;               /* the stream as read */
	size_t nstream;
	/* Counts. */
	uint64_t to_client, to_server; /* datagrams sent each way */
	uint64_t requests;             /* REQUESTs sent */
	uint64_t acks;                 /* ACKs sent */
	uint64_t done_at;              /* when the client had it all */
};

static void link_send(struct sim *s, int to_client, const uint8_t *b,
		      size_t n)
{
	int copies = 1 + chance(s->link.dup);
	uint64_t *busy = &s->busy[to_client];
	uint64_t at = (*busy > s->now ? *busy : s->now) +
		      s->link.tx * n / SK_RMSG_MAX_DGRAM;

	*busy = at;
	if (to_client)
		s->to_client++;
	else
		s->to_server++;
	for (int i = 0; i < copies; i++) {
		struct pkt *p;

		if (chance(s->link.loss) ||
		    (to_client && s->now < s->link.blackout))
			continue;
		assert_true(s->nq < QMAX);
		p = &s->q[s->nq++];
		p->at = at + s->link.delay +
			(s->link.jitter ? rnd() % s->link.jitter : 0);
		p->seq = s->seq++;
		p->to_client = to_client;
		p->len = n;
		memcpy(p->b, b, n);
	}
}

/* The first datagram to arrive, or -1. */
static long link_next(const struct sim *s)
{
	long best = -1;

	for (size_t i = 0; i < s->nq; i++)
		if (best < 0 || s->q[i].at < s->q[best].at ||
		    (s->q[i].at == s->q[best].at &&
		     s->q[i].seq < s->q[best].seq))
			best = (long)i;
	return best;
}

static void exec_step(struct sim *s)
{
	size_t k = s->cmd.total - s->pos;
	int to_err, rc;

	if (k > s->cmd.chunk)
		k = s->cmd.chunk;
	if (k > 0) {
		to_err = s->cmd.err_every &&
			 ++s->chunks % s->cmd.err_every == 0;
		rc = sk_rmsg_srv_output(&s->srv, s->now, s->id,
					to_err ? SK_FRAME_STDERR
					       : SK_FRAME_STDOUT,
					s->src + s->pos, k);
		assert_true(rc == 0 || rc == SK_RMSG_CUT);
		if (rc == SK_RMSG_CUT) {
			struct sk_frame_exit x = { 0 };

			/* What was taken is a prefix we cannot see from
			 * here; the truncation tests check it from the
			 * stream. The command is killed: exit() finds no
			 * stream open. */
			s->cut = 1;
			s->running = 0;
			assert_int_equal(sk_rmsg_srv_exit(&s->srv, s->now,
							  s->id, &x),
					 SK_RMSG_E_NOENT);
			return;
		}
		if (to_err) {
			memcpy(s->want_err + s->nwant_err, s->src + s->pos, k);
			s->nwant_err += k;
		} else {
			memcpy(s->want_out + s->nwant_out, s->src + s->pos, k);
			s->nwant_out += k;
		}
		s->pos += k;
	}
	if (s->pos == s->cmd.total) {
		struct sk_frame_exit x;

		memset(&x, 0, sizeof(x));
		x.status = s->cmd.status;
		assert_int_equal(sk_rmsg_srv_exit(&s->srv, s->now, s->id, &x),
				 0);
		s->running = 0;
		return;
	}
	s->next_out = s->now + s->cmd.gap;
}

static void deliver(struct sim *s, long i)
{
	struct pkt p = s->q[i];

	s->q[i] = s->q[--s->nq];
	if (p.to_client) {
		enum sk_rmsg_client_ev ev;
		size_t n;

		assert_int_equal(cli_in(s->cli, s->now, p.b, p.len, &ev), 0);
		do {
			n = sk_rmsg_client_read(s->cli,
						s->stream + s->nstream,
						SK_RMSG_OUTPUT_MAX -
							s->nstream);
			s->nstream += n;
		} while (n > 0);
		if (ev == SK_RMSG_CLI_COMPLETE)
			s->done_at = s->now;
	} else {
		struct sk_rmsg_srv_event ev;

		assert_int_equal(srv_in(&s->srv, s->now, p.b, p.len, &ev), 0);
		if (ev.kind == SK_RMSG_SRV_EXEC) {
			struct sk_frame_exec *e = malloc(sizeof(*e));

			assert_non_null(e);
			assert_int_equal(sk_frame_exec_decode(&ev.frame, e), 0);
			free(e);
			if (ev.id != s->id) {
				s->other_execs++;
				return;
			}
			s->execs++;
			assert_int_equal(sk_rmsg_srv_started(&s->srv, s->now,
							     ev.id), 0);
			s->running = 1;
			s->next_out = s->now + s->cmd.silent;
		}
	}
}

static void drain(struct sim *s)
{
	uint8_t out[SK_RMSG_MAX_DGRAM];
	int n;

	while ((n = sk_rmsg_srv_poll(&s->srv, s->now, out, sizeof(out))) > 0)
		link_send(s, 1, out, (size_t)n);
	assert_int_equal(n, 0);
	while ((n = sk_rmsg_client_poll(s->cli, s->now, out, sizeof(out))) >
	       0) {
		if (out[1] == SK_RMSG_REQUEST) {
			struct sk_rmsg_dgram d;

			/* Every retry carries the one id. */
			assert_int_equal(sk_rmsg_decode(out, (size_t)n, &d), 0);
			assert_true(d.id == s->id);
			s->requests++;
		} else if (out[1] == SK_RMSG_ACK) {
			s->acks++;
		}
		link_send(s, 0, out, (size_t)n);
	}
	assert_int_equal(n, 0);
}

static struct sim *sim_new(const struct linkcfg *l, const struct cmd *c,
			   const struct sk_rmsg_srv_cfg *scfg,
			   const struct sk_rmsg_client_cfg *ccfg, uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	rng = seed;
	mem_used = 0;
	mem_budget = SIZE_MAX;
	s->link = *l;
	s->cmd = *c;
	s->q = calloc(QMAX, sizeof(*s->q));
	s->cli = malloc(sizeof(*s->cli));
	s->src = malloc(c->total + 1);
	s->want_out = malloc(c->total + 1);
	s->want_err = malloc(c->total + 1);
	s->stream = malloc(SK_RMSG_OUTPUT_MAX);
	assert_true(s->q && s->cli && s->src && s->want_out && s->want_err &&
		    s->stream);
	for (size_t i = 0; i < c->total; i++)
		s->src[i] = (uint8_t)rnd();
	s->now = 1000 * SEC; /* not 0: nothing may count on it */
	sk_rmsg_srv_init(&s->srv, scfg, s->now);
	sk_rmsg_client_init(s->cli, ccfg);
	s->id = 0x5eed000000000000ull | (seed & 0xffff);
	{
		uint8_t f[64];
		size_t fl = exec_frame(f, sizeof(f));

		assert_int_equal(sk_rmsg_client_start(s->cli, s->now, s->id, f,
						      fl), 0);
	}
	return s;
}

static void sim_free(struct sim *s)
{
	sk_rmsg_srv_fini(&s->srv);
	assert_int_equal(mem_used, 0);
	free(s->q);
	free(s->cli);
	free(s->src);
	free(s->want_out);
	free(s->want_err);
	free(s->stream);
	free(s);
}

/* Run until the client's request ends, then `linger` more (the client
 * still answers, as a client that lingers would), or until `limit`. */
static void sim_run(struct sim *s, uint64_t limit, uint64_t linger)
{
	uint64_t start = s->now, stop = UINT64_MAX;

	for (;;) {
		uint64_t t;
		long i;

		drain(s);
		if (stop == UINT64_MAX && s->cli->status != SK_RMSG_WAITING &&
		    s->cli->status != SK_RMSG_RECEIVING)
			stop = s->now + linger;
		t = sk_rmsg_srv_next_timeout(&s->srv, s->now);
		t = min64(t, sk_rmsg_client_next_timeout(s->cli, s->now));
		if (s->link.timer && t != UINT64_MAX && t > s->now)
			t = (t + s->link.timer - 1) / s->link.timer *
			    s->link.timer;
		i = link_next(s);
		if (i >= 0 && s->q[i].at < t)
			t = s->q[i].at;
		if (s->running && s->next_out < t)
			t = s->next_out;
		if (t > stop || t > start + limit)
			break;
		assert_true(t != UINT64_MAX);
		if (t > s->now)
			s->now = t;
		while ((i = link_next(s)) >= 0 && s->q[i].at <= s->now) {
			deliver(s, i);
			drain(s);
		}
		if (s->running && s->next_out <= s->now)
			exec_step(s);
	}
}

/* ---- reading the stream back, as the exec client does over TCP ------ */

/* What the stream said. */
struct parsed {
	uint8_t *out;   /* stdout, concatenated */
	uint8_t *err;   /* stderr */
	size_t nout, nerr;
	int started;    /* EXEC_OK came first */
	int exited;     /* EXIT ended it */
	unsigned status; /* its status */
	unsigned code;  /* or ERROR's code */
};

/* Feed the whole stream to the exec client's state machine, with the
 * server's HELLO taken as had: it must be one command's stream exactly
 * as a TCP server sends it, ending with EXIT or ERROR. */
static void parse_stream(const uint8_t *b, size_t n, struct parsed *r)
{
	struct sk_exec_client xc;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	r->out = malloc(n + 1);
	r->err = malloc(n + 1);
	assert_true(r->out && r->err);
	sk_exec_client_init(&xc, SK_RMSG_STREAM);
	xc.hello = 1;
	while (off < n) {
		struct sk_exec_event ev;
		int k = sk_exec_client_input(&xc, b + off, n - off, &ev);

		assert_true(k > 0);
		assert_int_equal(r->exited || r->code, 0); /* nothing after */
		switch (ev.kind) {
		case SK_EXEC_EV_STARTED:
			r->started = 1;
			break;
		case SK_EXEC_EV_STDOUT:
		case SK_EXEC_EV_STDERR:
			if (ev.kind == SK_EXEC_EV_STDOUT) {
				memcpy(r->out + r->nout, ev.data.p,
				       ev.data.len);
				r->nout += ev.data.len;
			} else {
				memcpy(r->err + r->nerr, ev.data.p,
				       ev.data.len);
				r->nerr += ev.data.len;
			}
			sk_exec_client_written(&xc, ev.data.len);
			(void)sk_exec_client_grant(&xc);
			break;
		case SK_EXEC_EV_EXIT:
			r->exited = 1;
			r->status = ev.exit.status;
			break;
		case SK_EXEC_EV_REFUSED:
		case SK_EXEC_EV_ENDED:
			r->code = ev.code;
			break;
		default:
			fail_msg("unexpected event %d", ev.kind);
		}
		off += (size_t)k;
	}
	assert_true(r->exited || r->code);
}

static void parsed_free(struct parsed *r)
{
	free(r->out);
	free(r->err);
}

/* FNV-1a, to report what was compared. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The common checks of a finished transfer: the stream whole and the
 * output byte-identical, executed once, the server's slot freed (or, at
 * very heavy loss, every one of the server's probes for the last ACK
 * lost: it gave up, and the cache waits for its TTL). */
static void check_whole_or_stalled(struct sim *s, int may_stall)
{
	struct parsed r;

	assert_int_equal(s->cli->status, SK_RMSG_COMPLETE);
	assert_false(s->cli->truncated);
	assert_int_equal(s->execs, 1);
	assert_int_equal(s->other_execs, 0);
	assert_int_equal(s->nstream, s->cli->final);
	parse_stream(s->stream, s->nstream, &r);
	assert_true(r.started);
	assert_true(r.exited);
	assert_int_equal(r.status, s->cmd.status);
	assert_int_equal(r.nout, s->nwant_out);
	assert_int_equal(r.nerr, s->nwant_err);
	assert_true(fnv(r.out, r.nout) == fnv(s->want_out, s->nwant_out));
	assert_memory_equal(r.out, s->want_out, r.nout);
	assert_memory_equal(r.err, s->want_err, r.nerr);
	parsed_free(&r);
	if (may_stall && sk_rmsg_srv_active(&s->srv) != 0) {
		assert_true(s->srv.stalled);
		return;
	}
	/* The last ACK got through: the output was delivered and freed. */
	assert_int_equal(sk_rmsg_srv_active(&s->srv), 0);
	assert_int_equal(mem_used, 0);
}

static void check_whole(struct sim *s)
{
	check_whole_or_stalled(s, 0);
}

/* ---- 1 MB at 0, 10 and 30% loss ------------------------------------- */

#define MB 1000000

static const struct cmd one_mb = {
	.total = MB, .chunk = 64 * 1024, .status = 0,
};

/* A 10 ms RTT path at about 20 MB/s. */
static struct linkcfg path(unsigned loss, unsigned dup, uint64_t jitter)
{
	struct linkcfg l = { .loss = loss, .dup = dup, .delay = 5 * MS,
			     .jitter = jitter, .tx = 60 };

	return l;
}

/* The lossless run's figures, for the lossy runs to be held to. */
static uint64_t lossless_time;
static uint64_t lossless_data;

static struct sim *run_mb(unsigned loss, unsigned dup, uint64_t jitter,
			  uint64_t seed)
{
	struct linkcfg l = path(loss, dup, jitter);
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	/* What an integrator would pass: a few of the DTLS handshake's
	 * RTTs for the client, the RTT itself for the server. */
	struct sk_rmsg_client_cfg cc = { .retry_us = 3 * 2 * l.delay };
	struct sim *s;
	uint64_t t0;

	cfg.initial_rtt_us = 2 * l.delay;
	s = sim_new(&l, &one_mb, &cfg, &cc, seed);
	t0 = s->now;
	sim_run(s, 60 * SEC, 2 * SEC);
	check_whole(s);
	s->done_at -= t0;
	print_message("    %u%% loss, %u%% dup, %llu us jitter: %llu ms, "
		      "%llu DATA (%llu resent, %llu lost by count, %llu by "
		      "time, %llu spurious, %llu timeouts), %llu ACKs, %llu "
		      "REQUESTs\n",
		      loss, dup, (unsigned long long)jitter,
		      (unsigned long long)(s->done_at / MS),
		      (unsigned long long)s->srv.stats.data,
		      (unsigned long long)s->srv.stats.resent,
		      (unsigned long long)s->srv.stats.lost_pkt,
		      (unsigned long long)s->srv.stats.lost_time,
		      (unsigned long long)s->srv.stats.spurious,
		      (unsigned long long)s->srv.stats.rtos,
		      (unsigned long long)s->acks,
		      (unsigned long long)s->requests);
	return s;
}

static void test_1mb_lossless(void **st)
{
	struct sim *s;
	uint64_t frags;

	(void)st;
	s = run_mb(0, 0, 0, 1);
	/* No datagram more than the fragments (and a short one where the
	 * sender caught up with the output, at most one per output()
	 * call), one REQUEST, and an ACK for every second DATA at most
	 * (plus the first and last). */
	frags = (s->cli->final + SK_RMSG_MAX_DATA - 1) / SK_RMSG_MAX_DATA;
	assert_true(s->srv.stats.data >= frags);
	assert_true(s->srv.stats.data <= frags + MB / one_mb.chunk + 1);
	assert_true(s->srv.stats.resent == 0 && s->srv.stats.rtos == 0);
	assert_true(s->requests == 1);
	assert_true(s->acks <= frags / 2 + 2);
	/* The window bounds it: about a window per RTT. */
	assert_true(s->done_at < 300 * MS);
	lossless_time = s->done_at;
	lossless_data = s->srv.stats.data;
	sim_free(s);
}

static void test_1mb_10pct(void **st)
{
	struct sim *s;

	(void)st;
	if (lossless_time == 0)
		test_1mb_lossless(st);
	s = run_mb(10, 0, 0, 2);
	/* Selective repeat: about 1/(1 - 0.1) of the datagrams, and the
	 * benchmark's goal, at most twice the lossless time. */
	assert_true(s->srv.stats.data < lossless_data * 13 / 10);
	assert_true(s->done_at <= 2 * lossless_time);
	sim_free(s);
}

static void test_1mb_30pct(void **st)
{
	struct sim *s;

	(void)st;
	if (lossless_time == 0)
		test_1mb_lossless(st);
	s = run_mb(30, 0, 0, 3);
	/* 1/(1 - 0.3) = 1.43 sends per fragment, and some resends of
	 * ones whose ACKs were all lost. */
	assert_true(s->srv.stats.data < lossless_data * 17 / 10);
	assert_true(s->done_at <= 4 * lossless_time);
	sim_free(s);
}

static void test_1mb_dup_reorder(void **st)
{
	struct sim *s;

	(void)st;
	/* Reordering by up to 3 ms on a 10 ms RTT, 5% duplicated. */
	s = run_mb(0, 5, 3 * MS, 4);
	assert_true(s->srv.stats.data < lossless_data * 13 / 10 + 50);
	sim_free(s);
	s = run_mb(10, 5, 3 * MS, 5);
	sim_free(s);
	s = run_mb(30, 10, 3 * MS, 6);
	sim_free(s);
}

static struct sim *run_fast(unsigned loss, uint64_t seed)
{
	/* Loopback: 30 us each way, 4 us a datagram (DTLS on a core),
	 * timers in whole milliseconds. */
	struct linkcfg l = { .loss = loss, .delay = 30, .tx = 4,
			     .timer = MS };
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_client_cfg cc = { .retry_us = 2 * MS };
	struct sim *s;
	uint64_t t0;

	cfg.initial_rtt_us = 60;
	s = sim_new(&l, &one_mb, &cfg, &cc, seed);
	t0 = s->now;
	sim_run(s, 60 * SEC, 2 * SEC);
	check_whole(s);
	s->done_at -= t0;
	return s;
}

/* 1 MB over a loopback-like path, where the timers' granularity and
 * floor, not the RTT, decide how long a lost tail costs. */
static void test_1mb_fast_path(void **st)
{
	uint64_t t0, t[3] = { 0 };
	static const unsigned loss[] = { 0, 10, 30 };

	(void)st;
	for (size_t i = 0; i < N(loss); i++) {
		for (uint64_t seed = 50; seed < 60; seed++) {
			struct sim *s = run_fast(loss[i], seed);

			t[i] += s->done_at;
			sim_free(s);
		}
	}
	t0 = t[0];
	print_message("    fast path, means of 10 runs: %llu, %llu, %llu us\n",
		      (unsigned long long)t[0] / 10,
		      (unsigned long long)t[1] / 10,
		      (unsigned long long)t[2] / 10);
	/* The benchmark's goal at 10%; at 30% a tail lost twice costs
	 * a few ms of timer, which a few runs out of ten pay. */
	assert_true(t[1] <= 2 * t0);
	assert_true(t[2] <= 4 * t0);
}

/* Many seeds, shorter outputs: the stream is always whole. */
static void test_many_seeds(void **st)
{
	static const unsigned loss[] = { 0, 5, 20, 40, 50 };
	struct cmd c = { .total = 100000, .chunk = 5000, .gap = 2 * MS,
			 .err_every = 3, .status = 7 };

	(void)st;
	for (uint64_t seed = 100; seed < 140; seed++) {
		struct linkcfg l = path(loss[seed % N(loss)],
					(unsigned)(seed % 7),
					seed % 2 ? 4 * MS : 0);
		struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
		struct sk_rmsg_client_cfg cc = { .attempts = 20 };
		struct sim *s = sim_new(&l, &c, &cfg, &cc, seed);

		sim_run(s, 600 * SEC, 15 * SEC);
		check_whole_or_stalled(s, l.loss >= 40);
		sim_free(s);
	}
}

/* ---- output that trickles, a command that says nothing for long ------ */

static void test_trickle(void **st)
{
	/* 200 bytes every 3 ms, a third to stderr, after 2 s of silence. */
	struct cmd c = { .total = 60000, .chunk = 200, .gap = 3 * MS,
			 .silent = 2 * SEC, .err_every = 3, .status = 1 };
	struct linkcfg l = path(20, 5, 2 * MS);
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sim *s = sim_new(&l, &c, &cfg, NULL, 7);

	(void)st;
	sim_run(s, 60 * SEC, 2 * SEC);
	check_whole(s);
	/* The client polled while the command was silent. */
	assert_true(s->requests >= 2);
	sim_free(s);
}

/* ---- exactly once ---------------------------------------------------- */

static void test_exactly_once(void **st)
{
	/* The client retries every millisecond (far below the RTT) and
	 * never gives up; the link loses 30% and repeats 30%, and nothing
	 * reaches the client for its first 2 s, so it keeps retrying
	 * while the command runs; the command is silent for 5 s, so it
	 * polls. The server sees the REQUEST many times; it runs once. */
	struct cmd c = { .total = 300000, .chunk = 30000, .gap = 10 * MS,
			 .silent = 5 * SEC, .status = 0 };
	struct sk_rmsg_client_cfg cc = { .attempts = SK_RMSG_ATTEMPTS_MAX,
					 .retry_us = 1 * MS };

	(void)st;
	for (uint64_t seed = 20; seed < 30; seed++) {
		struct linkcfg l = path(30, 30, 3 * MS);
		struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
		struct sim *s;
		struct sk_rmsg_srv_event ev;
		uint8_t b[SK_RMSG_MAX_DGRAM];
		size_t n;

		l.blackout = 1000 * SEC + 2 * SEC;
		s = sim_new(&l, &c, &cfg, &cc, seed);
		sim_run(s, 600 * SEC, 3 * SEC);
		check_whole(s);
		assert_true(s->requests >= 8);
		assert_true(s->srv.stats.repeats >= 4);
		if (seed == 20)
			print_message("    %llu REQUESTs sent, %llu repeats "
				      "seen, 1 execution\n",
				      (unsigned long long)s->requests,
				      (unsigned long long)s->srv.stats.repeats);
		/* A copy the network held back arrives after it all:
		 * EXPIRED, not a second run. */
		n = mk_request(b, 0, s->id);
		assert_int_equal(srv_in(&s->srv, s->now, b, n, &ev), 0);
		assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
		n = (size_t)sk_rmsg_srv_poll(&s->srv, s->now, b, sizeof(b));
		assert_int_equal(b[1], SK_RMSG_ERROR);
		assert_int_equal(b[17], SK_RMSG_CODE_EXPIRED);
		sim_free(s);
	}
}

/* ---- direct tests of the server -------------------------------------- */

/* Every datagram the server has to send now. */
/* The most datagrams srv_out() keeps when the caller gives no buffers. */
#define SRV_OUT_KEEP (SK_RMSG_SLOTS * 4)

static size_t srv_out(struct sk_rmsg_srv *s, uint64_t now,
		      struct sk_rmsg_dgram *d, size_t max,
		      uint8_t (*raw)[SK_RMSG_MAX_DGRAM])
{
	/* Without raw, d's views point here: they must outlive the call
	 * (they once pointed into a buffer scoped to the loop below, which
	 * parse_stream() then read after the stack had reused it). */
	static uint8_t keep[SRV_OUT_KEEP][SK_RMSG_MAX_DGRAM];
	size_t k = 0;
	int n;

	if (raw == NULL) {
		assert_true(max <= SRV_OUT_KEEP);
		raw = keep;
	}
	for (;;) {
		uint8_t tmp[SK_RMSG_MAX_DGRAM];
		uint8_t *b = k < max ? raw[k] : tmp;

		n = sk_rmsg_srv_poll(s, now, b, SK_RMSG_MAX_DGRAM);
		assert_true(n >= 0);
		if (n == 0)
			break;
		if (k < max)
			assert_int_equal(sk_rmsg_decode(b, (size_t)n, &d[k]),
					 0);
		k++;
	}
	return k;
}

static int srv_req(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		   struct sk_rmsg_srv_event *ev)
{
	uint8_t b[SK_RMSG_MAX_DGRAM];
	size_t n = mk_request(b, 0, id);

	return srv_in(s, now, b, n, ev);
}

static void test_replay_window(void **st)
{
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_rmsg_dgram d[8];
	uint64_t now = 5 * SEC, base = 1000;

	(void)st;
	assert_non_null(s);
	sk_rmsg_srv_init(s, &cfg, now);
	/* New ids run, in any order within the window. */
	assert_int_equal(srv_req(s, now, base + 10, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_true(ev.id == base + 10);
	assert_int_equal(srv_req(s, now, base + 5, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	/* A repeat while running: IN_PROGRESS, and no second run. */
	assert_int_equal(srv_req(s, now, base + 5, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].type, SK_RMSG_IN_PROGRESS);
	assert_true(d[0].id == base + 5);
	/* Cancelled: forgotten, but not to be run again. */
	{
		uint8_t b[SK_RMSG_MAX_DGRAM];
		size_t n = mk_id(b, SK_RMSG_CANCEL, 1, base + 5);

		assert_int_equal(srv_in(s, now, b, n, &ev), 0);
		assert_int_equal(ev.kind, SK_RMSG_SRV_CANCEL);
		assert_true(ev.id == base + 5);
		assert_int_equal(sk_rmsg_srv_started(s, now, base + 5),
				 SK_RMSG_E_NOENT);
		/* A second CANCEL finds nothing. */
		assert_int_equal(srv_in(s, now, b, n, &ev), 0);
		assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	}
	assert_int_equal(srv_req(s, now, base + 5, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].type, SK_RMSG_ERROR);
	assert_int_equal(d[0].code, SK_RMSG_CODE_EXPIRED);
	/* An id 64 or more below the highest: REPLAY, whatever it was. */
	assert_int_equal(srv_req(s, now, base + 10 + SK_RMSG_REPLAY_WINDOW,
				 &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_int_equal(srv_req(s, now, base + 9, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].code, SK_RMSG_CODE_REPLAY);
	/* ... even one never seen. */
	assert_int_equal(srv_req(s, now, base + 1, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].code, SK_RMSG_CODE_REPLAY);
	/* But a request the table still holds is found, however old its
	 * id: base + 10 runs, below the window now. */
	assert_int_equal(srv_req(s, now, base + 10, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].type, SK_RMSG_IN_PROGRESS);
	/* A new id inside the window, never seen: it runs. */
	assert_int_equal(srv_req(s, now, base + 10 + SK_RMSG_REPLAY_WINDOW - 1,
				 &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	/* A jump far ahead clears the window. */
	assert_int_equal(srv_req(s, now, UINT64_MAX, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_int_equal(srv_req(s, now, UINT64_MAX - 1, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_int_equal(srv_req(s, now, UINT64_MAX - 64, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].code, SK_RMSG_CODE_REPLAY);
	sk_rmsg_srv_fini(s);
	free(s);
}

static void test_too_many(void **st)
{
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_rmsg_dgram d[SK_RMSG_SLOTS * 4];
	uint64_t now = 5 * SEC;
	struct sk_frame_exit x = { 0 };

	(void)st;
	assert_non_null(s);
	sk_rmsg_srv_init(s, &cfg, now);
	for (uint64_t id = 1; id <= SK_RMSG_SLOTS; id++) {
		assert_int_equal(srv_req(s, now, id, &ev), 0);
		assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
		assert_int_equal(sk_rmsg_srv_started(s, now, id), 0);
	}
	assert_int_equal(sk_rmsg_srv_active(s), SK_RMSG_SLOTS);
	/* Their EXEC_OKs go out, a burst, then paced (before the timer). */
	assert_int_equal(srv_out(s, now, d, N(d), NULL), SK_RMSG_PACE_BURST);
	now += 100 * MS;
	assert_int_equal(srv_out(s, now, d, N(d), NULL),
			 SK_RMSG_SLOTS - SK_RMSG_PACE_BURST);
	/* All run: TOO_MANY, and the id is not burnt. */
	assert_int_equal(srv_req(s, now, 17, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].type, SK_RMSG_ERROR);
	assert_int_equal(d[0].code, SK_RMSG_CODE_TOO_MANY);
	assert_true(d[0].id == 17);
	/* One ends: its output is cached, but a new request takes the
	 * slot of the finished one that ended first. */
	assert_int_equal(sk_rmsg_srv_exit(s, now, 3, &x), 0);
	assert_int_equal(sk_rmsg_srv_exit(s, now + 1, 4, &x), 0);
	assert_int_equal(srv_req(s, now + 2, 17, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_int_equal(sk_rmsg_srv_active(s), SK_RMSG_SLOTS);
	/* 3 was forgotten (EXPIRED), 4 is still there (its output goes). */
	assert_int_equal(srv_req(s, now + 2, 3, &ev), 0);
	assert_int_equal(srv_req(s, now + 2, 4, &ev), 0);
	{
		size_t k = srv_out(s, now + 2, d, N(d), NULL);
		int expired = 0, data4 = 0;

		for (size_t i = 0; i < k; i++) {
			if (d[i].type == SK_RMSG_ERROR && d[i].id == 3)
				expired += d[i].code == SK_RMSG_CODE_EXPIRED;
			if (d[i].type == SK_RMSG_DATA && d[i].id == 4)
				data4++;
		}
		assert_int_equal(expired, 1);
		assert_true(data4 >= 1);
	}
	/* The control queue is bounded: repeats past it wait for the next. */
	for (int i = 0; i < 3 * SK_RMSG_CTL_QUEUE; i++)
		assert_int_equal(srv_req(s, now + 3, 3, &ev), 0);
	assert_int_equal(srv_out(s, now + 3, d, N(d), NULL), SK_RMSG_CTL_QUEUE);
	sk_rmsg_srv_fini(s);
	assert_int_equal(mem_used, 0);
	free(s);
}

/* The stdout bytes that make a stream of k full datagrams: EXEC_OK, one
 * STDOUT frame, EXIT with a status. */
#define STREAM_FOR(k) ((k) * SK_RMSG_MAX_DATA - 3 * SK_FRAME_HEADER - 2)

/* A server with request id 1 run and `n` bytes of stdout, ended. */
static struct sk_rmsg_srv *srv_with_output(uint64_t now, size_t n)
{
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_frame_exit x = { 0 };
	uint8_t *b = calloc(1, n + 1);

	assert_true(s && b);
	mem_used = 0;
	mem_budget = SIZE_MAX;
	sk_rmsg_srv_init(s, &cfg, now);
	assert_int_equal(srv_req(s, now, 1, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_EXEC);
	assert_int_equal(sk_rmsg_srv_started(s, now, 1), 0);
	if (n > 0)
		assert_int_equal(sk_rmsg_srv_output(s, now, 1, SK_FRAME_STDOUT,
						    b, n), 0);
	assert_int_equal(sk_rmsg_srv_exit(s, now, 1, &x), 0);
	free(b);
	return s;
}

static void test_sorcerers_apprentice(void **st)
{
	uint64_t now = 5 * SEC;
	/* 10 full datagrams of stream. */
	struct sk_rmsg_srv *s = srv_with_output(now, STREAM_FOR(10));
	struct sk_rmsg_dgram d[16];
	struct sk_rmsg_srv_event ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	size_t k, n;

	(void)st;
	k = srv_out(s, now, d, N(d), NULL);
	assert_int_equal(k, 10);
	assert_true(d[9].flags & SK_RMSG_F_FIN);
	now += 20 * MS;
	/* pn 0 lost, 1 and 2 acknowledged: not yet lost (3 needed). The
	 * same ACK a hundred times changes nothing and sends nothing. */
	{
		uint32_t r[] = { 1, 2 };

		n = mk_ack(b, 0, 1, r);
	}
	for (int i = 0; i < 100; i++) {
		assert_int_equal(srv_in(s, now, b, n, &ev), 0);
		assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	}
	assert_int_equal(s->stats.resent, 0);
	/* Up to 3 acknowledged: 0 is lost by count, and goes once. */
	{
		uint32_t r[] = { 1, 3 };

		n = mk_ack(b, 1, 1, r);
	}
	assert_int_equal(srv_in(s, now, b, n, &ev), 0);
	k = srv_out(s, now, d, N(d), NULL);
	assert_int_equal(k, 1);
	assert_int_equal(d[0].offset, 0);
	assert_int_equal(d[0].pn, 10); /* a new number */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(srv_in(s, now, b, n, &ev), 0);
		assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	}
	assert_int_equal(s->stats.resent, 1);
	assert_int_equal(s->stats.lost_pkt, 1);
	/* Acknowledging the first transmission of 0 (it came late) counts
	 * for the resend: nothing more about it. */
	{
		uint32_t r[] = { 0, 3 };

		n = mk_ack(b, 2, 1, r);
	}
	assert_int_equal(srv_in(s, now, b, n, &ev), 0);
	/* Everything: the request is delivered and forgotten. */
	{
		uint32_t r[] = { 0, 9 };

		n = mk_ack(b, 3, 1, r);
	}
	assert_int_equal(srv_in(s, now, b, n, &ev), 0);
	assert_int_equal(sk_rmsg_srv_active(s), 0);
	assert_int_equal(mem_used, 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(srv_in(s, now, b, n, &ev), 0);
		assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	}
	assert_int_equal(sk_rmsg_srv_next_timeout(s, now), UINT64_MAX);
	assert_int_equal(s->stats.resent, 1);
	/* An ACK of a number never sent is refused, and changes nothing. */
	{
		uint32_t r[] = { 0, 11 };

		n = mk_ack(b, 4, 1, r);
	}
	assert_int_equal(srv_in(s, now, b, n, &ev), SK_RMSG_E_ACK);
	sk_rmsg_srv_fini(s);
	free(s);
}

static void test_time_threshold(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv *s = srv_with_output(now, STREAM_FOR(3));
	struct sk_rmsg_dgram d[8];
	struct sk_rmsg_srv_event ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	uint64_t t;
	size_t n;

	(void)st;
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 3);
	/* 1 and 2 acknowledged after 20 ms: 0 is not lost by count (one
	 * later than 2 would be needed), but by time, 9/8 RTT after. */
	{
		uint32_t r[] = { 1, 2 };

		n = mk_ack(b, 0, 1, r);
	}
	now += 20 * MS;
	assert_int_equal(srv_in(s, now, b, n, &ev), 0);
	assert_int_equal(s->srtt, 20 * MS);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	t = sk_rmsg_srv_next_timeout(s, now);
	assert_true(t == 5 * SEC + 20 * MS * 9 / 8);
	assert_int_equal(srv_out(s, t - 1, d, N(d), NULL), 0);
	assert_int_equal(srv_out(s, t, d, N(d), NULL), 1);
	assert_int_equal(d[0].offset, 0);
	assert_int_equal(s->stats.lost_time, 1);
	sk_rmsg_srv_fini(s);
	free(s);
}

static void test_rto_backoff(void **st)
{
	uint64_t now = 5 * SEC, prev, rto0;
	struct sk_rmsg_srv *s = srv_with_output(now, 100);
	struct sk_rmsg_dgram d[8];
	struct sk_rmsg_srv_event ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	unsigned fired = 0;
	size_t n;

	(void)st;
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	/* Before any sample: 100 ms + 4 * 50 ms + 5 ms. */
	rto0 = sk_rmsg_srv_rto(s);
	assert_int_equal(rto0,
			 SK_RMSG_INITIAL_RTT_US * 3 + SK_RMSG_ACK_DELAY_US);
	prev = now;
	/* Nothing comes back: the timer doubles up to its cap, each time
	 * the datagram goes again with a new number; SK_RMSG_MAX_RTOS
	 * times, and when the last one's time is up it stops. */
	for (fired = 0; fired <= SK_RMSG_MAX_RTOS; fired++) {
		uint64_t t = sk_rmsg_srv_next_timeout(s, now);
		uint64_t want = rto0;

		for (unsigned i = 0; i < fired; i++)
			want = min64(want * 2, SK_RMSG_RTO_MAX_US);
		assert_true(t - prev == want);
		assert_int_equal(srv_out(s, t - 1, d, N(d), NULL), 0);
		now = t;
		if (fired == SK_RMSG_MAX_RTOS)
			break;
		assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
		assert_int_equal(d[0].offset, 0);
		assert_int_equal(d[0].pn, fired + 1);
		assert_true(d[0].flags & SK_RMSG_F_FIN);
		prev = now;
	}
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	assert_true(s->stalled);
	assert_int_equal(s->stats.rtos, SK_RMSG_MAX_RTOS + 1);
	assert_int_equal(sk_rmsg_srv_rto(s), SK_RMSG_RTO_MAX_US);
	/* Stopped: nothing goes; only the cache's TTL is left to come. */
	assert_true(sk_rmsg_srv_next_timeout(s, now) ==
		    5 * SEC + SK_RMSG_CACHE_TTL_US);
	now += 10 * SEC;
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	/* The client is heard, a repeat of its request: it goes again. */
	assert_int_equal(srv_req(s, now, 1, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].type, SK_RMSG_DATA);
	assert_int_equal(s->rto_count, 0);
	assert_false(s->stalled);
	/* Its ACK: delivered. The RTT sample is the resend's. */
	{
		uint32_t r[] = { d[0].pn, d[0].pn };

		n = mk_ack(b, 1, 1, r);
	}
	assert_int_equal(srv_in(s, now + 30 * MS, b, n, &ev), 0);
	assert_int_equal(s->srtt, 30 * MS);
	assert_int_equal(sk_rmsg_srv_active(s), 0);
	sk_rmsg_srv_fini(s);
	free(s);
}

static void test_ttl(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv *s = srv_with_output(now, 5000);
	struct sk_rmsg_dgram d[8];
	struct sk_rmsg_srv_event ev;

	(void)st;
	assert_true(mem_used > 0);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 5);
	/* The client vanishes. The timer gives up; the cache stays until
	 * the TTL, counted from the end. */
	now += SK_RMSG_CACHE_TTL_US - 1;
	(void)srv_out(s, now, d, N(d), NULL);
	assert_int_equal(sk_rmsg_srv_active(s), 1);
	assert_true(sk_rmsg_srv_next_timeout(s, now) == 5 * SEC +
							 SK_RMSG_CACHE_TTL_US);
	/* A repeat refreshes it. */
	assert_int_equal(srv_req(s, now, 1, &ev), 0);
	now += SK_RMSG_CACHE_TTL_US - 1;
	(void)srv_out(s, now, d, N(d), NULL);
	assert_int_equal(sk_rmsg_srv_active(s), 1);
	now += 1;
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 0);
	assert_int_equal(sk_rmsg_srv_active(s), 0);
	assert_int_equal(mem_used, 0);
	/* Then a repeat gets EXPIRED: it never runs again. */
	assert_int_equal(srv_req(s, now, 1, &ev), 0);
	assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_int_equal(d[0].code, SK_RMSG_CODE_EXPIRED);
	sk_rmsg_srv_fini(s);
	free(s);
}

/* ---- truncation ------------------------------------------------------ */

static void test_truncation(void **st)
{
	/* 2 MiB of output against the default 1 MiB cap, over 10% loss. */
	struct cmd c = { .total = 2 * 1024 * 1024, .chunk = 100000 };
	struct linkcfg l = path(10, 0, 0);
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sim *s = sim_new(&l, &c, &cfg, NULL, 8);
	struct parsed r;

	(void)st;
	sim_run(s, 60 * SEC, 2 * SEC);
	assert_true(s->cut);
	assert_int_equal(s->cli->status, SK_RMSG_COMPLETE);
	assert_true(s->cli->truncated);
	assert_int_equal(s->execs, 1);
	assert_true(s->nstream <= SK_RMSG_OUTPUT_DEFAULT);
	/* Everything but the room kept for the final frame was used. */
	assert_true(s->nstream >= SK_RMSG_OUTPUT_DEFAULT - SK_RMSG_TAIL_MAX);
	parse_stream(s->stream, s->nstream, &r);
	assert_true(r.started);
	assert_false(r.exited);
	assert_int_equal(r.code, SK_FRAME_CODE_TRUNCATED);
	/* What came is the output's beginning, exactly. */
	assert_true(r.nout > SK_RMSG_OUTPUT_DEFAULT - 1000);
	assert_memory_equal(r.out, s->src, r.nout);
	parsed_free(&r);
	assert_int_equal(sk_rmsg_srv_active(&s->srv), 0);
	sim_free(s);
}

static void test_truncation_small_cap(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv_cfg cfg = srv_cfg(SK_RMSG_OUTPUT_MIN);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_rmsg_dgram d[8];
	uint8_t raw[8][SK_RMSG_MAX_DGRAM], x[2000];
	size_t k;

	(void)st;
	assert_non_null(s);
	memset(x, 'x', sizeof(x));
	mem_used = 0;
	mem_budget = SIZE_MAX;
	sk_rmsg_srv_init(s, &cfg, now);
	assert_int_equal(srv_req(s, now, 9, &ev), 0);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x, 1),
			 SK_RMSG_E_STATE); /* before started() */
	assert_int_equal(sk_rmsg_srv_started(s, now, 9), 0);
	assert_int_equal(sk_rmsg_srv_started(s, now, 9), SK_RMSG_E_STATE);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDIN, x, 1),
			 SK_RMSG_E_VALUE);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x, 0),
			 SK_RMSG_E_VALUE);
	/* 500 and 500 bytes join one frame; the cap (1024) less the final
	 * frame's room (266) less EXEC_OK and a header leaves 742. */
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x, 500),
			 0);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x, 500),
			 SK_RMSG_CUT);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x, 1),
			 SK_RMSG_E_NOENT);
	{
		struct sk_frame_exit e = { 0 };

		assert_int_equal(sk_rmsg_srv_exit(s, now, 9, &e),
				 SK_RMSG_E_NOENT);
	}
	k = srv_out(s, now, d, N(d), raw);
	assert_int_equal(k, 1);
	assert_true(d[0].flags & SK_RMSG_F_FIN);
	assert_true(d[0].flags & SK_RMSG_F_TRUNCATED);
	assert_true(d[0].len <= SK_RMSG_OUTPUT_MIN);
	{
		struct parsed r;

		parse_stream(d[0].data, d[0].len, &r);
		assert_int_equal(r.nout, SK_RMSG_OUTPUT_MIN - SK_RMSG_TAIL_MAX -
						 2 * SK_FRAME_HEADER);
		assert_int_equal(r.code, SK_FRAME_CODE_TRUNCATED);
		parsed_free(&r);
	}
	sk_rmsg_srv_fini(s);
	assert_int_equal(mem_used, 0);
	free(s);
}

static void test_out_of_memory(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_rmsg_dgram d[64];
	static uint8_t x[10000];

	(void)st;
	assert_non_null(s);
	mem_used = 0;
	mem_budget = 8192; /* the allocator's own budget */
	sk_rmsg_srv_init(s, &cfg, now);
	assert_int_equal(srv_req(s, now, 9, &ev), 0);
	assert_int_equal(sk_rmsg_srv_started(s, now, 9), 0);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDERR, x,
					    4000), 0);
	assert_int_equal(sk_rmsg_srv_output(s, now, 9, SK_FRAME_STDOUT, x,
					    sizeof(x)),
			 SK_RMSG_CUT);
	assert_true(mem_used <= 8192);
	assert_true(srv_out(s, now, d, N(d), NULL) > 0);
	/* Without an allocator at all, the first byte is cut. */
	sk_rmsg_srv_fini(s);
	assert_int_equal(mem_used, 0);
	mem_budget = SIZE_MAX;
	sk_rmsg_srv_init(s, NULL, now);
	assert_int_equal(srv_req(s, now, 9, &ev), 0);
	assert_int_equal(sk_rmsg_srv_started(s, now, 9), SK_RMSG_CUT);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_true(d[0].flags & SK_RMSG_F_TRUNCATED);
	sk_rmsg_srv_fini(s);
	free(s);
}

/* Refused commands and errors after the start end the stream too. */
static void test_error_streams(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv_cfg cfg = srv_cfg(0);
	struct sk_rmsg_srv *s = calloc(1, sizeof(*s));
	struct sk_rmsg_srv_event ev;
	struct sk_rmsg_dgram d[8];
	struct parsed r;

	(void)st;
	assert_non_null(s);
	mem_used = 0;
	mem_budget = SIZE_MAX;
	sk_rmsg_srv_init(s, &cfg, now);
	assert_int_equal(srv_req(s, now, 9, &ev), 0);
	assert_int_equal(sk_rmsg_srv_error(s, now, 9, 0, "", 0),
			 SK_RMSG_E_VALUE);
	assert_int_equal(sk_rmsg_srv_error(s, now, 9, SK_FRAME_CODE_NOT_FOUND,
					   "no such program", 15), 0);
	assert_int_equal(sk_rmsg_srv_started(s, now, 9), SK_RMSG_E_NOENT);
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	assert_true(d[0].flags & SK_RMSG_F_FIN);
	assert_false(d[0].flags & SK_RMSG_F_TRUNCATED);
	parse_stream(d[0].data, d[0].len, &r);
	assert_false(r.started);
	assert_int_equal(r.code, SK_FRAME_CODE_NOT_FOUND);
	parsed_free(&r);
	/* A signal. */
	assert_int_equal(srv_req(s, now, 10, &ev), 0);
	assert_int_equal(sk_rmsg_srv_started(s, now, 10), 0);
	{
		struct sk_frame_exit x = { .signaled = 1, .core = 1,
					   .signal = { "KILL", 4 } };

		assert_int_equal(sk_rmsg_srv_exit(s, now, 10, &x), 0);
	}
	assert_int_equal(srv_out(s, now, d, N(d), NULL), 1);
	parse_stream(d[0].data, d[0].len, &r);
	assert_true(r.started && r.exited);
	parsed_free(&r);
	sk_rmsg_srv_fini(s);
	free(s);
}

/* ---- the client ------------------------------------------------------ */

static struct sk_rmsg_client *cli_new(const struct sk_rmsg_client_cfg *cfg,
				      uint64_t now, uint64_t id)
{
	struct sk_rmsg_client *c = malloc(sizeof(*c));
	uint8_t f[64];
	size_t fl = exec_frame(f, sizeof(f));

	assert_non_null(c);
	sk_rmsg_client_init(c, cfg);
	assert_int_equal(sk_rmsg_client_start(c, now, id, f, fl), 0);
	return c;
}

/* The client's next datagram at now, decoded; its type, or 0. */
static unsigned cli_out(struct sk_rmsg_client *c, uint64_t now,
			struct sk_rmsg_dgram *d)
{
	static uint8_t b[SK_RMSG_MAX_DGRAM];
	int n = sk_rmsg_client_poll(c, now, b, sizeof(b));

	assert_true(n >= 0);
	if (n == 0)
		return 0;
	assert_int_equal(sk_rmsg_decode(b, (size_t)n, d), 0);
	return d->type;
}

static void test_client_no_reply(void **st)
{
	struct sk_rmsg_client_cfg cfg = { .attempts = 5, .retry_us = 100 * MS };
	uint64_t now = 7 * SEC, t, want = 100 * MS;
	struct sk_rmsg_client *c = cli_new(&cfg, now, 77);
	struct sk_rmsg_dgram d;
	uint32_t pn = 0;

	(void)st;
	/* Five REQUESTs, the same id and command, new packet numbers,
	 * waits of 100, 200, 400, 800 ms, then 1.6 s for the last one. */
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
		assert_true(d.id == 77);
		assert_int_equal(d.pn, pn++);
		assert_int_equal(cli_out(c, now, &d), 0);
		assert_int_equal(c->status, SK_RMSG_WAITING);
		t = sk_rmsg_client_next_timeout(c, now);
		assert_true(t - now == want);
		assert_int_equal(cli_out(c, t - 1, &d), 0);
		now = t;
		want *= 2;
	}
	assert_int_equal(cli_out(c, now, &d), 0);
	assert_int_equal(c->status, SK_RMSG_NO_REPLY);
	assert_int_equal(sk_rmsg_client_next_timeout(c, now), UINT64_MAX);
	/* It stays so. */
	assert_int_equal(cli_out(c, now + 3600 * SEC, &d), 0);
	/* The next request must take a new, greater id. */
	{
		uint8_t f[64];
		size_t fl = exec_frame(f, sizeof(f));

		assert_int_equal(sk_rmsg_client_start(c, now, 77, f, fl),
				 SK_RMSG_E_VALUE);
		assert_int_equal(sk_rmsg_client_start(c, now, 78, f, fl - 1),
				 SK_RMSG_E_FRAME);
		assert_int_equal(sk_rmsg_client_start(c, now, 78, f, fl), 0);
		assert_int_equal(sk_rmsg_client_start(c, now, 79, f, fl),
				 SK_RMSG_E_STATE);
	}
	/* The default: SK_RMSG_ATTEMPTS, the waits capped. */
	free(c);
	c = cli_new(NULL, now, 5);
	{
		unsigned sent = 0;

		for (;;) {
			t = sk_rmsg_client_next_timeout(c, now);
			if (t == UINT64_MAX)
				break;
			now = t;
			while (cli_out(c, now, &d) == SK_RMSG_REQUEST)
				sent++;
			assert_true(c->wait <= SK_RMSG_RETRY_MAX_US);
		}
		assert_int_equal(sent, SK_RMSG_ATTEMPTS);
		assert_int_equal(c->status, SK_RMSG_NO_REPLY);
	}
	free(c);
}

static void test_client_polls(void **st)
{
	struct sk_rmsg_client_cfg cfg = { .attempts = 3, .retry_us = 100 * MS };
	uint64_t now = 7 * SEC;
	struct sk_rmsg_client *c = cli_new(&cfg, now, 77);
	struct sk_rmsg_dgram d;
	enum sk_rmsg_client_ev ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	size_t n;

	(void)st;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_int_equal(cli_out(c, now + 100 * MS, &d), SK_RMSG_REQUEST);
	now += 150 * MS;
	/* IN_PROGRESS: the attempts start again, at the poll interval. */
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 0, 77);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_PROGRESS);
	assert_int_equal(c->status, SK_RMSG_RECEIVING);
	assert_true(sk_rmsg_client_next_timeout(c, now) ==
		    now + SK_RMSG_POLL_US);
	/* Another request's IN_PROGRESS means nothing. */
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 1, 76);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	/* Silence: polls at 1, 2, 4 s, then "no reply". */
	now += SK_RMSG_POLL_US;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_true(d.id == 77);
	now += 2 * SK_RMSG_POLL_US;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	now += 4 * SK_RMSG_POLL_US;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	now += 4 * SK_RMSG_POLL_US;
	assert_int_equal(cli_out(c, now, &d), 0);
	assert_int_equal(c->status, SK_RMSG_NO_REPLY);
	/* An ERROR after that is another request's now: nothing. */
	{
		struct sk_rmsg_dgram e = { .type = SK_RMSG_ERROR, .id = 77,
					   .code = SK_RMSG_CODE_EXPIRED };

		n = enc(b, &e);
	}
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	free(c);
	/* ERROR while waiting: refused, with its code. */
	c = cli_new(&cfg, now, 80);
	{
		struct sk_rmsg_dgram e = { .type = SK_RMSG_ERROR, .id = 80,
					   .code = SK_RMSG_CODE_TOO_MANY };

		n = enc(b, &e);
	}
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_REFUSED);
	assert_int_equal(c->status, SK_RMSG_REFUSED);
	assert_int_equal(c->code, SK_RMSG_CODE_TOO_MANY);
	assert_int_equal(cli_out(c, now + 3600 * SEC, &d), 0);
	free(c);
}

static void test_client_learns_the_path(void **st)
{
	struct sk_rmsg_client_cfg cfg = { .attempts = 6, .retry_us = 250 * MS };
	uint64_t now = 7 * SEC;
	struct sk_rmsg_client *c = cli_new(&cfg, now, 77);
	struct sk_rmsg_dgram d;
	enum sk_rmsg_client_ev ev;
	uint8_t b[SK_RMSG_MAX_DGRAM], f[64];
	size_t n, fl = exec_frame(f, sizeof(f));

	(void)st;
	/* Before any answer: the configured first wait. */
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_true(sk_rmsg_client_next_timeout(c, now) == now + 250 * MS);
	/* Answered 2 ms after the one REQUEST: the path's time. */
	now += 2 * MS;
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 0, 77);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_true(c->rtt == 2 * MS);
	/* The next request's first retry: 3 times that. */
	c->status = SK_RMSG_COMPLETE;
	assert_int_equal(sk_rmsg_client_start(c, now, 78, f, fl), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_true(sk_rmsg_client_next_timeout(c, now) ==
		    now + SK_RMSG_RTT_MULT * 2 * MS);
	/* An answer after a retry times nothing (which one it answers is
	 * not known). */
	now += SK_RMSG_RTT_MULT * 2 * MS;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	now += 1 * MS;
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 1, 78);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_true(c->rtt == 2 * MS);
	/* A quicker one lowers it, to the floor of SK_RMSG_RTO_MIN_US. */
	c->status = SK_RMSG_COMPLETE;
	assert_int_equal(sk_rmsg_client_start(c, now, 79, f, fl), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	now += 100;
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 2, 79);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_true(c->rtt == 100);
	c->status = SK_RMSG_COMPLETE;
	assert_int_equal(sk_rmsg_client_start(c, now, 80, f, fl), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_true(sk_rmsg_client_next_timeout(c, now) ==
		    now + SK_RMSG_RTO_MIN_US);
	/* A slow one does not raise it; the configured wait stays the cap. */
	free(c);
	cfg.retry_us = 4 * MS;
	c = cli_new(&cfg, now, 90);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	now += 3 * MS;
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 0, 90);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	c->status = SK_RMSG_COMPLETE;
	assert_int_equal(sk_rmsg_client_start(c, now, 91, f, fl), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	assert_true(sk_rmsg_client_next_timeout(c, now) == now + 4 * MS);
	free(c);
}

static void test_client_reassembly(void **st)
{
	uint64_t now = 7 * SEC;
	struct sk_rmsg_client *c = cli_new(NULL, now, 77);
	struct sk_rmsg_dgram d;
	enum sk_rmsg_client_ev ev;
	uint8_t b[SK_RMSG_MAX_DGRAM], out[64];
	size_t n;

	(void)st;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	/* "world" at 5 first: kept, nothing to read, an ACK at once (the
	 * first DATA, and a hole before it). */
	n = mk_data(b, 1, 77, 5, "world", 5, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	assert_int_equal(sk_rmsg_client_read(c, out, sizeof(out)), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(d.nranges, 1);
	assert_int_equal(d.ranges[0].lo, 1);
	assert_int_equal(d.ranges[0].hi, 1);
	/* "hello" at 0: all ten readable. */
	n = mk_data(b, 2, 77, 0, "hello", 5, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_DATA);
	assert_int_equal(sk_rmsg_client_read(c, out, 3), 3);
	assert_int_equal(sk_rmsg_client_read(c, out + 3, sizeof(out)), 7);
	assert_memory_equal(out, "helloworld", 10);
	/* In order after the last: the ACK waits (one DATA since). */
	assert_int_equal(cli_out(c, now, &d), 0);
	assert_true(sk_rmsg_client_next_timeout(c, now) ==
		    now + SK_RMSG_ACK_DELAY_US);
	/* The network repeats a datagram: not even noted again. */
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	assert_int_equal(cli_out(c, now, &d), 0);
	/* A resend of bytes we have, under a new number: ACK at once. */
	n = mk_data(b, 3, 77, 0, "hel", 3, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(d.ranges[0].lo, 1);
	assert_int_equal(d.ranges[0].hi, 3);
	/* Past the receive window (read is at 10): dropped, and not
	 * acknowledged. */
	n = mk_data(b, 4, 77, SK_RMSG_RECV_WINDOW + 10 - 2, "xyz", 3, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(cli_out(c, now, &d), 0);
	assert_int_equal(c->nrecv, 1);
	/* Up to its end: kept. */
	n = mk_data(b, 5, 77, SK_RMSG_RECV_WINDOW + 10 - 3, "xy", 2, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(d.nranges, 2);
	/* A FIN before bytes we have is a lie: dropped. */
	n = mk_data(b, 6, 77, 10, "!", 1, SK_RMSG_F_FIN);
	assert_int_equal(cli_in(c, now, b, n, &ev), SK_RMSG_E_VALUE);
	assert_int_equal(c->final, UINT32_MAX);
	/* The true FIN; then another end, or bytes past it, are lies. */
	n = mk_data(b, 7, 77, SK_RMSG_RECV_WINDOW + 9, "!", 1,
		    SK_RMSG_F_FIN | SK_RMSG_F_TRUNCATED);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(c->final, SK_RMSG_RECV_WINDOW + 10);
	n = mk_data(b, 8, 77, SK_RMSG_RECV_WINDOW + 9, "!?", 2, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), SK_RMSG_E_VALUE);
	n = mk_data(b, 8, 77, 20, "!", 1, SK_RMSG_F_FIN);
	assert_int_equal(cli_in(c, now, b, n, &ev), SK_RMSG_E_VALUE);
	/* Fill the middle, reading as it comes: the ring wraps. */
	{
		static uint8_t fill[SK_RMSG_MAX_DATA], rd[SK_RMSG_RECV_WINDOW];
		uint32_t off = 10, pn = 9;
		size_t got = 0;

		memset(fill, 'm', sizeof(fill));
		while (off < SK_RMSG_RECV_WINDOW + 7) {
			size_t k = SK_RMSG_RECV_WINDOW + 7 - off;

			if (k > sizeof(fill))
				k = sizeof(fill);
			n = mk_data(b, pn++, 77, off, fill, k, 0);
			assert_int_equal(cli_in(c, now, b, n, &ev), 0);
			got += sk_rmsg_client_read(c, rd + got,
						   sizeof(rd) - got);
			off += (uint32_t)k;
		}
		assert_int_equal(ev, SK_RMSG_CLI_COMPLETE);
		assert_int_equal(c->status, SK_RMSG_COMPLETE);
		assert_true(c->truncated);
		assert_int_equal(got, SK_RMSG_RECV_WINDOW);
		assert_int_equal(sk_rmsg_client_read(c, rd, sizeof(rd)), 0);
		assert_memory_equal(rd + got - 3, "xy!", 3);
		assert_int_equal(rd[0], 'm');
	}
	/* Complete: an ACK at once; no REQUEST ever again. */
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(cli_out(c, now + 3600 * SEC, &d), 0);
	/* A late resend is acknowledged at once, so the server stops. */
	n = mk_data(b, 500, 77, 0, "h", 1, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(d.ranges[0].hi, 500);
	free(c);
}

static void test_client_ack_ranges(void **st)
{
	uint64_t now = 7 * SEC;
	struct sk_rmsg_client *c = cli_new(NULL, now, 77);
	struct sk_rmsg_dgram d;
	enum sk_rmsg_client_ev ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	size_t n;

	(void)st;
	/* Every other number, 200 of them: the newest 32 ranges are kept;
	 * older numbers are not noted, and the ACK fits. */
	for (uint32_t pn = 0; pn < 400; pn += 2) {
		n = mk_data(b, pn, 76, 0, "x", 1, 0); /* another request */
		assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	}
	assert_int_equal(c->nrecv, SK_RMSG_ACK_RANGES);
	n = mk_data(b, 2, 76, 0, "x", 1, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(c->nrecv, SK_RMSG_ACK_RANGES);
	while (cli_out(c, now, &d) == SK_RMSG_REQUEST)
		;
	/* Fill a hole: two ranges merge. */
	n = mk_data(b, 397, 76, 0, "x", 1, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(c->nrecv, SK_RMSG_ACK_RANGES - 1);
	assert_int_equal(c->recv[0].hi, 398);
	assert_int_equal(c->recv[0].lo, 396);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(d.nranges, SK_RMSG_ACK_RANGES - 1);
	assert_int_equal(d.ranges[0].lo, 396);
	/* A lower hole fills; one below the kept ranges extends the last. */
	n = mk_data(b, c->recv[c->nrecv - 1].lo - 1, 76, 0, "x", 1, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(c->nrecv, SK_RMSG_ACK_RANGES - 1);
	free(c);
}

static void test_cancel(void **st)
{
	uint64_t now = 7 * SEC;
	struct sk_rmsg_client *c = cli_new(NULL, now, 77);
	struct sk_rmsg_dgram d;
	enum sk_rmsg_client_ev ev;
	uint8_t b[SK_RMSG_MAX_DGRAM];
	size_t n;

	(void)st;
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_REQUEST);
	sk_rmsg_client_cancel(c);
	assert_int_equal(c->status, SK_RMSG_CANCELLED);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_CANCEL);
	assert_true(d.id == 77);
	assert_int_equal(cli_out(c, now + 3600 * SEC, &d), 0);
	/* Its DATA still comes: acknowledged at once, not kept. */
	n = mk_data(b, 0, 77, 0, "x", 1, 0);
	assert_int_equal(cli_in(c, now, b, n, &ev), 0);
	assert_int_equal(ev, SK_RMSG_CLI_NONE);
	assert_int_equal(cli_out(c, now, &d), SK_RMSG_ACK);
	assert_int_equal(sk_rmsg_client_read(c, b, sizeof(b)), 0);
	sk_rmsg_client_cancel(c); /* once is enough */
	assert_int_equal(cli_out(c, now, &d), 0);
	free(c);
}

/* ---- garbage changes nothing ---------------------------------------- */

static void test_garbage(void **st)
{
	uint64_t now = 5 * SEC;
	struct sk_rmsg_srv *s = srv_with_output(now, 50000);
	struct sk_rmsg_srv *s0 = malloc(sizeof(*s0));
	struct sk_rmsg_client *c = cli_new(NULL, now, 1);
	struct sk_rmsg_client *c0 = malloc(sizeof(*c0));
	struct sk_rmsg_dgram d[SK_RMSG_WINDOW];
	uint8_t b[SK_RMSG_MAX_DGRAM + 1], good[SK_RMSG_MAX_DGRAM];
	struct sk_rmsg_srv_event ev;
	enum sk_rmsg_client_ev cev;
	size_t n;

	(void)st;
	assert_true(s0 && c0);
	/* Both in the middle of something. */
	(void)srv_out(s, now, d, N(d), NULL);
	(void)cli_out(c, now, &d[0]);
	n = mk_data(good, 3, 1, 100, "abc", 3, 0);
	assert_int_equal(cli_in(c, now, good, n, &cev), 0);
	memcpy(s0, s, sizeof(*s));
	memcpy(c0, c, sizeof(*c));
	rng = 99;
	for (int i = 0; i < 20000; i++) {
		size_t len = rnd() % (sizeof(b) + 1);
		int rs, rc;

		for (size_t k = 0; k < len; k++)
			b[k] = (uint8_t)rnd();
		/* Half of them look like ours at first sight. */
		if (len > 2 && i % 2) {
			b[0] = SK_RMSG_MAGIC;
			b[1] = (uint8_t)(1 + rnd() % 6);
		}
		rs = srv_in(s, now, b, len, &ev);
		rc = cli_in(c, now, b, len, &cev);
		if (rs == 0 || rc == 0)
			continue; /* a valid one by chance: skip, rare */
		assert_int_equal(ev.kind, SK_RMSG_SRV_NONE);
		assert_int_equal(cev, SK_RMSG_CLI_NONE);
	}
	s->stats.dropped = s0->stats.dropped;
	assert_memory_equal(s, s0, sizeof(*s));
	assert_memory_equal(c, c0, sizeof(*c));
	/* Each type from the wrong side, whole and well formed. */
	n = mk_data(b, 0, 1, 0, "x", 1, 0);
	assert_int_equal(srv_in(s, now, b, n, &ev), SK_RMSG_E_TYPE);
	n = mk_id(b, SK_RMSG_IN_PROGRESS, 0, 1);
	assert_int_equal(srv_in(s, now, b, n, &ev), SK_RMSG_E_TYPE);
	n = mk_request(b, 0, 2);
	assert_int_equal(cli_in(c, now, b, n, &cev), SK_RMSG_E_TYPE);
	{
		uint32_t r[] = { 0, 0 };

		n = mk_ack(b, 0, 1, r);
	}
	assert_int_equal(cli_in(c, now, b, n, &cev), SK_RMSG_E_TYPE);
	n = mk_id(b, SK_RMSG_CANCEL, 0, 1);
	assert_int_equal(cli_in(c, now, b, n, &cev), SK_RMSG_E_TYPE);
	/* Truncated and oversize copies of good datagrams. */
	n = mk_data(good, 9, 1, 0, "abcdef", 6, 0);
	for (size_t k = 0; k < SK_RMSG_DATA_FIXED + 1; k++)
		assert_true(cli_in(c, now, good, k, &cev) < 0);
	memset(b, 0, sizeof(b));
	memcpy(b, good, n);
	assert_int_equal(cli_in(c, now, b, SK_RMSG_MAX_DGRAM + 1, &cev),
			 SK_RMSG_E_TOOBIG);
	n = mk_request(good, 9, 1);
	for (size_t k = 0; k < n; k++)
		assert_true(srv_in(s, now, good, k, &ev) < 0);
	s->stats.dropped = s0->stats.dropped;
	assert_memory_equal(s, s0, sizeof(*s));
	assert_memory_equal(c, c0, sizeof(*c));
	free(s0);
	free(c0);
	free(c);
	sk_rmsg_srv_fini(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ack_too_wide),
		cmocka_unit_test(test_1mb_lossless),
		cmocka_unit_test(test_1mb_10pct),
		cmocka_unit_test(test_1mb_30pct),
		cmocka_unit_test(test_1mb_dup_reorder),
		cmocka_unit_test(test_1mb_fast_path),
		cmocka_unit_test(test_many_seeds),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_exactly_once),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_sorcerers_apprentice),
		cmocka_unit_test(test_time_threshold),
		cmocka_unit_test(test_rto_backoff),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_truncation_small_cap),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_error_streams),
		cmocka_unit_test(test_client_no_reply),
		cmocka_unit_test(test_client_polls),
		cmocka_unit_test(test_client_learns_the_path),
		cmocka_unit_test(test_client_reassembly),
		cmocka_unit_test(test_client_ack_ranges),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
