/*
 * timefmt.c: the tutorial's time-format service.
 *
 * UDP: one datagram is one format; one reply. A datagram over
 * SK_TIMEFMT_MAX_IN bytes is malformed and dropped silently by the server
 * before the rate limit (it is counted in the drop summary). A refused
 * format gets "error: ...".
 * TCP: each line is a format and gets one line back, ended as the
 * request was (LF or CRLF); the connection stays open. A reply that would
 * hold a line break (%n) is refused.
 */
#include "svc_timefmt.h"

#include <string.h>

#include "../net/server.h"
#include "../proto/line.h"
#include "../proto/timefmt.h"
#include "clock.h"

static void sk__timefmt_read(struct sk_conn *c, const char *buf, size_t len)
{
	struct sk_line *lb = sk_conn_line(c);

	while (len > 0) {
		char out[SK_TIMEFMT_MAX_OUT + 2];
		const char *line = NULL;
		size_t used, ll = 0, n;
		int crlf = 0, rc;
		struct tm tm;

		rc = sk_line_next(lb, buf, len, &used, &line, &ll, &crlf);
		buf += used;
		len -= used;
		if (rc == SK_LINE_PARTIAL)
			continue;
		sk_clock_now(&tm);
		/* An over-long line is answered as soon as the limit is
		 * passed, before its end (and so its CR) is seen. */
		if (rc == SK_LINE_TOOLONG)
			n = sk_timefmt_reply_line("", SK_TIMEFMT_MAX_IN + 1, &tm,
						  out, SK_TIMEFMT_MAX_OUT);
		else
			n = sk_timefmt_reply_line(line, ll, &tm, out,
						  SK_TIMEFMT_MAX_OUT);
		if (crlf)
			out[n++] = '\r';
		out[n++] = '\n';
		if (sk_conn_write(c, out, n) != 0)
			return;
	}
}

static int sk__timefmt_udp(const struct sk_listener *l, const char *in,
			   size_t len, char *out, size_t cap)
{
	struct tm tm;

	(void)l;
	if (len > SK_TIMEFMT_MAX_IN)
		return -1;
	sk_clock_now(&tm);
	return (int)sk_timefmt_reply(in, len, &tm, out, cap);
}

const struct sk_service sk_timefmt = {
	.name = "timefmt",
	.transports = SK_TCP | SK_UDP,
	.port = 8083,
	.summary = "local time in a strftime format (the tutorial's protocol)",
	.tcp_read = sk__timefmt_read,
	.udp_reply = sk__timefmt_udp,
	.udp_max_in = SK_TIMEFMT_MAX_IN,
};
