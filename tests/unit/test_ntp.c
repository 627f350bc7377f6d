/*
 * test_ntp.c: unit tests for src/proto/ntp.c, the NTPv4 packet core.
 *
 * Covers the 48-byte header byte by byte (LI/VN/mode bits, stratum, signed
 * poll and precision, root delay and dispersion, refid, the four
 * timestamps) in both directions; the length checks (short, unaligned,
 * over SK_NTP_MAX_LEN); the trailer walk (RFC 7822 extension fields, then
 * a 4, 20 or 24-byte MAC in v4, 12 bytes only before v4) with its
 * malformed cases; the request filter for every version and mode; replies
 * and Kiss-o'-Death packets at the byte level; timestamp conversion with
 * eras on both sides of the 2036 wrap and before 1970; the 16.16 short
 * format; and the RFC 5905 section 8 offset and delay.
 *
 * Every decoded packet ends right before a guard page, and every encoded
 * one is written into a 48-byte buffer that also ends at one (guard.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "guard.h"
#include "ntp.h"

#define NS INT64_C(1000000000)
/* 2036-02-07 06:28:16 UTC: NTP era 1 starts. */
#define T_WRAP INT64_C(2085978496)
/* 2026-11-25 12:03:25 UTC. */
#define T_2026 INT64_C(1795608205)
#define TWO32 INT64_C(4294967296)
/* 365 days, in ns. */
#define YEAR (365 * 86400 * NS)

/*
 * A hand-built v4 client request, every field distinct:
 * LI 2, VN 4, mode 3; stratum 2; poll 17; precision -20; root delay
 * 0x00012345; root dispersion 0x0000abcd; refid "GPS\0"; then the
 * reference, origin, receive and transmit timestamps.
 */
static const uint8_t req_v4[SK_NTP_LEN] = {
	0xa3, 0x02, 0x11, 0xec,                         /* 0: lvm.. */
	0x00, 0x01, 0x23, 0x45,                         /* 4: delay */
	0x00, 0x00, 0xab, 0xcd,                         /* 8: disp */
	'G', 'P', 'S', 0x00,                            /* 12: refid */
	0xe1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* 16: ref */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* 24: org */
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* 32: rx */
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* 40: tx */
};

/* Decode len bytes of b from right before the guard page. */
static int decode(const void *b, size_t len, struct sk_ntp_pkt *p)
{
	memset(p, 0xa5, sizeof(*p));
	return sk_ntp_decode(sk_guard_place(b, len), len, p);
}

/* A 48-byte header with first byte lvm and the rest of req_v4. */
static void header(uint8_t *b, uint8_t lvm)
{
	memcpy(b, req_v4, SK_NTP_LEN);
	b[0] = lvm;
}

static uint8_t lvm(unsigned li, unsigned vn, unsigned mode)
{
	return (uint8_t)(li << 6 | vn << 3 | mode);
}

/* An extension field of len bytes at p: type 0x0104, then filler. */
static size_t ext(uint8_t *p, size_t len)
{
	p[0] = 0x01;
	p[1] = 0x04;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	for (size_t i = 4; i < len; i++)
		p[i] = (uint8_t)(0x30 + i);
	return len;
}

/* A MAC trailer of len bytes (key ID then digest) at p. */
static size_t mac(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(0xc0 ^ i);
	return len;
}

/* ---- the header ---------------------------------------------------- */

static void test_decode_fields(void **state)
{
	struct sk_ntp_pkt p;

	(void)state;
	assert_int_equal(decode(req_v4, sizeof(req_v4), &p), 0);
	assert_int_equal(p.leap, 2);
	assert_int_equal(p.version, 4);
	assert_int_equal(p.mode, SK_NTP_MODE_CLIENT);
	assert_int_equal(p.stratum, 2);
	assert_int_equal(p.poll, 17);
	assert_int_equal(p.precision, -20);
	assert_int_equal(p.root_delay, 0x00012345u);
	assert_int_equal(p.root_disp, 0x0000abcdu);
	assert_int_equal(p.refid, 0x47505300u);
	assert_int_equal(p.ref.sec, 0xe1234567u);
	assert_int_equal(p.ref.frac, 0x89abcdefu);
	assert_int_equal(p.org.sec, 0x01020304u);
	assert_int_equal(p.org.frac, 0x05060708u);
	assert_int_equal(p.rx.sec, 0x11121314u);
	assert_int_equal(p.rx.frac, 0x15161718u);
	assert_int_equal(p.tx.sec, 0x21222324u);
	assert_int_equal(p.tx.frac, 0x25262728u);
	assert_int_equal(p.n_ext, 0);
	assert_int_equal(p.mac_len, 0);
}

/* Poll and precision are signed bytes; stratum is unsigned. */
static void test_decode_signed_bytes(void **state)
{
	uint8_t b[SK_NTP_LEN];
	struct sk_ntp_pkt p;

	(void)state;
	header(b, lvm(0, 4, 3));
	b[1] = 0xff;
	b[2] = 0x80;
	b[3] = 0x7f;
	assert_int_equal(decode(b, sizeof(b), &p), 0);
	assert_int_equal(p.stratum, 255);
	assert_int_equal(p.poll, -128);
	assert_int_equal(p.precision, 127);
	b[2] = 0xff;
	b[3] = 0x00;
	assert_int_equal(decode(b, sizeof(b), &p), 0);
	assert_int_equal(p.poll, -1);
	assert_int_equal(p.precision, 0);
}

/* Every value of byte 0 splits into LI, VN and mode and back. */
static void test_lvm_bits(void **state)
{
	uint8_t b[SK_NTP_LEN], *out;
	struct sk_ntp_pkt p;

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		header(b, (uint8_t)v);
		assert_int_equal(decode(b, sizeof(b), &p), 0);
		assert_int_equal(p.leap, v >> 6);
		assert_int_equal(p.version, (v >> 3) & 7);
		assert_int_equal(p.mode, v & 7);
		out = sk_guard_buf(SK_NTP_LEN);
		sk_ntp_encode(&p, out);
		assert_memory_equal(out, b, SK_NTP_LEN);
	}
}

/* Encode a packet built field by field and check every offset. */
static void test_encode_offsets(void **state)
{
	struct sk_ntp_pkt p;
	uint8_t *out;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.leap = SK_NTP_LEAP_INSERT;
	p.version = 3;
	p.mode = SK_NTP_MODE_SERVER;
	p.stratum = 16;
	p.poll = -6;
	p.precision = -29;
	p.root_delay = 0x89abcdefu;
	p.root_disp = 0x00018000u;
	p.refid = sk_ntp_refid_ascii("LOCL");
	p.ref.sec = 0xa0a1a2a3u;
	p.ref.frac = 0xa4a5a6a7u;
	p.org.sec = 0xb0b1b2b3u;
	p.org.frac = 0xb4b5b6b7u;
	p.rx.sec = 0xc0c1c2c3u;
	p.rx.frac = 0xc4c5c6c7u;
	p.tx.sec = 0xd0d1d2d3u;
	p.tx.frac = 0xd4d5d6d7u;
	out = sk_guard_buf(SK_NTP_LEN);
	sk_ntp_encode(&p, out);
	/* 01 011 100 */
	assert_int_equal(out[0], 0x5c);
	assert_int_equal(out[1], 16);
	assert_int_equal(out[2], 0xfa);
	assert_int_equal(out[3], 0xe3);
	assert_memory_equal(out + 4, "\x89\xab\xcd\xef", 4);
	assert_memory_equal(out + 8, "\x00\x01\x80\x00", 4);
	assert_memory_equal(out + 12, "LOCL", 4);
	assert_memory_equal(out + 16, "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7", 8);
	assert_memory_equal(out + 24, "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7", 8);
	assert_memory_equal(out + 32, "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7", 8);
	assert_memory_equal(out + 40, "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7", 8);
}

static void test_round_trip(void **state)
{
	struct sk_ntp_pkt p, q;
	uint8_t *out, copy[SK_NTP_LEN];

	(void)state;
	assert_int_equal(decode(req_v4, sizeof(req_v4), &p), 0);
	out = sk_guard_buf(SK_NTP_LEN);
	sk_ntp_encode(&p, out);
	assert_memory_equal(out, req_v4, SK_NTP_LEN);
	memcpy(copy, out, sizeof(copy));
	assert_int_equal(decode(copy, sizeof(copy), &q), 0);
	assert_memory_equal(&p, &q, sizeof(p));
}

/* ---- lengths ------------------------------------------------------- */

static void test_decode_lengths(void **state)
{
	static uint8_t big[2048];
	struct sk_ntp_pkt p;
	int rc;

	(void)state;
	memcpy(big, req_v4, SK_NTP_LEN);
	assert_int_equal(decode(big, 0, &p), SK_NTP_E_SHORT);
	assert_int_equal(decode(big, 1, &p), SK_NTP_E_SHORT);
	assert_int_equal(decode(big, 44, &p), SK_NTP_E_SHORT);
	assert_int_equal(decode(big, 47, &p), SK_NTP_E_SHORT);
	assert_int_equal(decode(big, 48, &p), 0);
	assert_int_equal(decode(big, 49, &p), SK_NTP_E_ALIGN);
	assert_int_equal(decode(big, 50, &p), SK_NTP_E_ALIGN);
	assert_int_equal(decode(big, 51, &p), SK_NTP_E_ALIGN);
	assert_int_equal(decode(big, 1027, &p), SK_NTP_E_ALIGN);
	assert_int_equal(decode(big, 1028, &p), SK_NTP_E_LONG);
	assert_int_equal(decode(big, 1100, &p), SK_NTP_E_LONG);
	assert_int_equal(decode(big, sizeof(big), &p), SK_NTP_E_LONG);
	/* Both unaligned and too long: either error will do. */
	rc = decode(big, 1025, &p);
	assert_true(rc == SK_NTP_E_ALIGN || rc == SK_NTP_E_LONG);

	/* Exactly SK_NTP_MAX_LEN: one extension field fills it. */
	ext(big + SK_NTP_LEN, SK_NTP_MAX_LEN - SK_NTP_LEN);
	assert_int_equal(decode(big, SK_NTP_MAX_LEN, &p), 0);
	assert_int_equal(p.n_ext, 1);
	assert_int_equal(p.mac_len, 0);
	/* The same bytes and 4 more are refused. */
	assert_int_equal(decode(big, SK_NTP_MAX_LEN + 4, &p), SK_NTP_E_LONG);
}

/* ---- the trailer --------------------------------------------------- */

static void test_ext_valid(void **state)
{
	static const size_t macs[] = { 4, 20, 24 };
	uint8_t b[SK_NTP_MAX_LEN];
	struct sk_ntp_pkt p;
	size_t n;

	(void)state;
	header(b, lvm(0, 4, 3));

	/* One 28-byte field, no MAC (RFC 7822: the last one is >= 28). */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 28);
	assert_int_equal(decode(b, n, &p), 0);
	assert_int_equal(p.n_ext, 1);
	assert_int_equal(p.mac_len, 0);
	assert_int_equal(p.mode, 3);
	assert_int_equal(p.tx.sec, 0x21222324u);

	/* A 28-byte field and each v4 MAC size: key ID only, MD5, SHA-1. */
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 28);
		n += mac(b + n, macs[i]);
		assert_int_equal(decode(b, n, &p), 0);
		assert_int_equal(p.n_ext, 1);
		assert_int_equal(p.mac_len, macs[i]);
	}

	/* A 16-byte field is enough when a MAC follows it. */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 16);
	n += mac(b + n, 20);
	assert_int_equal(decode(b, n, &p), 0);
	assert_int_equal(p.n_ext, 1);
	assert_int_equal(p.mac_len, 20);

	/* Two fields, then a 24-byte MAC. */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 16);
	n += ext(b + n, 28);
	n += mac(b + n, 24);
	assert_int_equal(decode(b, n, &p), 0);
	assert_int_equal(p.n_ext, 2);
	assert_int_equal(p.mac_len, 24);

	/* Two fields, no MAC. */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 32);
	n += ext(b + n, 100);
	assert_int_equal(decode(b, n, &p), 0);
	assert_int_equal(p.n_ext, 2);
	assert_int_equal(p.mac_len, 0);

	/* As many 16-byte fields as fit before a 24-byte MAC. */
	n = SK_NTP_LEN;
	while (n + 16 + 24 <= SK_NTP_MAX_LEN)
		n += ext(b + n, 16);
	n += mac(b + n, 24);
	assert_int_equal(decode(b, n, &p), 0);
	assert_int_equal(p.n_ext, (SK_NTP_MAX_LEN - SK_NTP_LEN - 24) / 16);
	assert_int_equal(p.mac_len, 24);
}

static void test_ext_malformed(void **state)
{
	static const size_t bad_tail[] = { 8, 12, 16 };
	uint8_t b[256];
	struct sk_ntp_pkt p;
	size_t n;

	(void)state;
	header(b, lvm(0, 4, 3));

	/* Length field under 16. */
	for (uint32_t flen = 0; flen < 16; flen++) {
		ext(b + SK_NTP_LEN, 32);
		b[SK_NTP_LEN + 2] = 0;
		b[SK_NTP_LEN + 3] = (uint8_t)flen;
		assert_int_equal(decode(b, SK_NTP_LEN + 32, &p), SK_NTP_E_EXT);
	}
	/* Not a multiple of 4. */
	for (uint32_t flen = 17; flen < 32; flen++) {
		if (flen % 4 == 0)
			continue;
		ext(b + SK_NTP_LEN, 32);
		b[SK_NTP_LEN + 3] = (uint8_t)flen;
		assert_int_equal(decode(b, SK_NTP_LEN + 32, &p), SK_NTP_E_EXT);
	}
	/* Longer than what is left, by 4 and by a lot. */
	ext(b + SK_NTP_LEN, 32);
	b[SK_NTP_LEN + 3] = 36;
	assert_int_equal(decode(b, SK_NTP_LEN + 32, &p), SK_NTP_E_EXT);
	b[SK_NTP_LEN + 2] = 0xff;
	b[SK_NTP_LEN + 3] = 0xfc;
	assert_int_equal(decode(b, SK_NTP_LEN + 32, &p), SK_NTP_E_EXT);
	/* A good first field whose successor runs past the end. */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 16);
	ext(b + n, 32);
	b[n + 3] = 40;
	assert_int_equal(decode(b, n + 32, &p), SK_NTP_E_EXT);

	/* A good field, then a leftover that is no MAC size. */
	for (size_t i = 0; i < sizeof(bad_tail) / sizeof(bad_tail[0]); i++) {
		n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 28);
		n += mac(b + n, bad_tail[i]);
		assert_int_equal(decode(b, n, &p), SK_NTP_E_EXT);
	}
	/* A 16-byte field alone is too short to be the last one. */
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 16);
	assert_int_equal(decode(b, n, &p), SK_NTP_E_EXT);
}

static void test_mac_by_version(void **state)
{
	static const size_t sizes[] = { 4, 8, 12, 16, 20, 24, 28 };
	uint8_t b[SK_NTP_LEN + 32];
	struct sk_ntp_pkt p;

	(void)state;
	/*
	 * A bare trailer: 4, 20 and 24 bytes are a MAC in every version,
	 * 12 bytes (DES) only before v4. 28 bytes is never a MAC: before v4
	 * nothing else may follow the header, and in v4 these bytes are
	 * read as an extension field whose length (0xc2c3) is too long.
	 */
	for (unsigned vn = 0; vn < 8; vn++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t m = sizes[i];
			int want = SK_NTP_E_EXT;

			if (m == 4 || m == 20 || m == 24 || (m == 12 && vn < 4))
				want = 0;
			header(b, lvm(0, vn, 3));
			mac(b + SK_NTP_LEN, m);
			assert_int_equal(decode(b, SK_NTP_LEN + m, &p), want);
			if (want == 0) {
				assert_int_equal(p.mac_len, m);
				assert_int_equal(p.n_ext, 0);
				assert_int_equal(p.version, vn);
			}
		}
	}
	/* v4: a 12-byte (DES) trailer is refused. */
	header(b, lvm(0, 4, 3));
	mac(b + SK_NTP_LEN, 12);
	assert_int_equal(decode(b, SK_NTP_LEN + 12, &p), SK_NTP_E_EXT);
	/* v3: the 12-byte MAC is fine... */
	header(b, lvm(0, 3, 3));
	assert_int_equal(decode(b, SK_NTP_LEN + 12, &p), 0);
	assert_int_equal(p.mac_len, 12);
	/* ...but extension fields are v4 only. */
	ext(b + SK_NTP_LEN, 28);
	assert_int_equal(decode(b, SK_NTP_LEN + 28, &p), SK_NTP_E_EXT);
}

/* ---- the request filter -------------------------------------------- */

static void test_check_request_matrix(void **state)
{
	uint8_t b[SK_NTP_LEN];
	struct sk_ntp_pkt p;

	(void)state;
	for (unsigned vn = 0; vn < 8; vn++) {
		for (unsigned mode = 0; mode < 8; mode++) {
			int rc;

			header(b, lvm(vn & 3, vn, mode));
			assert_int_equal(decode(b, sizeof(b), &p), 0);
			rc = sk_ntp_check_request(&p);
			if (vn < 1 || vn > 4)
				assert_int_equal(rc, SK_NTP_E_VERSION);
			else if (mode == SK_NTP_MODE_CLIENT)
				assert_int_equal(rc, SK_NTP_MODE_SERVER);
			else if (vn == 1 && mode == SK_NTP_MODE_RESERVED)
				assert_int_equal(rc, SK_NTP_MODE_SERVER);
			else
				assert_int_equal(rc, SK_NTP_E_MODE);
		}
	}
	/* Control (6) and private (7, monlist) are never answered. */
	for (unsigned vn = 0; vn < 8; vn++) {
		header(b, lvm(0, vn, 6));
		assert_int_equal(decode(b, sizeof(b), &p), 0);
		assert_true(sk_ntp_check_request(&p) < 0);
		header(b, lvm(0, vn, 7));
		assert_int_equal(decode(b, sizeof(b), &p), 0);
		assert_true(sk_ntp_check_request(&p) < 0);
	}
}

/* ---- replies ------------------------------------------------------- */

static const struct sk_ntp_clock clk = {
	.leap = SK_NTP_LEAP_NONE,
	.stratum = 2,
	.precision = -20,
	.refid = 0xc0000201u,
	.root_delay = 0x00000123u,
	.root_disp = 0x00004567u,
	.ref = { 0xeeeeeee0u, 0x12345678u },
};

static void test_reply_bytes(void **state)
{
	const struct sk_ntp_ts rx = { 0xeeeeeeeeu, 0x80000000u };
	const struct sk_ntp_ts tx = { 0xeeeeeeefu, 0x00000001u };
	uint8_t b[SK_NTP_LEN], *out;
	struct sk_ntp_pkt req;
	int mode;

	(void)state;
	header(b, lvm(0, 3, 3));
	b[2] = 10;
	assert_int_equal(decode(b, sizeof(b), &req), 0);
	mode = sk_ntp_check_request(&req);
	assert_int_equal(mode, SK_NTP_MODE_SERVER);

	out = sk_guard_buf(SK_NTP_LEN);
	assert_int_equal(sk_ntp_reply(&req, mode, &clk, rx, out), SK_NTP_LEN);
	/* LI 0, VN 3 (echoed), mode 4. */
	assert_int_equal(out[0], 0x1c);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 10);
	assert_int_equal(out[3], 0xec);
	assert_memory_equal(out + 4, "\x00\x00\x01\x23", 4);
	assert_memory_equal(out + 8, "\x00\x00\x45\x67", 4);
	assert_memory_equal(out + 12, "\xc0\x00\x02\x01", 4);
	assert_memory_equal(out + 16, "\xee\xee\xee\xe0\x12\x34\x56\x78", 8);
	/* Origin: the request's transmit timestamp, byte for byte. */
	assert_memory_equal(out + 24, b + 40, 8);
	assert_memory_equal(out + 32, "\xee\xee\xee\xee\x80\x00\x00\x00", 8);
	/* Transmit: zero until stamped. */
	assert_memory_equal(out + 40, "\0\0\0\0\0\0\0\0", 8);

	{
		uint8_t before[SK_NTP_LEN];

		memcpy(before, out, sizeof(before));
		sk_ntp_stamp_tx(out, tx);
		assert_memory_equal(out, before, 40);
		assert_memory_equal(out + 40,
				    "\xee\xee\xee\xef\x00\x00\x00\x01", 8);
	}
}

/* Version and poll are echoed, whatever they are; the mode is the one
 * the filter chose. */
static void test_reply_echoes(void **state)
{
	const struct sk_ntp_ts rx = { 1, 2 };
	uint8_t b[SK_NTP_LEN], *out;
	struct sk_ntp_pkt req, rep;

	(void)state;
	for (unsigned vn = 1; vn <= 4; vn++) {
		for (int poll = -128; poll < 128; poll += 17) {
			header(b, lvm(3, vn, 3));
			b[2] = (uint8_t)(int8_t)poll;
			assert_int_equal(decode(b, sizeof(b), &req), 0);
			out = sk_guard_buf(SK_NTP_LEN);
			sk_ntp_reply(&req, sk_ntp_check_request(&req), &clk,
				     rx, out);
			assert_int_equal(out[0], lvm(0, vn, 4));
			assert_int_equal((int8_t)out[2], poll);
			assert_memory_equal(out + 24, b + 40, 8);
			memcpy(b, out, SK_NTP_LEN);
			assert_int_equal(decode(b, SK_NTP_LEN, &rep), 0);
			assert_int_equal(rep.version, vn);
			assert_int_equal(rep.mode, SK_NTP_MODE_SERVER);
			assert_int_equal(rep.poll, poll);
			assert_int_equal(rep.org.sec, req.tx.sec);
			assert_int_equal(rep.org.frac, req.tx.frac);
			assert_int_equal(rep.rx.sec, 1);
			assert_int_equal(rep.rx.frac, 2);
			assert_int_equal(rep.tx.sec, 0);
			assert_int_equal(rep.tx.frac, 0);
		}
	}

	/* Version 1, mode 0: answered in mode 4, never mode 0, which would
	 * pass the filter again and could bounce between two servers. */
	header(b, lvm(0, 1, 0));
	assert_int_equal(decode(b, sizeof(b), &req), 0);
	assert_int_equal(sk_ntp_check_request(&req), SK_NTP_MODE_SERVER);
	out = sk_guard_buf(SK_NTP_LEN);
	sk_ntp_reply(&req, sk_ntp_check_request(&req), &clk, rx, out);
	assert_int_equal(out[0], lvm(0, 1, 4));
	{
		struct sk_ntp_pkt back;

		assert_int_equal(decode(out, SK_NTP_LEN, &back), 0);
		assert_true(sk_ntp_check_request(&back) < 0);
	}
	assert_memory_equal(out + 24, b + 40, 8);
}

/* A request with extension fields and a MAC still gets 48 bytes back. */
static void test_reply_never_longer(void **state)
{
	const struct sk_ntp_ts rx = { 5, 6 };
	uint8_t b[SK_NTP_LEN + 28 + 24], *out;
	struct sk_ntp_pkt req;
	size_t n, r;

	(void)state;
	header(b, lvm(0, 4, 3));
	n = SK_NTP_LEN + ext(b + SK_NTP_LEN, 28);
	n += mac(b + n, 24);
	assert_int_equal(decode(b, n, &req), 0);
	out = sk_guard_buf(SK_NTP_LEN);
	r = sk_ntp_reply(&req, sk_ntp_check_request(&req), &clk, rx, out);
	assert_int_equal(r, SK_NTP_LEN);
	assert_true(r <= n);
	assert_memory_equal(out + 24, b + 40, 8);
	out = sk_guard_buf(SK_NTP_LEN);
	r = sk_ntp_kod(&req, sk_ntp_check_request(&req), "RATE", out);
	assert_int_equal(r, SK_NTP_LEN);

	/* A bare 48-byte request: the reply is the same size. */
	assert_int_equal(decode(b, SK_NTP_LEN, &req), 0);
	out = sk_guard_buf(SK_NTP_LEN);
	r = sk_ntp_reply(&req, sk_ntp_check_request(&req), &clk, rx, out);
	assert_int_equal(r, SK_NTP_LEN);
}

static void test_kod(void **state)
{
	uint8_t b[SK_NTP_LEN], *out;
	struct sk_ntp_pkt req, kod;

	(void)state;
	assert_int_equal(sk_ntp_refid_ascii("RATE"), 0x52415445u);
	header(b, lvm(0, 4, 3));
	b[2] = 6;
	assert_int_equal(decode(b, sizeof(b), &req), 0);
	out = sk_guard_buf(SK_NTP_LEN);
	assert_int_equal(sk_ntp_kod(&req, sk_ntp_check_request(&req), "RATE",
				    out),
			 SK_NTP_LEN);
	/* LI 3 (unsynchronised), VN 4, mode 4. */
	assert_int_equal(out[0], 0xe4);
	assert_int_equal(out[0] >> 6, SK_NTP_LEAP_UNSYNC);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 6);
	assert_int_equal(out[12], 'R');
	assert_int_equal(out[13], 'A');
	assert_int_equal(out[14], 'T');
	assert_int_equal(out[15], 'E');
	assert_memory_equal(out + 24, b + 40, 8);
	/* Nothing about our clock leaks into a KoD. */
	assert_memory_equal(out + 4, "\0\0\0\0\0\0\0\0", 8);
	assert_memory_equal(out + 16, "\0\0\0\0\0\0\0\0", 8);
	assert_memory_equal(out + 32, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);

	memcpy(b, out, SK_NTP_LEN);
	assert_int_equal(decode(b, SK_NTP_LEN, &kod), 0);
	assert_int_equal(kod.leap, SK_NTP_LEAP_UNSYNC);
	assert_int_equal(kod.stratum, 0);
	assert_int_equal(kod.mode, SK_NTP_MODE_SERVER);
	assert_int_equal(kod.refid, sk_ntp_refid_ascii("RATE"));
	assert_int_equal(kod.org.sec, req.tx.sec);
	assert_int_equal(kod.org.frac, req.tx.frac);

	/* Version 1, mode 0 gets a mode-4 KoD. */
	header(b, lvm(0, 1, 0));
	assert_int_equal(decode(b, sizeof(b), &req), 0);
	out = sk_guard_buf(SK_NTP_LEN);
	sk_ntp_kod(&req, sk_ntp_check_request(&req), "DENY", out);
	assert_int_equal(out[0], lvm(3, 1, 4));
	assert_memory_equal(out + 12, "DENY", 4);
	assert_memory_equal(out + 24, b + 40, 8);
}

/* ---- timestamps ---------------------------------------------------- */

static void test_ts_from_ns(void **state)
{
	struct sk_ntp_ts t;

	(void)state;
	t = sk_ntp_ts_from_ns(0);
	assert_int_equal(t.sec, 2208988800u);
	assert_int_equal(t.frac, 0);
	t = sk_ntp_ts_from_ns(NS / 2);
	assert_int_equal(t.sec, 2208988800u);
	assert_int_equal(t.frac, 0x80000000u);
	t = sk_ntp_ts_from_ns(NS / 4 + 3 * NS);
	assert_int_equal(t.sec, 2208988803u);
	assert_int_equal(t.frac, 0x40000000u);
	/* 1 ns is 4.29 units of 2^-32 s, rounded down. */
	t = sk_ntp_ts_from_ns(1);
	assert_int_equal(t.frac, 4);
	t = sk_ntp_ts_from_ns(NS - 1);
	assert_int_equal(t.sec, 2208988800u);
	assert_int_equal(t.frac, 4294967291u);
	/* Era 1 starts at 2036-02-07T06:28:16Z. */
	t = sk_ntp_ts_from_ns(T_WRAP * NS);
	assert_int_equal(t.sec, 0);
	assert_int_equal(t.frac, 0);
	t = sk_ntp_ts_from_ns(T_WRAP * NS - 1);
	assert_int_equal(t.sec, 0xffffffffu);
	assert_int_equal(t.frac, 4294967291u);
	t = sk_ntp_ts_from_ns(T_WRAP * NS + NS / 2);
	assert_int_equal(t.sec, 0);
	assert_int_equal(t.frac, 0x80000000u);
	t = sk_ntp_ts_from_ns(T_2026 * NS);
	assert_int_equal(t.sec, 4004597005u);
	/* Before 1970: the fraction still counts up from the second. */
	t = sk_ntp_ts_from_ns(-1);
	assert_int_equal(t.sec, 2208988799u);
	assert_int_equal(t.frac, 4294967291u);
	t = sk_ntp_ts_from_ns(-NS / 2);
	assert_int_equal(t.sec, 2208988799u);
	assert_int_equal(t.frac, 0x80000000u);
	t = sk_ntp_ts_from_ns(-NS);
	assert_int_equal(t.sec, 2208988799u);
	assert_int_equal(t.frac, 0);
	t = sk_ntp_ts_from_ns(-NS - NS / 4);
	assert_int_equal(t.sec, 2208988798u);
	assert_int_equal(t.frac, 0xc0000000u);
	/* 1900-01-01, the NTP epoch. */
	t = sk_ntp_ts_from_ns(-INT64_C(2208988800) * NS);
	assert_int_equal(t.sec, 0);
	assert_int_equal(t.frac, 0);
	/* The extremes of int64 do not trap. */
	t = sk_ntp_ts_from_ns(INT64_MIN);
	t = sk_ntp_ts_from_ns(INT64_MAX);
	(void)t;
}

static void test_ts_to_ns_eras(void **state)
{
	const struct sk_ntp_ts zero = { 0, 0 }, last = { 0xffffffffu, 0 };
	const struct sk_ntp_ts half = { 0, 0x80000000u };
	struct sk_ntp_ts t1970 = sk_ntp_ts_from_ns(0);

	(void)state;
	/* Before the wrap, a counter just past it is in era 1... */
	assert_int_equal(sk_ntp_ts_to_ns(zero, (T_WRAP - 100) * NS),
			 T_WRAP * NS);
	assert_int_equal(sk_ntp_ts_to_ns(half, (T_WRAP - 1) * NS),
			 T_WRAP * NS + NS / 2);
	assert_int_equal(sk_ntp_ts_to_ns(zero, T_2026 * NS), T_WRAP * NS);
	/* ...and after it, a counter just before it is in era 0. */
	assert_int_equal(sk_ntp_ts_to_ns(last, (T_WRAP + 100) * NS),
			 (T_WRAP - 1) * NS);
	assert_int_equal(sk_ntp_ts_to_ns(last, (T_WRAP + 86400) * NS),
			 (T_WRAP - 1) * NS);
	/* Same side of the wrap. */
	assert_int_equal(sk_ntp_ts_to_ns(zero, (T_WRAP + 100) * NS),
			 T_WRAP * NS);
	assert_int_equal(sk_ntp_ts_to_ns(last, (T_WRAP - 100) * NS),
			 (T_WRAP - 1) * NS);
	/* 1970 read in 2026 is 1970; read in 2100 it is 2106. */
	assert_int_equal(sk_ntp_ts_to_ns(t1970, T_2026 * NS), 0);
	assert_int_equal(sk_ntp_ts_to_ns(t1970, INT64_C(4102444800) * NS),
			 TWO32 * NS);
	/* A reference before 1970. */
	assert_int_equal(sk_ntp_ts_to_ns(t1970, -NS), 0);
	assert_int_equal(sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(-NS / 2), 0),
			 -NS / 2);
	assert_int_equal(sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(-1), -1), -1);
	assert_int_equal(sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(-1), 0), -1);
	assert_int_equal(
		sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(-1000000 * NS + 7), 0),
		-1000000 * NS + 7);
}

/* ns -> timestamp -> ns is within 1 ns, for a reference near the time. */
static void check_round_trip(int64_t ns, int64_t ref)
{
	int64_t back = sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(ns), ref);
	int64_t d = back - ns;

	if (d < -1 || d > 1)
		fail_msg("%lld came back as %lld (ref %lld)", (long long)ns,
			 (long long)back, (long long)ref);
}

static void test_ts_round_trip(void **state)
{
	static const int64_t base[] = {
		0,
		T_2026 * NS,
		T_WRAP * NS,
		(T_WRAP - 1) * NS,
		(T_WRAP + 1) * NS,
		-INT64_C(2208988800) * NS,
		-86400 * NS,
		TWO32 * NS,
		INT64_C(4102444800) * NS,
	};
	static const int64_t delta[] = {
		0, 1, -1, 2, -2, 499999999, 500000000, 500000001, 999999999,
		-999999999, NS, -NS, NS + 1, -NS - 1, 123456789, -987654321,
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		for (size_t j = 0; j < sizeof(delta) / sizeof(delta[0]); j++) {
			int64_t ns = base[i] + delta[j];

			check_round_trip(ns, ns);
			/* A reference a few years either side. */
			check_round_trip(ns, ns + 5 * YEAR);
			check_round_trip(ns, ns - 5 * YEAR);
		}
	/* Pseudo-random instants from 1830 to 2110, every ns digit. */
	for (int i = 0; i < 200000; i++) {
		int64_t ns, off;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		ns = (int64_t)(x >> 1) % (140 * YEAR);
		if ((x >> 40) & 1) /* the low bits of an LCG are poor */
			ns = -ns;
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		/* Within 60 years, well inside the 68-year half era. */
		off = (int64_t)(x >> 1) % (60 * YEAR);
		if ((x >> 40) & 1)
			off = -off;
		check_round_trip(ns, ns + off);
	}
}

/* ---- short format -------------------------------------------------- */

static void test_short_format(void **state)
{
	(void)state;
	assert_int_equal(sk_ntp_short_from_ns(0), 0);
	assert_int_equal(sk_ntp_short_from_ns(1500000000u), 0x00018000u);
	assert_int_equal(sk_ntp_short_from_ns(1000000000u), 0x00010000u);
	assert_int_equal(sk_ntp_short_from_ns(250000000u), 0x00004000u);
	/* 2^-16 s is 15258.79 ns: below it rounds down to 0. */
	assert_int_equal(sk_ntp_short_from_ns(15258u), 0);
	assert_int_equal(sk_ntp_short_from_ns(15259u), 1);
	assert_int_equal(sk_ntp_short_from_ns(65535 * 1000000000ull),
			 0xffff0000u);
	assert_int_equal(sk_ntp_short_from_ns(65536 * 1000000000ull - 1),
			 0xffffffffu);
	/* Saturation at and above 65536 s. */
	assert_int_equal(sk_ntp_short_from_ns(65536 * 1000000000ull),
			 UINT32_MAX);
	assert_int_equal(sk_ntp_short_from_ns(65537 * 1000000000ull),
			 UINT32_MAX);
	assert_int_equal(sk_ntp_short_from_ns(UINT64_MAX), UINT32_MAX);

	assert_int_equal(sk_ntp_short_to_ns(0x00018000u), 1500000000u);
	assert_int_equal(sk_ntp_short_to_ns(0x00010000u), 1000000000u);
	assert_int_equal(sk_ntp_short_to_ns(0), 0);
	assert_int_equal(sk_ntp_short_to_ns(1), 15258u);
	assert_int_equal(sk_ntp_short_to_ns(0xffffffffu), 65535999984741ull);
	/* Encoded on the wire, 1.5 s reads 00 01 80 00. */
	{
		struct sk_ntp_pkt p;
		uint8_t *out = sk_guard_buf(SK_NTP_LEN);

		memset(&p, 0, sizeof(p));
		p.root_delay = sk_ntp_short_from_ns(1500000000u);
		p.root_disp = sk_ntp_short_from_ns(UINT64_MAX);
		sk_ntp_encode(&p, out);
		assert_memory_equal(out + 4, "\x00\x01\x80\x00", 4);
		assert_memory_equal(out + 8, "\xff\xff\xff\xff", 4);
	}
}

/* ---- offset and delay ---------------------------------------------- */

static void test_offset_delay(void **state)
{
	int64_t off, del;

	(void)state;
	/* RFC 5905 section 8: theta = ((t2-t1) + (t3-t4)) / 2,
	 * delta = (t4-t1) - (t3-t2). */
	sk_ntp_offset_delay(0, 110, 120, 30, &off, &del);
	assert_int_equal(off, 100);
	assert_int_equal(del, 20);

	/* Symmetric path, clocks agree: offset 0, delay the round trip. */
	sk_ntp_offset_delay(0, 50, 60, 110, &off, &del);
	assert_int_equal(off, 0);
	assert_int_equal(del, 100);

	/* Server 1000 ns behind, 10 ns each way, 5 ns in the server. */
	sk_ntp_offset_delay(1000, 10, 15, 1025, &off, &del);
	assert_int_equal(off, -1000);
	assert_int_equal(del, 20);

	/* Server 1 s ahead, at realistic clock values in 2026. */
	{
		int64_t t1 = T_2026 * NS + 123456789;
		int64_t t2 = t1 + NS + 2000000;   /* +1 s, 2 ms out */
		int64_t t3 = t2 + 50000;          /* 50 us in the server */
		int64_t t4 = t1 + 4050000;        /* 2 ms back */

		sk_ntp_offset_delay(t1, t2, t3, t4, &off, &del);
		assert_int_equal(off, NS);
		assert_int_equal(del, 4000000);
	}

	/* The mirror of the first case: server 100 ns behind. */
	sk_ntp_offset_delay(100, 10, 20, 130, &off, &del);
	assert_int_equal(off, -100);
	assert_int_equal(del, 20);

	/* An asymmetric path shows up as half its asymmetry in the offset:
	 * 30 ns out, 10 ns back, clocks agree. */
	sk_ntp_offset_delay(0, 30, 30, 40, &off, &del);
	assert_int_equal(off, 10);
	assert_int_equal(del, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_decode_signed_bytes),
		cmocka_unit_test(test_lvm_bits),
		cmocka_unit_test(test_encode_offsets),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_ext_valid),
		cmocka_unit_test(test_ext_malformed),
		cmocka_unit_test(test_mac_by_version),
		cmocka_unit_test(test_check_request_matrix),
		cmocka_unit_test(test_reply_bytes),
		cmocka_unit_test(test_reply_echoes),
		cmocka_unit_test(test_reply_never_longer),
		cmocka_unit_test(test_kod),
		cmocka_unit_test(test_ts_from_ns),
		cmocka_unit_test(test_ts_to_ns_eras),
		cmocka_unit_test(test_ts_round_trip),
		cmocka_unit_test(test_short_format),
		cmocka_unit_test(test_offset_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
