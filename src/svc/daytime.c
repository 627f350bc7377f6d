/* daytime.c: RFC 867 over TCP (send and close) and UDP (any datagram). */
#include "svc_daytime.h"

#include "../proto/daytime.h"
#include "clock.h"

static void sk__daytime_accept(struct sk_conn *c)
{
	char out[SK_DAYTIME_MAX];
	struct tm tm;
	size_t n;

	sk_clock_now(&tm);
	n = sk_daytime_format(&tm, out, sizeof(out));
	sk_conn_write(c, out, n);
	sk_conn_end(c);
}

static int sk__daytime_udp(struct sk_svc *s, const char *in, size_t len,
			   char *out, size_t cap)
{
	struct tm tm;

	(void)s;
	(void)in;
	(void)len;
	sk_clock_now(&tm);
	return (int)sk_daytime_format(&tm, out, cap);
}

const struct sk_service sk_daytime = {
	.name = "daytime",
	.transports = SK_TCP | SK_UDP,
	.port = 10013,
	.summary = "RFC 867 daytime",
	.tcp_accept = sk__daytime_accept,
	.udp_reply = sk__daytime_udp,
	.udp_max_out = SK_DAYTIME_MAX,
};
