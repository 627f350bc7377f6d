/* ntp.c: NTP header codec, request filter, replies and RFC 5905 maths. */
#include "ntp.h"

#include <string.h>

#include "be.h"
#include "rfc868.h"

static struct sk_ntp_ts sk__get_ts(const uint8_t *p)
{
	struct sk_ntp_ts t = { sk_be_get32(p), sk_be_get32(p + 4) };

	return t;
}

static void sk__put_ts(uint8_t *p, struct sk_ntp_ts t)
{
	sk_be_put32(p, t.sec);
	sk_be_put32(p + 4, t.frac);
}

/*
 * After the header: extension fields (RFC 7822), each at least 16 bytes, a
 * multiple of 4, with its length in bytes 2-3, then an optional key ID and
 * MAC. Anything of 24 bytes or less that is left is a MAC: 4 (a bare key
 * ID, the crypto-NAK), 20 (MD5) or 24 (SHA-1); that is why RFC 7822 7.5
 * wants a last field without a MAC to be 28 bytes or more. Before NTPv4
 * there are no extension fields; NTPv3's DES MAC is 12 bytes.
 */
static int sk__trailer(const uint8_t *p, size_t len, unsigned version,
		       struct sk_ntp_pkt *pkt)
{
	while (version == 4 && len > 24) {
		size_t flen;

		flen = (size_t)p[2] << 8 | p[3];
		if (flen < 16 || flen % 4 != 0 || flen > len)
			return SK_NTP_E_EXT;
		pkt->n_ext++;
		p += flen;
		len -= flen;
	}
	if (len == 0)
		return 0;
	if (len == 4 || len == 20 || len == 24 || (version < 4 && len == 12)) {
		pkt->mac_len = (unsigned)len;
		return 0;
	}
	return SK_NTP_E_EXT;
}

int sk_ntp_decode(const uint8_t *b, size_t len, struct sk_ntp_pkt *p)
{
	if (len < SK_NTP_LEN)
		return SK_NTP_E_SHORT;
	if (len % 4 != 0)
		return SK_NTP_E_ALIGN;
	if (len > SK_NTP_MAX_LEN)
		return SK_NTP_E_LONG;
	memset(p, 0, sizeof(*p));
	p->leap = b[0] >> 6;
	p->version = (b[0] >> 3) & 7;
	p->mode = b[0] & 7;
	p->stratum = b[1];
	p->poll = (int8_t)b[2];
	p->precision = (int8_t)b[3];
	p->root_delay = sk_be_get32(b + 4);
	p->root_disp = sk_be_get32(b + 8);
	p->refid = sk_be_get32(b + 12);
	p->ref = sk__get_ts(b + 16);
	p->org = sk__get_ts(b + 24);
	p->rx = sk__get_ts(b + 32);
	p->tx = sk__get_ts(b + 40);
	return sk__trailer(b + SK_NTP_LEN, len - SK_NTP_LEN, p->version, p);
}

void sk_ntp_encode(const struct sk_ntp_pkt *p, uint8_t out[SK_NTP_LEN])
{
	out[0] = (uint8_t)((p->leap & 3) << 6 | (p->version & 7) << 3 |
			   (p->mode & 7));
	out[1] = (uint8_t)p->stratum;
	out[2] = (uint8_t)(int8_t)p->poll;
	out[3] = (uint8_t)(int8_t)p->precision;
	sk_be_put32(out + 4, p->root_delay);
	sk_be_put32(out + 8, p->root_disp);
	sk_be_put32(out + 12, p->refid);
	sk__put_ts(out + 16, p->ref);
	sk__put_ts(out + 24, p->org);
	sk__put_ts(out + 32, p->rx);
	sk__put_ts(out + 40, p->tx);
}

int sk_ntp_check_request(const struct sk_ntp_pkt *req)
{
	if (req->version < 1 || req->version > 4)
		return SK_NTP_E_VERSION;
	if (req->mode == SK_NTP_MODE_CLIENT)
		return SK_NTP_MODE_SERVER;
	/* The answer is mode 4 even then, as chrony's: a mode-0 reply would
	 * itself pass this filter, and two servers could bounce it forever. */
	if (req->version == 1 && req->mode == SK_NTP_MODE_RESERVED)
		return SK_NTP_MODE_SERVER;
	return SK_NTP_E_MODE;
}

size_t sk_ntp_reply(const struct sk_ntp_pkt *req, int reply_mode,
		    const struct sk_ntp_clock *clk, struct sk_ntp_ts rx,
		    uint8_t out[SK_NTP_LEN])
{
	struct sk_ntp_pkt r;

	memset(&r, 0, sizeof(r));
	r.leap = clk->leap;
	r.version = req->version;
	r.mode = (unsigned)reply_mode;
	r.stratum = clk->stratum;
	r.poll = req->poll;
	r.precision = clk->precision;
	r.root_delay = clk->root_delay;
	r.root_disp = clk->root_disp;
	r.refid = clk->refid;
	r.ref = clk->ref;
	r.org = req->tx;
	r.rx = rx;
	sk_ntp_encode(&r, out);
	return SK_NTP_LEN;
}

size_t sk_ntp_kod(const struct sk_ntp_pkt *req, int reply_mode,
		  const char code[4], uint8_t out[SK_NTP_LEN])
{
	struct sk_ntp_pkt r;

	memset(&r, 0, sizeof(r));
	r.leap = SK_NTP_LEAP_UNSYNC;
	r.version = req->version;
	r.mode = (unsigned)reply_mode;
	r.stratum = 0;
	r.poll = req->poll;
	r.refid = sk_ntp_refid_ascii(code);
	r.org = req->tx;
	sk_ntp_encode(&r, out);
	return SK_NTP_LEN;
}

void sk_ntp_stamp_tx(uint8_t pkt[SK_NTP_LEN], struct sk_ntp_ts tx)
{
	sk__put_ts(pkt + 40, tx);
}

struct sk_ntp_ts sk_ntp_ts_from_ns(int64_t ns)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	struct sk_ntp_ts t;

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	t.sec = sk_rfc868_from_unix(s);
	/* r * 2^32 / 10^9, rounded down; r < 10^9 so this fits. */
	t.frac = (uint32_t)(((uint64_t)r << 32) / 1000000000u);
	return t;
}

int64_t sk_ntp_ts_to_ns(struct sk_ntp_ts ts, int64_t ref_ns)
{
	int64_t s = sk_rfc868_to_unix(ts.sec, ref_ns / 1000000000);
	/* Round to the nearest ns. */
	uint64_t ns = ((uint64_t)ts.frac * 1000000000u + (1u << 31)) >> 32;

	return s * 1000000000 + (int64_t)ns;
}

uint32_t sk_ntp_short_from_ns(uint64_t ns)
{
	uint64_t s = ns / 1000000000u, r = ns % 1000000000u;

	if (s >= 65536)
		return UINT32_MAX;
	return (uint32_t)(s << 16 | ((r << 16) / 1000000000u));
}

uint64_t sk_ntp_short_to_ns(uint32_t v)
{
	return ((uint64_t)v * 1000000000u) >> 16;
}

uint32_t sk_ntp_refid_ascii(const char code[4])
{
	return sk_be_get32((const uint8_t *)code);
}

void sk_ntp_offset_delay(int64_t t1, int64_t t2, int64_t t3, int64_t t4,
			 int64_t *offset, int64_t *delay)
{
	*offset = ((t2 - t1) + (t3 - t4)) / 2;
	*delay = (t4 - t1) - (t3 - t2);
}
