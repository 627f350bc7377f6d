/*
 * ntp_limit.c: the "physical limit" for `make bench`'s NTP figures.
 *
 * A bare loop that does only the kernel's part of serving NTP: one
 * blocking recvmmsg() of up to 64 requests, then one sendmmsg() that sends
 * each back as its reply, changed in place: the mode becomes 4 (server) and
 * the origin timestamp (bytes 24..31) becomes the request's transmit
 * timestamp (bytes 40..47). Nothing else: no validation, no access control,
 * no rate limit, no clock reads, no receive timestamps. The reply's other
 * fields are whatever the request held, so its receive and transmit
 * timestamps mean nothing; only the load generator's reply count does.
 * One socket, one thread; the bench script pins it to the server's CPU.
 *
 * The socket is set up as sockit's NTP workers set up theirs (receive
 * buffer, no path MTU discovery), so the difference between the two is
 * sockit's own work plus the timestamps it asks the kernel for.
 *
 * usage: sk_ntp_limit ADDRESS PORT   (a numeric address; PORT 0 picks one)
 *
 * Once bound it prints "ready ADDRESS PORT" on stdout. SIGTERM or SIGINT
 * ends it: it prints how many replies it sent on stderr and exits 0.
 * Not installed, and meant for loopback benchmarks only: it answers anyone
 * who can reach it, though never with more bytes than they sent.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "../src/proto/sk_limits.h"

/* Requests per recvmmsg(), as sockit's SK_BATCH_MSGS. */
#define SK__BATCH 64
/* Bytes of an NTP header, and of each reply. */
#define SK__NTP_LEN 48
/* Longest a blocked recvmmsg() waits before the stop flag is looked at
 * again; covers a signal that lands just before the call. */
#define SK__STOP_CHECK_MS 100

static volatile sig_atomic_t sk__stop;

static void sk__on_signal(int sig)
{
	(void)sig;
	sk__stop = 1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[SK__BATCH][SK__NTP_LEN];
	static struct sockaddr_storage peer[SK__BATCH];
	struct mmsghdr m[SK__BATCH];
	struct iovec iov[SK__BATCH];
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage at;
	socklen_t atlen = sizeof(at);
	struct timeval tv = { 0, SK__STOP_CHECK_MS * 1000 };
	struct sigaction sa;
	char host[NI_MAXHOST], port[NI_MAXSERV];
	unsigned long replies = 0, unsent = 0;
	int fd = -1, size = SK_UDP_RCVBUF, rc = 1, err;

	if (argc != 3) {
		fprintf(stderr, "usage: sk_ntp_limit ADDRESS PORT\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sk__on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal ends a blocked recvmmsg() with EINTR. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	err = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "sk_ntp_limit: %s %s: %s\n", argv[1], argv[2],
			gai_strerror(err));
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto error_errno;
	if (ai->ai_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER,
			   &(int){ IP_PMTUDISC_PROBE }, sizeof(int));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER,
			   &(int){ IPV6_PMTUDISC_PROBE }, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&at, &atlen) != 0)
		goto error_errno;
	err = getnameinfo((struct sockaddr *)&at, atlen, host, sizeof(host),
			  port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	if (err != 0) {
		fprintf(stderr, "sk_ntp_limit: %s\n", gai_strerror(err));
		goto out;
	}
	printf("ready %s %s\n", host, port);
	fflush(stdout);

	memset(m, 0, sizeof(m));
	for (int i = 0; i < SK__BATCH; i++) {
		m[i].msg_hdr.msg_name = &peer[i];
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		iov[i].iov_base = buf[i];
	}
	while (!sk__stop) {
		int n, sent = 0;

		for (int i = 0; i < SK__BATCH; i++) {
			m[i].msg_hdr.msg_namelen = sizeof(peer[i]);
			iov[i].iov_len = SK__NTP_LEN;
		}
		/* Blocks for the first request, then takes what is queued. */
		n = recvmmsg(fd, m, SK__BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto error_errno;
		}
		for (int i = 0; i < n; i++) {
			uint8_t *b = buf[i];

			b[0] = (uint8_t)((b[0] & 0xf8) | 4);
			memcpy(b + 24, b + 40, 8);
			/* The request was truncated to 48 bytes; a shorter one
			 * gets no more back than it sent. */
			iov[i].iov_len = m[i].msg_len;
		}
		while (sent < n) {
			int k = sendmmsg(fd, m + sent, (unsigned)(n - sent), 0);

			if (k > 0) {
				sent += k;
				replies += (unsigned)k;
			} else if (k < 0 && errno == EINTR) {
				continue;
			} else {
				/* This peer's reply failed: skip it. */
				sent++;
				unsent++;
			}
		}
	}
	fprintf(stderr, "sk_ntp_limit: %lu replies, %lu unsent\n", replies,
		unsent);
	rc = 0;
	goto out;
error_errno:
	fprintf(stderr, "sk_ntp_limit: %s\n", strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}
