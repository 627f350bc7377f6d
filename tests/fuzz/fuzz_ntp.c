/*
 * fuzz_ntp.c: libFuzzer target for src/proto/ntp.c and src/proto/acl.c.
 *
 * NTP: the input is decoded as a datagram. The result must follow from
 * the length alone when that is wrong; a decoded packet re-encodes to the
 * input's first 48 bytes exactly, and its trailer is one the decoder may
 * accept. The request filter must agree with its definition (versions 1
 * to 4; mode 3, or mode 0 in version 1, -> 4). For an accepted request
 * the reply and the KoD are 48 bytes, never more than the request, carry
 * the request's transmit timestamp (input bytes 40..47) as their origin
 * (bytes 24..31), and decode again with the chosen mode.
 *
 * Time: 8-byte words from the input give an instant and a reference
 * within 2^31 - 2 s of it; ns -> NTP timestamp -> ns must come back within
 * 1 ns, and the 16.16 short format must floor or saturate.
 *
 * ACL: the input (at most SK__TEXT_MAX bytes), split at commas into
 * NUL-terminated strings in a buffer of exactly that size, is parsed as
 * prefixes; each parsed entry must allow its own address, and
 * sk_acl_allows() must agree with a bit-by-bit reference for addresses
 * taken from the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "ntp.h"

/* Bytes of input offered to the prefix parser. */
#define SK__TEXT_MAX 256

#define NS INT64_C(1000000000)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ---- NTP ----------------------------------------------------------- */

static void check_trailer(const struct sk_ntp_pkt *p, size_t size)
{
	switch (p->mac_len) {
	case 0:
	case 4:
	case 20:
	case 24:
		break;
	case 12:
		if (p->version >= 4)
			abort();
		break;
	default:
		abort();
	}
	if (p->version != 4 && p->n_ext != 0)
		abort();
	/* Fields of 16 bytes or more, then the MAC, fill the packet. */
	if (SK_NTP_LEN + 16 * (size_t)p->n_ext + p->mac_len > size)
		abort();
	if (p->n_ext == 0 && SK_NTP_LEN + p->mac_len != size)
		abort();
}

/* A reply built for request bytes req must say so. */
static void check_answer(const uint8_t *out, size_t n, const uint8_t *req,
			 size_t size, const struct sk_ntp_pkt *rp, int mode)
{
	struct sk_ntp_pkt q;

	if (n != SK_NTP_LEN || n > size)
		abort();
	if (memcmp(out + 24, req + 40, 8) != 0)
		abort();
	if (sk_ntp_decode(out, n, &q) != 0)
		abort();
	/* A reply is mode 4 and never passes the request filter itself. */
	if (q.mode != SK_NTP_MODE_SERVER || sk_ntp_check_request(&q) >= 0)
		abort();
	if ((int)q.mode != mode || q.version != rp->version ||
	    q.poll != rp->poll || q.n_ext != 0 || q.mac_len != 0)
		abort();
}

static void fuzz_packet(const uint8_t *data, size_t size)
{
	struct sk_ntp_pkt p, q;
	uint8_t enc[SK_NTP_LEN], rep[SK_NTP_LEN], kod[SK_NTP_LEN];
	int rc = sk_ntp_decode(data, size, &p), mode, want;
	size_t n;

	if (size < SK_NTP_LEN) {
		if (rc != SK_NTP_E_SHORT)
			abort();
		return;
	}
	if (size % 4 != 0 && rc != SK_NTP_E_ALIGN)
		abort();
	if (size % 4 == 0 && size > SK_NTP_MAX_LEN && rc != SK_NTP_E_LONG)
		abort();
	if (size % 4 == 0 && size <= SK_NTP_MAX_LEN && rc != 0 &&
	    rc != SK_NTP_E_EXT)
		abort();
	if (rc != 0)
		return;

	sk_ntp_encode(&p, enc);
	if (memcmp(enc, data, SK_NTP_LEN) != 0)
		abort();
	check_trailer(&p, size);

	mode = sk_ntp_check_request(&p);
	if (p.version < 1 || p.version > 4)
		want = SK_NTP_E_VERSION;
	else if (p.mode == SK_NTP_MODE_CLIENT)
		want = SK_NTP_MODE_SERVER;
	else if (p.version == 1 && p.mode == SK_NTP_MODE_RESERVED)
		want = SK_NTP_MODE_SERVER;
	else
		want = SK_NTP_E_MODE;
	if (mode != want)
		abort();
	if (mode < 0)
		return;

	{
		/* Our clock, from the request's own fields. */
		struct sk_ntp_clock clk = {
			.leap = p.leap, .stratum = p.stratum,
			.precision = p.precision, .refid = p.refid,
			.root_delay = p.root_delay, .root_disp = p.root_disp,
			.ref = p.ref,
		};
		struct sk_ntp_ts rx = p.rx, tx = p.ref;

		n = sk_ntp_reply(&p, mode, &clk, rx, rep);
		check_answer(rep, n, data, size, &p, mode);
		if (memcmp(rep + 40, "\0\0\0\0\0\0\0\0", 8) != 0)
			abort();
		if (sk_ntp_decode(rep, n, &q) != 0 || q.rx.sec != rx.sec ||
		    q.rx.frac != rx.frac || q.stratum != clk.stratum ||
		    q.leap != clk.leap || q.refid != clk.refid)
			abort();
		memcpy(enc, rep, SK_NTP_LEN);
		sk_ntp_stamp_tx(rep, tx);
		if (memcmp(enc, rep, 40) != 0)
			abort();
		if (sk_ntp_decode(rep, n, &q) != 0 || q.tx.sec != tx.sec ||
		    q.tx.frac != tx.frac)
			abort();
	}

	n = sk_ntp_kod(&p, mode, "RATE", kod);
	check_answer(kod, n, data, size, &p, mode);
	if (kod[0] >> 6 != SK_NTP_LEAP_UNSYNC || kod[1] != 0 ||
	    memcmp(kod + 12, "RATE", 4) != 0)
		abort();
}

/* ---- time ---------------------------------------------------------- */

static void fuzz_time(const uint8_t *data, size_t size)
{
	uint8_t b[24] = { 0 };
	int64_t ns, off, ref, back;
	uint64_t u;
	uint32_t s;

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	/* An instant within ±2^62 ns (±146 years of 1970). */
	ns = (int64_t)(get64(b) & 0x7fffffffffffffffull) -
	     INT64_C(0x4000000000000000);
	/* A reference within 2^31 - 2 s of it. */
	off = (int64_t)(get64(b + 8) % (2 * (uint64_t)(INT64_C(2147483646) *
						       NS) + 1)) -
	      INT64_C(2147483646) * NS;
	ref = ns + off;
	back = sk_ntp_ts_to_ns(sk_ntp_ts_from_ns(ns), ref);
	if (back - ns < -1 || back - ns > 1)
		abort();
	/* Any timestamp lands within half an era of ref. */
	{
		struct sk_ntp_ts t = { get32(b + 16), get32(b + 20) };
		struct sk_ntp_ts t2;

		back = sk_ntp_ts_to_ns(t, ref);
		if (back - ref < -(INT64_C(2147483649) * NS) ||
		    back - ref > INT64_C(2147483649) * NS)
			abort();
		t2 = sk_ntp_ts_from_ns(back);
		if (t2.sec != t.sec && t2.sec != t.sec + 1)
			abort();
	}

	/* 16.16: floor below 65536 s, saturate at and above it. */
	u = get64(b + 16);
	if (b[0] & 1)
		u %= 70000 * (uint64_t)NS;
	s = sk_ntp_short_from_ns(u);
	if (u >= 65536 * (uint64_t)NS) {
		if (s != UINT32_MAX)
			abort();
	} else {
		if (sk_ntp_short_to_ns(s) > u)
			abort();
		if (s != UINT32_MAX && sk_ntp_short_to_ns(s + 1) < u)
			abort();
	}
}

/* ---- ACL ----------------------------------------------------------- */

static int bit(const uint8_t *a, unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

static int ref_allows(const struct sk_acl *acl, const uint8_t *a, int v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0xff, 0xff };

	if (acl->n == 0)
		return 1;
	if (v6 && memcmp(a, mapped, 12) == 0) {
		a += 12;
		v6 = 0;
	}
	for (size_t i = 0; i < acl->n; i++) {
		const struct sk_cidr *c = &acl->e[i];
		unsigned j;

		if (c->v6 != v6)
			continue;
		for (j = 0; j < c->bits; j++)
			if (bit(c->addr, j) != bit(a, j))
				break;
		if (j == c->bits)
			return 1;
	}
	return 0;
}

/* Compare with the reference for a v4 or v6 address (exact-size copy). */
static void check_addr(const struct sk_acl *acl, const uint8_t *a, int v6)
{
	size_t n = v6 ? 16 : 4;
	uint8_t *copy = malloc(n);

	if (copy == NULL)
		abort();
	memcpy(copy, a, n);
	if (sk_acl_allows(acl, copy, v6) != ref_allows(acl, copy, v6))
		abort();
	free(copy);
}

static void fuzz_acl(const uint8_t *data, size_t size)
{
	size_t len = size < SK__TEXT_MAX ? size : SK__TEXT_MAX;
	char *text = malloc(len + 1);
	struct sk_acl acl;
	uint8_t a[16] = { 0 };

	if (text == NULL)
		abort();
	memcpy(text, data, len);
	text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (text[i] == ',')
			text[i] = '\0';
	memset(&acl, 0, sizeof(acl));

	for (size_t i = 0; i <= len; i += strlen(text + i) + 1) {
		struct sk_cidr c;
		struct sk_acl solo;
		size_t before = acl.n;
		int rc;

		rc = sk_cidr_parse(text + i, &c);
		if (rc != 0) {
			if (rc != -1)
				abort();
			continue;
		}
		if (c.v6 != 0 && c.v6 != 1)
			abort();
		if (c.bits > (c.v6 ? 128u : 32u))
			abort();
		memset(&solo, 0, sizeof(solo));
		if (sk_acl_add(&solo, &c) != 0 || solo.n != 1)
			abort();
		/* An entry allows its own address... */
		memcpy(a, c.addr, 16);
		if (!c.v6 || c.bits >= 96 ||
		    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0) {
			if (!sk_acl_allows(&solo, a, c.v6))
				abort();
		}
		/* ...and an IPv4 entry its mapped spelling. */
		if (!c.v6) {
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
			memcpy(a + 12, c.addr, 4);
			if (!sk_acl_allows(&solo, a, 1))
				abort();
		}
		/* The list takes SK_ACL_MAX entries, then refuses. */
		rc = sk_acl_add(&acl, &c);
		if (before < SK_ACL_MAX ? rc != 0 || acl.n != before + 1
					: rc != -1 || acl.n != before)
			abort();
	}

	/* Addresses from the input: raw, and as mapped IPv4. */
	if (size >= 16) {
		check_addr(&acl, data + size - 16, 1);
		check_addr(&acl, data + size - 4, 0);
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, data + size - 4, 4);
		check_addr(&acl, a, 1);
	}
	for (size_t i = 0; i < acl.n; i++) {
		check_addr(&acl, acl.e[i].addr, acl.e[i].v6);
		if (!acl.e[i].v6 && !sk_acl_allows(&acl, acl.e[i].addr, 0))
			abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_packet(data, size);
	fuzz_time(data, size);
	fuzz_acl(data, size);
	return 0;
}
