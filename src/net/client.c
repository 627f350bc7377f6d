/* client.c: blocking one-shot exchanges with poll() timeouts. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../proto/addr.h"
#include "sockaddr.h"

int64_t sk_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int sk_target_resolve(struct sk_target *t, const char *hostport,
		      uint16_t defport, int socktype, char *err, size_t errcap)
{
	char host[SK_HOST_MAX];
	uint16_t port = defport;
	int rc;

	if (socktype == SOCK_STREAM && strncmp(hostport, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&t->addr[0];
		size_t n = strlen(hostport + 5);

		if (n == 0 || n >= sizeof(un->sun_path)) {
			snprintf(err, errcap, "'%s': %s", hostport,
				 n == 0 ? "no socket path after unix:"
					: sk_addr_strerror(SK_ADDR_E_PATH));
			return -1;
		}
		memset(un, 0, sizeof(*un));
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, hostport + 5, n);
		snprintf(t->name, sizeof(t->name), "%s", hostport);
		t->naddr = 1;
		return 0;
	}
	rc = sk_hostport_parse(hostport, host, &port, SK_HP_PORT_OPTIONAL);
	if (rc != 0) {
		snprintf(err, errcap, "'%s': %s", hostport, sk_addr_strerror(rc));
		return -1;
	}
	if (strchr(host, ':') != NULL)
		snprintf(t->name, sizeof(t->name), "[%s]:%u", host, port);
	else
		snprintf(t->name, sizeof(t->name), "%s:%u", host, port);
	rc = sk_resolve(host, port, socktype, 0, t->addr, 8);
	if (rc < 0) {
		snprintf(err, errcap, "%s: %s", t->name, gai_strerror(rc));
		return -1;
	}
	t->naddr = rc;
	return 0;
}

static int64_t sk__mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events until deadline (monotonic ms).
 * Returns 0, -ETIMEDOUT or a negative errno. */
static int sk__wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { fd, events, 0 };

	for (;;) {
		int64_t left = deadline - sk__mono_ms();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* recv() that also reports when the kernel received the datagram
 * (SO_TIMESTAMPNS), which leaves out our own wake-up latency; falls back
 * to the clock when the kernel gives no stamp. */
static ssize_t sk__recv_stamped(int fd, void *buf, size_t cap, int64_t *ns)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec))];
	} control;
	struct iovec iov = { buf, cap };
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = control.buf;
	m.msg_controllen = sizeof(control.buf);
	n = recvmsg(fd, &m, MSG_DONTWAIT);
	if (n < 0 || ns == NULL)
		return n;
	*ns = 0;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	}
	if (*ns == 0)
		*ns = sk_realtime_ns();
	return n;
}

ssize_t sk_udp_exchange(const struct sk_target *t, const void *req,
			size_t len, void *resp, size_t cap, unsigned tries,
			unsigned timeout_ms, int64_t *sent_ns, int64_t *recv_ns)
{
	ssize_t last = -ETIMEDOUT;

	for (int a = 0; a < t->naddr; a++) {
		const struct sockaddr *sa = (const struct sockaddr *)&t->addr[a];
		int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			last = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 },
			   sizeof(int));
		/* connect() makes the kernel drop datagrams from anyone else
		 * and report ICMP port-unreachable as ECONNREFUSED. */
		if (connect(fd, sa, sk_sockaddr_len(sa)) != 0) {
			last = -errno;
			close(fd);
			continue;
		}
		for (unsigned i = 0; i < tries; i++) {
			int64_t deadline = sk__mono_ms() + timeout_ms;
			ssize_t n;
			int rc;

			if (sent_ns != NULL)
				*sent_ns = sk_realtime_ns();
			if (send(fd, req, len, 0) < 0) {
				last = -errno;
				break;
			}
			for (;;) {
				rc = sk__wait(fd, POLLIN, deadline);
				if (rc != 0)
					break;
				n = sk__recv_stamped(fd, resp, cap, recv_ns);
				if (n >= 0) {
					close(fd);
					return n;
				}
				if (errno != EAGAIN && errno != EINTR) {
					rc = -errno;
					break;
				}
			}
			last = rc;
			if (rc != -ETIMEDOUT)
				break;
		}
		close(fd);
	}
	return last;
}

ssize_t sk_tcp_exchange(const struct sk_target *t, const void *req,
			size_t len, int shut, void *resp, size_t cap,
			unsigned timeout_ms, int64_t *sent_ns, int64_t *recv_ns)
{
	ssize_t last = -ECONNREFUSED;

	for (int a = 0; a < t->naddr; a++) {
		const struct sockaddr *sa = (const struct sockaddr *)&t->addr[a];
		int fd = socket(sa->sa_family,
				SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int64_t deadline = sk__mono_ms() + timeout_ms;
		size_t got = 0, off = 0;
		int rc, soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			last = -errno;
			continue;
		}
		if (connect(fd, sa, sk_sockaddr_len(sa)) != 0 &&
		    errno != EINPROGRESS) {
			last = -errno;
			close(fd);
			continue;
		}
		rc = sk__wait(fd, POLLOUT, deadline);
		if (rc == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
		    soerr != 0)
			rc = -soerr;
		if (rc != 0) {
			last = rc;
			close(fd);
			continue;
		}
		if (sent_ns != NULL)
			*sent_ns = sk_realtime_ns();
		while (off < len && rc == 0) {
			ssize_t n = send(fd, (const char *)req + off, len - off,
					 MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
			else if (errno == EAGAIN)
				rc = sk__wait(fd, POLLOUT, deadline);
			else if (errno != EINTR)
				rc = -errno;
		}
		if (rc == 0 && shut)
			shutdown(fd, SHUT_WR);
		while (rc == 0 && got < cap) {
			ssize_t n = recv(fd, (char *)resp + got, cap - got, 0);

			if (n > 0) {
				if (got == 0 && recv_ns != NULL)
					*recv_ns = sk_realtime_ns();
				got += (size_t)n;
				deadline = sk__mono_ms() + timeout_ms;
			} else if (n == 0) {
				break;
			} else if (errno == EAGAIN) {
				rc = sk__wait(fd, POLLIN, deadline);
			} else if (errno != EINTR) {
				rc = -errno;
			}
		}
		close(fd);
		if (rc != 0 && got == 0)
			return rc;
		return (ssize_t)got;
	}
	return last;
}

int sk_stream_connect(const struct sk_target *t, unsigned timeout_ms)
{
	int last = -ECONNREFUSED;

	for (int a = 0; a < t->naddr; a++) {
		const struct sockaddr *sa = (const struct sockaddr *)&t->addr[a];
		int fd = socket(sa->sa_family,
				SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int64_t deadline = sk__mono_ms() + timeout_ms;
		int rc = 0, soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			last = -errno;
			continue;
		}
		if (connect(fd, sa, sk_sockaddr_len(sa)) != 0) {
			if (errno == EINPROGRESS)
				rc = sk__wait(fd, POLLOUT, deadline);
			else
				rc = -errno;
			if (rc == 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
				    0 &&
			    soerr != 0)
				rc = -soerr;
		}
		if (rc == 0)
			return fd;
		last = rc;
		close(fd);
	}
	return last;
}
