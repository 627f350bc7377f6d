/* time.c: RFC 868 over TCP (send and close) and UDP (any datagram). */
#include "svc_time.h"

#include <string.h>

#include "../proto/rfc868.h"
#include "clock.h"

static void sk__time_accept(struct sk_conn *c)
{
	uint8_t out[SK_RFC868_LEN];

	sk_rfc868_encode(sk_clock_now(NULL), out);
	sk_conn_write(c, out, sizeof(out));
	sk_conn_end(c);
}

static int sk__time_udp(struct sk_svc *s, const char *in, size_t len,
			char *out, size_t cap)
{
	uint8_t v[SK_RFC868_LEN];

	(void)s;
	(void)in;
	(void)len;
	if (cap < sizeof(v))
		return -1;
	sk_rfc868_encode(sk_clock_now(NULL), v);
	memcpy(out, v, sizeof(v));
	return (int)sizeof(v);
}

const struct sk_service sk_time = {
	.name = "time",
	.transports = SK_TCP | SK_UDP,
	.port = 10037,
	.summary = "RFC 868 time (32-bit seconds since 1900)",
	.tcp_accept = sk__time_accept,
	.udp_reply = sk__time_udp,
	.udp_max_out = SK_RFC868_LEN,
};
