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

#include "../proto/line.h"
#include "../proto/timefmt.h"
#include "clock.h"

/* A TCP connection's state. */
struct sk__timefmt_conn {
	struct sk_line line; /* the line framer */
};

/* Up to SK_CONN_LINES_PER_TURN lines, whose replies leave in one write;
 * returns the bytes of input used. */
static size_t sk__timefmt_read(struct sk_conn *c, const char *buf, size_t len)
{
	/* Each reply is at most SK_TIMEFMT_MAX_OUT bytes and its CR LF. */
	char out[SK_CONN_LINES_PER_TURN * (SK_TIMEFMT_MAX_OUT + 2)];
	struct sk__timefmt_conn *tc = sk_conn_data(c);
	size_t total = 0, olen = 0;
	unsigned lines = 0;
	struct tm tm;

	sk_clock_now(&tm);
	while (total < len && lines < SK_CONN_LINES_PER_TURN) {
		const char *line = NULL;
		size_t used, ll = 0, n;
		int crlf = 0, rc;

		rc = sk_line_next(&tc->line, buf + total, len - total, &used,
				  &line, &ll, &crlf);
		total += used;
		if (rc == SK_LINE_PARTIAL)
			continue;
		/* An over-long line is answered as soon as the limit is
		 * passed, before its end (and so its CR) is seen. */
		if (rc == SK_LINE_TOOLONG)
			n = sk_timefmt_error(SK_TIMEFMT_E_LONG, out + olen,
					     SK_TIMEFMT_MAX_OUT);
		else
			n = sk_timefmt_reply_line(line, ll, &tm, out + olen,
						  SK_TIMEFMT_MAX_OUT);
		olen += n;
		if (crlf)
			out[olen++] = '\r';
		out[olen++] = '\n';
		lines++;
		sk_conn_progress(c);
	}
	if (olen > 0)
		sk_conn_write(c, out, olen);
	return total;
}

static void sk__timefmt_accept(struct sk_conn *c)
{
	struct sk__timefmt_conn *tc = sk_conn_data(c);

	sk_line_init(&tc->line);
}

static int sk__timefmt_udp(struct sk_svc *s, const char *in, size_t len,
			   char *out, size_t cap)
{
	struct tm tm;

	(void)s;
	if (len > SK_TIMEFMT_MAX_IN)
		return -1;
	sk_clock_now(&tm);
	return (int)sk_timefmt_reply(in, len, &tm, out, cap);
}

const struct sk_service sk_timefmt = {
	.name = "timefmt",
	.transports = SK_TCP | SK_UDP,
	.port = 8083,
	.summary = "local time in a strftime format (the tutorial's)",
	.conn_size = sizeof(struct sk__timefmt_conn),
	.tcp_accept = sk__timefmt_accept,
	.tcp_read = sk__timefmt_read,
	.udp_reply = sk__timefmt_udp,
	.udp_max_in = SK_TIMEFMT_MAX_IN,
	.udp_max_out = SK_TIMEFMT_MAX_OUT,
};
