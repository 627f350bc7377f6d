/*
 * bench.c: `sockit bench`, load generators for servers on this machine.
 *
 * udp: one connected socket keeps up to `window` empty datagrams in
 * flight, sent with sendmmsg() and collected with recvmmsg(). Any reply
 * counts. If nothing comes back for 50 ms the window is presumed lost and
 * refilled, so a server that drops under load is measured, not stalled.
 *
 * tcp: up to `window` connections at once; each connects, reads until
 * the server closes, and counts as one when the reply was not empty.
 *
 * Both stop at --count replies or --duration seconds, whichever is first.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include "../net/client.h"
#include "../net/sockaddr.h"
#include "../proto/ntp.h"
#include "cli.h"

#define SK__MAX_SOURCES 64      /* ntp: client sockets */
#define SK__MAX_SAMPLES 4000000 /* ntp: server times kept */
#define SK__SEQ_RING 65536      /* ntp: outstanding cookies per source */

#define SK__BATCH 64        /* datagrams per sendmmsg()/recvmmsg() */
#define SK__MAX_WINDOW 4096 /* requests in flight */
#define SK__LOST_MS 50      /* silence after which a UDP window is lost */

static double sk__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long sk__bench_udp(const struct sockaddr *sa, unsigned window,
			  unsigned long count, double end, double *last)
{
	static char rbuf[SK__BATCH][64];
	struct mmsghdr out[SK__BATCH], in[SK__BATCH];
	struct iovec iov[SK__BATCH];
	double quiet_since = sk__now();
	unsigned long got = 0;
	unsigned inflight = 0;
	int fd;

	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, sa, sk_sockaddr_len(sa)) != 0)
		return -errno;
	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (int i = 0; i < SK__BATCH; i++) {
		iov[i].iov_base = rbuf[i];
		iov[i].iov_len = sizeof(rbuf[i]);
		in[i].msg_hdr.msg_iov = &iov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	while (got < count) {
		struct pollfd p = { fd, POLLIN, 0 };
		double t = sk__now();
		int n;

		if (t >= end)
			break;
		if (t - quiet_since > SK__LOST_MS / 1000.0) {
			inflight = 0;
			quiet_since = t;
		}
		while (inflight < window) {
			unsigned b = window - inflight;

			n = sendmmsg(fd, out, b < SK__BATCH ? b : SK__BATCH, 0);
			if (n <= 0)
				break;
			inflight += (unsigned)n;
		}
		if (poll(&p, 1, 10) <= 0)
			continue;
		while ((n = recvmmsg(fd, in, SK__BATCH, MSG_DONTWAIT, NULL)) > 0) {
			got += (unsigned)n;
			inflight = inflight > (unsigned)n ? inflight - (unsigned)n : 0;
			quiet_since = sk__now();
		}
	}
	*last = sk__now();
	close(fd);
	return (long)got;
}

/* One NTP load source: its own socket (and, on 127/8, its own address). */
struct sk__src {
	int fd;                       /* connected to the server */
	uint64_t next;                /* next sequence number */
	unsigned inflight;            /* requests not yet answered */
	uint8_t sent[SK__SEQ_RING / 8]; /* cookies still expected */
};

static int sk__cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * NTP: `sources` sockets each keep up to `window` client requests in
 * flight. A request's transmit timestamp is a cookie (a sequence number
 * xor a secret); a reply counts only when its origin timestamp echoes a
 * cookie still outstanding. The server's processing time is read from
 * each counted reply as transmit minus receive timestamp.
 */
static long sk__bench_ntp(const struct sockaddr *sa, unsigned sources,
			  unsigned window, unsigned long count, double end,
			  double *last, unsigned long *bogus, int64_t *med,
			  int64_t *p99)
{
	static struct sk__src src[SK__MAX_SOURCES];
	static uint8_t req[SK__BATCH][SK_NTP_LEN], rbuf[SK__BATCH][64];
	static int64_t *samples;
	struct mmsghdr out[SK__BATCH], in[SK__BATCH];
	struct iovec oiov[SK__BATCH], iiov[SK__BATCH];
	uint64_t secret = 0;
	unsigned long got = 0, ns = 0;
	double quiet_since;
	struct pollfd p[SK__MAX_SOURCES];

	long rc = 0;

	for (unsigned s = 0; s < sources; s++) {
		memset(&src[s], 0, sizeof(src[s]));
		src[s].fd = -1;
	}
	samples = calloc(SK__MAX_SAMPLES, sizeof(*samples));
	if (samples == NULL || getrandom(&secret, sizeof(secret), 0) < 0) {
		rc = -ENOMEM;
		goto error;
	}
	for (unsigned s = 0; s < sources; s++) {
		struct sockaddr_storage me;

		src[s].fd = socket(sa->sa_family,
				   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (src[s].fd < 0) {
			rc = -errno;
			goto error;
		}
		setsockopt(src[s].fd, SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 },
			   sizeof(int));
		/* On IPv4 loopback each source gets its own address. */
		memset(&me, 0, sizeof(me));
		if (sa->sa_family == AF_INET &&
		    (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
		     24) == 127) {
			struct sockaddr_in *m4 = (struct sockaddr_in *)&me;

			m4->sin_family = AF_INET;
			m4->sin_addr.s_addr = htonl(0x7f000101u + s);
			if (bind(src[s].fd, (struct sockaddr *)m4, sizeof(*m4))) {
				rc = -errno;
				goto error;
			}
		}
		if (connect(src[s].fd, sa, sk_sockaddr_len(sa)) != 0) {
			rc = -errno;
			goto error;
		}
		p[s].fd = src[s].fd;
		p[s].events = POLLIN;
	}
	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (int i = 0; i < SK__BATCH; i++) {
		req[i][0] = 0 << 6 | 4 << 3 | SK_NTP_MODE_CLIENT;
		oiov[i].iov_base = req[i];
		oiov[i].iov_len = SK_NTP_LEN;
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
		iiov[i].iov_base = rbuf[i];
		iiov[i].iov_len = sizeof(rbuf[i]);
		in[i].msg_hdr.msg_iov = &iiov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	quiet_since = sk__now();
	while (got < count) {
		double t = sk__now();

		if (t >= end)
			break;
		if (t - quiet_since > SK__LOST_MS / 1000.0) {
			/* Presumed lost: forget them and send afresh. */
			for (unsigned s = 0; s < sources; s++) {
				src[s].inflight = 0;
				memset(src[s].sent, 0, sizeof(src[s].sent));
			}
			quiet_since = t;
		}
		for (unsigned s = 0; s < sources; s++) {
			struct sk__src *c = &src[s];
			unsigned b = window - c->inflight;
			int n;

			if (c->inflight >= window)
				continue;
			if (b > SK__BATCH)
				b = SK__BATCH;
			for (unsigned i = 0; i < b; i++) {
				uint64_t seq = c->next + i;
				uint64_t ck = seq ^ secret;

				for (int k = 0; k < 8; k++)
					req[i][40 + k] = (uint8_t)(ck >> (56 - 8 * k));
			}
			n = sendmmsg(c->fd, out, b, 0);
			for (int i = 0; i < n; i++) {
				uint64_t seq = c->next + (uint64_t)i;

				c->sent[(seq % SK__SEQ_RING) / 8] |=
					(uint8_t)(1u << (seq % 8));
			}
			if (n > 0) {
				c->next += (uint64_t)n;
				c->inflight += (unsigned)n;
			}
		}
		if (poll(p, sources, 10) <= 0)
			continue;
		for (unsigned s = 0; s < sources; s++) {
			struct sk__src *c = &src[s];
			int n;

			if (!(p[s].revents & POLLIN))
				continue;
			while ((n = recvmmsg(c->fd, in, SK__BATCH, MSG_DONTWAIT,
					     NULL)) > 0) {
				quiet_since = sk__now();
				for (int i = 0; i < n; i++) {
					const uint8_t *r = rbuf[i];
					uint64_t ck = 0, seq, rx, tx;
					uint8_t bit;

					if (in[i].msg_len < SK_NTP_LEN) {
						(*bogus)++;
						continue;
					}
					for (int k = 0; k < 8; k++)
						ck = ck << 8 | r[24 + k];
					seq = ck ^ secret;
					bit = (uint8_t)(1u << (seq % 8));
					if (seq >= c->next ||
					    c->next - seq > SK__SEQ_RING ||
					    !(c->sent[(seq % SK__SEQ_RING) / 8] & bit)) {
						(*bogus)++;
						continue;
					}
					c->sent[(seq % SK__SEQ_RING) / 8] &=
						(uint8_t)~bit;
					if (c->inflight > 0)
						c->inflight--;
					if (r[1] == 0 && r[12] >= 'A' &&
					    r[12] <= 'Z') {
						/* stratum 0 with a kiss code:
						 * a KoD, not a time */
						(*bogus)++;
						continue;
					}
					got++;
					rx = tx = 0;
					for (int k = 0; k < 8; k++) {
						rx = rx << 8 | r[32 + k];
						tx = tx << 8 | r[40 + k];
					}
					if (ns < SK__MAX_SAMPLES)
						samples[ns++] = (int64_t)(
							((__int128)(int64_t)(tx - rx) *
							 1000000000) >> 32);
				}
			}
		}
	}
	*last = sk__now();
	if (ns > 0) {
		qsort(samples, ns, sizeof(*samples), sk__cmp_i64);
		*med = samples[ns / 2];
		*p99 = samples[ns * 99 / 100];
	}
	rc = (long)got;
error:
	for (unsigned s = 0; s < sources; s++)
		if (src[s].fd >= 0)
			close(src[s].fd);
	free(samples);
	return rc;
}

static int sk__tcp_open(const struct sockaddr *sa)
{
	int fd = socket(sa->sa_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, sa, sk_sockaddr_len(sa)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static long sk__bench_tcp(const struct sockaddr *sa, unsigned window,
			  unsigned long count, double end, double *last)
{
	static struct pollfd p[SK__MAX_WINDOW];
	static size_t bytes[SK__MAX_WINDOW];
	unsigned long got = 0, failed = 0;
	char buf[4096];

	for (unsigned i = 0; i < window; i++) {
		p[i].fd = sk__tcp_open(sa);
		p[i].events = POLLIN;
		bytes[i] = 0;
	}
	while (got < count && sk__now() < end && failed < 1000) {
		if (poll(p, window, 100) <= 0)
			continue;
		for (unsigned i = 0; i < window; i++) {
			ssize_t n;

			if (p[i].fd < 0) {
				/* A reconnect failed: try again. */
				p[i].fd = sk__tcp_open(sa);
				failed++;
				continue;
			}
			if (p[i].revents == 0)
				continue;
			n = recv(p[i].fd, buf, sizeof(buf), 0);
			if (n > 0) {
				bytes[i] += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n == 0 && bytes[i] > 0)
				got++;
			else
				failed++;
			if (p[i].fd >= 0)
				close(p[i].fd);
			p[i].fd = sk__tcp_open(sa);
			bytes[i] = 0;
		}
	}
	*last = sk__now();
	for (unsigned i = 0; i < window; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return failed >= 1000 && got == 0 ? -ECONNREFUSED : (long)got;
}

int sk_cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "sources", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 10000000, window = 0, sources = 8, bogus = 0;
	int64_t med = 0, p99 = 0;
	unsigned duration_ms = 3000;
	struct sk_target t;
	double start, last = 0;
	char err[512];
	long got;
	int c, udp, ntp = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:w:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (sk_parse_seconds(optarg, &duration_ms) != 0 ||
			    duration_ms > 60000)
				return sk_usage_error("bench", "--duration: '%s' "
						      "is not 0.001 to 60 seconds",
						      optarg);
			break;
		case 'n':
			if (sk_parse_uint(optarg, 1, 1000000000, &count) != 0)
				return sk_usage_error("bench", "--count: bad "
						      "number '%s'", optarg);
			break;
		case 'w':
			if (sk_parse_uint(optarg, 1, SK__MAX_WINDOW, &window) != 0)
				return sk_usage_error("bench", "--window: '%s' is "
						      "not 1 to %d", optarg,
						      SK__MAX_WINDOW);
			break;
		case 's':
			if (sk_parse_uint(optarg, 1, SK__MAX_SOURCES, &sources))
				return sk_usage_error("bench", "--sources: '%s' "
						      "is not 1 to %d", optarg,
						      SK__MAX_SOURCES);
			break;
		case 'h':
			return sk_help("bench");
		default:
			return sk_usage_error("bench", "bad option");
		}
	}
	if (argc - optind != 2)
		return sk_usage_error("bench", "expected KIND HOST:PORT");
	if (strcmp(argv[optind], "udp") == 0)
		udp = 1;
	else if (strcmp(argv[optind], "tcp") == 0)
		udp = 0;
	else if (strcmp(argv[optind], "ntp") == 0)
		udp = ntp = 1;
	else
		return sk_usage_error("bench", "unknown KIND '%s' (know udp, tcp, "
				      "ntp)", argv[optind]);
	if (window == 0)
		window = ntp ? 64 : udp ? 256 : 32;
	if (sk_target_resolve(&t, argv[optind + 1], 0,
			      udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: bench: %s\n", err);
		return SK_EXIT_FAIL;
	}
	start = sk__now();
	if (ntp)
		got = sk__bench_ntp((struct sockaddr *)&t.addr[0],
				    (unsigned)sources, (unsigned)window, count,
				    start + duration_ms / 1000.0, &last, &bogus,
				    &med, &p99);
	else if (udp)
		got = sk__bench_udp((struct sockaddr *)&t.addr[0],
				    (unsigned)window, count,
				    start + duration_ms / 1000.0, &last);
	else
		got = sk__bench_tcp((struct sockaddr *)&t.addr[0],
				    (unsigned)window, count,
				    start + duration_ms / 1000.0, &last);
	if (got < 0) {
		fprintf(stderr, "sockit: bench: %s: %s\n", t.name,
			strerror((int)-got));
		return SK_EXIT_FAIL;
	}
	if (got == 0) {
		fprintf(stderr, "sockit: bench: no reply from %s\n", t.name);
		return SK_EXIT_FAIL;
	}
	printf("%s %s: %ld replies in %.2f s = %.0f per second", argv[optind],
	       t.name, got, last - start, (double)got / (last - start));
	if (ntp)
		printf("; server time median %lld ns, p99 %lld ns; %lu bogus or "
		       "KoD",
		       (long long)med, (long long)p99, bogus);
	printf("\n");
	return SK_EXIT_OK;
}
