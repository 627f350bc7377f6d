/*
 * fanout_limit.c: the "physical limit" for `make bench`'s chat figures.
 *
 * A bare loop that does only the kernel's part of a chat room: it accepts
 * connections, reads from each, and writes every whole line it reads to
 * every other connection, unchanged, with one write() per receiver.
 * Nothing else: no nicks, no prefixes, no sanitising, no commands, no
 * flood or output limits, no queue: a write the kernel does not take
 * whole is dropped (and counted). The sockets are set up as sockit's chat
 * members are (TCP_NODELAY, SO_SNDBUF 32 KiB). One thread, one epoll
 * instance; the bench script pins it to the server's CPU.
 *
 * By default each line is its own write() per receiver. With -b, all the
 * whole lines of one read() go to each receiver in one write(): the limit
 * for a server that batches what one read brought. With -t, all the whole
 * lines read in one epoll_wait() batch (one loop turn) go to each receiver
 * in one write (a writev that leaves out the receiver's own lines): the
 * limit for a server that, as sockit's chat, writes once per receiver per
 * loop turn.
 *
 * So that `sockit bench chat` can pace its joins, the first connection is
 * told of each later one ("*** cN joined"); nobody else is told anything.
 *
 * usage: sk_fanout_limit [-b|-t] ADDRESS PORT   (PORT 0 picks one)
 *
 * Once listening it prints "ready ADDRESS PORT" on stdout. SIGTERM or
 * SIGINT ends it: it prints the lines it relayed, the writes it made and
 * the writes it dropped on stderr and exits 0. Not installed, and meant
 * for loopback benchmarks only: it relays anything from anyone.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

/* The most connections, and so descriptors, it serves. */
#define SK__MAX_CONN 50000
/* Bytes one read() takes; a partial line is kept for the next. */
#define SK__READ (64 * 1024)
/* The longest line kept whole; a longer one is cut there. */
#define SK__LINE_MAX 4096
/* epoll events per wake-up. */
#define SK__EVENTS 256
/* Each member's send buffer, as sockit's chat sets it
 * (SK_CHAT_SNDBUF_DEFAULT). */
#define SK__SNDBUF (32 * 1024)

static volatile sig_atomic_t sk__stop;

static void sk__on_signal(int sig)
{
	(void)sig;
	sk__stop = 1;
}

/* One connection. */
struct sk__conn {
	int fd;             /* -1: the slot is free */
	size_t keep;        /* bytes of a partial line in part */
	char *part;         /* SK__LINE_MAX bytes, allocated on first use */
};

static struct sk__conn sk__c[SK__MAX_CONN];
static int sk__nconn;        /* slots in use or freed, the highest + 1 */
static int sk__first = -1;   /* the connection told of joins */
static int sk__holes;        /* free slots below sk__nconn */
static unsigned long sk__lines, sk__writes, sk__dropped;

/* -t: the whole lines read this turn, and whose they are. */
static char sk__turn[SK__EVENTS * (SK__LINE_MAX + SK__READ)];
static size_t sk__turnlen;
static struct { int from; size_t off, len; } sk__chunk[SK__EVENTS];
static int sk__nchunk;

/* Write buf to every connection but from; one write() each. */
static void sk__relay(int from, const char *buf, size_t len)
{
	for (int i = 0; i < sk__nconn; i++) {
		ssize_t n;

		if (i == from || sk__c[i].fd < 0)
			continue;
		n = write(sk__c[i].fd, buf, len);
		sk__writes++;
		if (n != (ssize_t)len)
			sk__dropped++;
	}
}

/* -t, the end of a turn: everything read goes to each receiver in one
 * call, less its own lines. */
static void sk__relay_turn(void)
{
	struct iovec iov[SK__EVENTS];

	for (int i = 0; i < sk__nconn && sk__nchunk > 0; i++) {
		int k = 0, own = 0;
		size_t total = 0;
		ssize_t n;

		if (sk__c[i].fd < 0)
			continue;
		for (int j = 0; j < sk__nchunk; j++)
			own |= sk__chunk[j].from == i;
		if (!own) {
			n = write(sk__c[i].fd, sk__turn, sk__turnlen);
			total = sk__turnlen;
		} else {
			for (int j = 0; j < sk__nchunk; j++) {
				if (sk__chunk[j].from == i)
					continue;
				iov[k].iov_base = sk__turn + sk__chunk[j].off;
				iov[k].iov_len = sk__chunk[j].len;
				total += iov[k++].iov_len;
			}
			if (k == 0)
				continue;
			n = writev(sk__c[i].fd, iov, k);
		}
		sk__writes++;
		if (n != (ssize_t)total)
			sk__dropped++;
	}
	sk__nchunk = 0;
	sk__turnlen = 0;
}

static void sk__drop(int ep, int i)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, sk__c[i].fd, NULL);
	close(sk__c[i].fd);
	sk__c[i].fd = -1;
	sk__c[i].keep = 0;
	sk__holes++;
	if (i == sk__first)
		sk__first = -1;
}

/* Read once from connection i and relay its whole lines. */
static void sk__input(int ep, int i, int batch)
{
	static char buf[SK__LINE_MAX + SK__READ];
	struct sk__conn *c = &sk__c[i];
	size_t have = c->keep, start = 0, end;
	ssize_t n;
	char *lf;

	if (have > 0)
		memcpy(buf, c->part, have);
	n = read(c->fd, buf + have, SK__READ);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			sk__drop(ep, i);
		return;
	}
	end = have + (size_t)n;
	if (batch == 2) {
		/* Kept for the end of the turn. */
		for (size_t k = end; k > 0; k--)
			if (buf[k - 1] == '\n') {
				start = k;
				break;
			}
		for (size_t k = 0; k < start; k++)
			sk__lines += buf[k] == '\n';
		if (start > 0 && sk__nchunk < SK__EVENTS) {
			memcpy(sk__turn + sk__turnlen, buf, start);
			sk__chunk[sk__nchunk].from = i;
			sk__chunk[sk__nchunk].off = sk__turnlen;
			sk__chunk[sk__nchunk].len = start;
			sk__nchunk++;
			sk__turnlen += start;
		}
	} else if (batch) {
		/* Everything up to the last LF, at once. */
		for (size_t k = end; k > 0; k--)
			if (buf[k - 1] == '\n') {
				start = k;
				break;
			}
		for (size_t k = 0; k < start; k++)
			sk__lines += buf[k] == '\n';
		if (start > 0)
			sk__relay(i, buf, start);
	} else {
		while ((lf = memchr(buf + start, '\n', end - start)) != NULL) {
			size_t len = (size_t)(lf - (buf + start)) + 1;

			sk__relay(i, buf + start, len);
			sk__lines++;
			start += len;
		}
	}
	c->keep = end - start < SK__LINE_MAX ? end - start : SK__LINE_MAX;
	if (c->keep > 0) {
		if (c->part == NULL && (c->part = malloc(SK__LINE_MAX)) == NULL) {
			c->keep = 0;
			return;
		}
		memcpy(c->part, buf + start, c->keep);
	}
}

/* Take every pending connection. */
static void sk__accept(int ep, int lfd)
{
	for (;;) {
		struct epoll_event e = { .events = EPOLLIN };
		char hello[48];
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			return;
		i = sk__nconn;
		if (sk__holes > 0) {
			for (i = 0; i < sk__nconn && sk__c[i].fd >= 0; i++)
				;
			if (i < sk__nconn)
				sk__holes--;
		}
		if (i == SK__MAX_CONN) {
			close(fd);
			continue;
		}
		if (i == sk__nconn)
			sk__nconn++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			   sizeof(int));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ SK__SNDBUF },
			   sizeof(int));
		e.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
			close(fd);
			continue;
		}
		sk__c[i].fd = fd;
		sk__c[i].keep = 0;
		if (sk__first < 0) {
			sk__first = i;
		} else {
			int n = snprintf(hello, sizeof(hello), "*** c%d joined\n",
					 i);

			if (write(sk__c[sk__first].fd, hello, (size_t)n) != n)
				sk__dropped++;
		}
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *ai = NULL;
	struct epoll_event ev[SK__EVENTS];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct sigaction sa;
	struct rlimit rl;
	int lfd = -1, ep = -1, rc = 1, batch = 0, arg = 1;

	if (argc == 4 && strcmp(argv[1], "-t") == 0) {
		batch = 2;
		arg = 2;
	} else if (argc == 4 && strcmp(argv[1], "-b") == 0) {
		batch = 1;
		arg = 2;
	}
	if (argc - arg != 2) {
		fprintf(stderr, "usage: sk_fanout_limit [-b|-t] ADDRESS PORT\n");
		return 2;
	}
	/* One descriptor per member: up to the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sk__on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < SK__MAX_CONN; i++)
		sk__c[i].fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(argv[arg], argv[arg + 1], &hints, &ai) != 0) {
		fprintf(stderr, "sk_fanout_limit: bad address %s %s\n",
			argv[arg], argv[arg + 1]);
		return 2;
	}
	lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		     0);
	if (lfd < 0)
		goto error_errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(lfd, SOMAXCONN) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		goto error_errno;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lfd,
		      &(struct epoll_event){ .events = EPOLLIN,
					     .data.u32 = UINT32_MAX }) != 0)
		goto error_errno;
	printf("ready %s %s\n", host, port);
	fflush(stdout);
	while (!sk__stop) {
		int n = epoll_wait(ep, ev, SK__EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto error_errno;
		}
		for (int e = 0; e < n; e++) {
			uint32_t i = ev[e].data.u32;

			if (i == UINT32_MAX)
				sk__accept(ep, lfd);
			else if (sk__c[i].fd >= 0)
				sk__input(ep, (int)i, batch);
		}
		if (batch == 2)
			sk__relay_turn();
	}
	fprintf(stderr, "sk_fanout_limit: %lu lines relayed, %lu writes, %lu "
		"dropped\n", sk__lines, sk__writes, sk__dropped);
	rc = 0;
	goto out;
error_errno:
	fprintf(stderr, "sk_fanout_limit: %s\n", strerror(errno));
out:
	for (int i = 0; i < sk__nconn; i++) {
		if (sk__c[i].fd >= 0)
			close(sk__c[i].fd);
		free(sk__c[i].part);
	}
	if (ep >= 0)
		close(ep);
	if (lfd >= 0)
		close(lfd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}
