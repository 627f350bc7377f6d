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

#include "../net/client.h"
#include "../net/sockaddr.h"
#include "cli.h"

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

			if (p[i].fd >= 0 && p[i].revents == 0)
				continue;
			n = p[i].fd >= 0 ? recv(p[i].fd, buf, sizeof(buf), 0) : -1;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 10000000, window = 0;
	unsigned duration_ms = 3000;
	struct sk_target t;
	double start, last = 0;
	char err[512];
	long got;
	int c, udp;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:w:h", opts, NULL)) != -1) {
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
	else
		return sk_usage_error("bench", "unknown KIND '%s' (know udp, tcp)",
				      argv[optind]);
	if (window == 0)
		window = udp ? 256 : 32;
	if (sk_target_resolve(&t, argv[optind + 1], 0,
			      udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: bench: %s\n", err);
		return SK_EXIT_FAIL;
	}
	start = sk__now();
	if (udp)
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
	printf("%s %s: %ld replies in %.2f s = %.0f per second\n", argv[optind],
	       t.name, got, last - start, (double)got / (last - start));
	return SK_EXIT_OK;
}
