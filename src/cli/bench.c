/*
 * bench.c: `sockit bench`, load generators for servers on this machine.
 *
 * udp: one connected socket keeps up to `window` empty datagrams in
 * flight, sent with sendmmsg() and collected with recvmmsg(). Any reply
 * counts. If nothing comes back for 50 ms the window is presumed lost and
 * refilled, so a server that drops under load is measured, not stalled.
 *
 * tcp: up to `window` connections at once; each connects, reads until
 * the server closes, and counts as one when the reply was not empty (or,
 * with --empty, whenever the server closed cleanly).
 *
 * ntp: see sk__bench_ntp(); exec: see sk__bench_exec() and, with --udp,
 * sk__bench_execudp(); chat: see bench_chat.c.
 *
 * All stop at --count replies or --duration seconds, whichever is first.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../net/client.h"
#include "../net/dtls.h"
#include "../net/sockaddr.h"
#include "../proto/exec_client.h"
#include "../proto/frame.h"
#include "../proto/ntp.h"
#include "../proto/rmsg.h"
#include "bench.h"
#include "../proto/addr.h"
#include "cli.h"
#include "link.h"

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
			  double *last, unsigned long *bogus,
			  unsigned long *kod, int64_t *med, int64_t *p99)
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
						(*kod)++;
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
			  unsigned long count, double end, int empty,
			  double *last)
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
			if (n == 0 && (bytes[i] > 0 || empty))
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

/* ---- exec ---- */

#define SK__EXEC_MAX_WINDOW 1024 /* exec: commands in flight (the
				  * server's most per connection) */
#define SK__EXEC_OUT (16 * SK_FRAME_MAX) /* exec: frames for the server */
#define SK__EXEC_READS 64 /* exec: reads per wake-up, at most */
#define SK__EXEC_CONNECT_MS 10000 /* exec: connect and handshake */
#define SK__EXECUDP_CONNECT_MS 60000 /* exec --udp: the DTLS handshake */

/* A command in flight: its stream and that stream's books. */
struct sk__xslot {
	uint32_t stream;          /* 0: the slot is free */
	struct sk_exec_client xc; /* its state and credit */
};

/* One run of `sockit bench exec`. */
struct sk__xbench {
	struct sk_link l;                  /* the connection */
	struct sk_queue out;               /* frames for the server */
	struct sk_exec_client conn;        /* stream 0: HELLO, ERROR */
	uint8_t in[SK_EXEC_CLIENT_IN];     /* bytes from the server */
	size_t inlen;                      /* how many */
	struct sk__xslot slot[SK__EXEC_MAX_WINDOW]; /* commands in flight */
	unsigned window;                   /* slots in use, at most */
	unsigned running;                  /* slots in use */
	uint32_t next;                     /* the next stream id */
	const struct sk_frame_exec *cmd;   /* what each command runs */
	unsigned long ok;                  /* EXIT with status 0 */
	unsigned long failed;              /* any other end */
	unsigned long long bytes;          /* STDOUT and STDERR payload */
	char first[300];                   /* how the first failure ended */
	char err[600];                     /* a fatal error, or "" */
};

/* Open commands on free slots while the queue has room. */
static void sk__xb_start(struct sk__xbench *b)
{
	for (unsigned i = 0; i < b->window && b->running < b->window; i++) {
		struct sk__xslot *s = &b->slot[i];
		uint8_t *p;
		int n;

		if (s->stream != 0)
			continue;
		if (b->next > UINT32_MAX - 2 ||
		    sk_queue_free(&b->out) < SK_FRAME_MAX + SK_FRAME_HEADER)
			return;
		p = sk_queue_tail(&b->out, SK_FRAME_MAX + SK_FRAME_HEADER);
		n = sk_frame_exec_encode(p, SK_FRAME_MAX, b->next, b->cmd);
		if (n < 0) {
			snprintf(b->err, sizeof(b->err), "cannot encode the "
				 "command: %s", sk_frame_strerror(n));
			return;
		}
		n += sk_frame_encode(p + n, SK_FRAME_HEADER, SK_FRAME_STDIN,
				     SK_FRAME_F_END, b->next, NULL, 0);
		b->out.len += (size_t)n;
		s->stream = b->next;
		sk_exec_client_init(&s->xc, s->stream);
		s->xc.hello = 1; /* the connection's, routed apart */
		sk_exec_client_stdin_sent(&s->xc, 0, 1);
		b->next += 2;
		b->running++;
	}
}

/* Give the server back the credit its output used (all of it is
 * discarded at once), a quarter of the window at a time. */
static void sk__xb_grant(struct sk__xbench *b)
{
	for (unsigned i = 0; i < b->window; i++) {
		struct sk__xslot *s = &b->slot[i];
		uint32_t inc;
		uint8_t *p;

		if (s->stream == 0 ||
		    sk_queue_free(&b->out) < SK_FRAME_HEADER + 4)
			continue;
		inc = sk_exec_client_grant(&s->xc);
		if (inc == 0)
			continue;
		p = sk_queue_tail(&b->out, SK_FRAME_HEADER + 4);
		b->out.len += (size_t)sk_frame_window_encode(
			p, SK_FRAME_HEADER + 4, s->stream, inc);
	}
}

/* How a failed command ended, for the report. */
static void sk__xb_why(struct sk__xbench *b, const struct sk_exec_event *ev)
{
	if (ev->kind == SK_EXEC_EV_EXIT && ev->exit.signaled)
		snprintf(b->first, sizeof(b->first), "killed by SIG%.*s",
			 (int)ev->exit.signal.len, ev->exit.signal.p);
	else if (ev->kind == SK_EXEC_EV_EXIT)
		snprintf(b->first, sizeof(b->first), "exit status %u",
			 ev->exit.status);
	else
		snprintf(b->first, sizeof(b->first), "ERROR %s%s%.*s",
			 sk_frame_code_name(ev->code),
			 ev->data.len > 0 ? ": " : "", (int)ev->data.len,
			 ev->data.p);
}

/* A command ended, with EXIT or ERROR: counted as ok or failed. */
static void sk__xb_count(struct sk__xbench *b, const struct sk_exec_event *ev)
{
	if (ev->kind == SK_EXEC_EV_EXIT && !ev->exit.signaled &&
	    ev->exit.status == 0)
		b->ok++;
	else if (b->failed++ == 0)
		sk__xb_why(b, ev);
}

/* A command's stream ended: counted, and its slot freed. */
static void sk__xb_ended(struct sk__xbench *b, struct sk__xslot *s,
			 const struct sk_exec_event *ev)
{
	sk__xb_count(b, ev);
	s->stream = 0;
	b->running--;
}

/* Take every whole frame in b->in; returns -1 on a protocol error or a
 * connection error from the server (b->err says which). */
static int sk__xb_frames(struct sk__xbench *b)
{
	size_t off = 0;
	int rc = 0;

	while (off < b->inlen) {
		struct sk_exec_client *xc = &b->conn;
		struct sk__xslot *s = NULL;
		struct sk_exec_event ev;
		struct sk_frame f;
		int n = sk_frame_parse(b->in + off, b->inlen - off, &f);

		if (n == 0)
			break;
		/* A stream's frame goes to its own books; stream 0, a frame
		 * before the server's HELLO, and a bad header, to the
		 * connection's, which refuses all but HELLO and ERROR. */
		if (n > 0 && f.stream != 0 && b->conn.hello) {
			for (unsigned i = 0; i < b->window && s == NULL; i++)
				if (b->slot[i].stream == f.stream)
					s = &b->slot[i];
			if (s == NULL) {
				snprintf(b->err, sizeof(b->err), "protocol "
					 "error: a frame on stream %u, which "
					 "is not open", (unsigned)f.stream);
				rc = -1;
				break;
			}
			xc = &s->xc;
		}
		n = sk_exec_client_input(xc, b->in + off, b->inlen - off, &ev);
		if (n < 0) {
			snprintf(b->err, sizeof(b->err), "protocol error: %s (%s)",
				 ev.what, sk_frame_code_name(ev.code));
			rc = -1;
			break;
		}
		off += (size_t)n;
		switch (ev.kind) {
		case SK_EXEC_EV_STDOUT:
		case SK_EXEC_EV_STDERR:
			b->bytes += ev.data.len;
			sk_exec_client_written(&s->xc, ev.data.len);
			break;
		case SK_EXEC_EV_EXIT:
		case SK_EXEC_EV_REFUSED:
		case SK_EXEC_EV_ENDED:
			sk__xb_ended(b, s, &ev);
			break;
		case SK_EXEC_EV_CONN_ERROR:
			snprintf(b->err, sizeof(b->err), "the server reported "
				 "a connection error: %s%s%.*s",
				 sk_frame_code_name(ev.code),
				 ev.data.len > 0 ? ": " : "", (int)ev.data.len,
				 ev.data.p);
			rc = -1;
			break;
		default:
			break;
		}
		if (rc != 0)
			break;
	}
	memmove(b->in, b->in + off, b->inlen - off);
	b->inlen -= off;
	return rc;
}

/*
 * exec: one connection (TLS with key k, or plaintext when k is NULL)
 * keeps `window` commands running, each on a stream of its own: EXEC and
 * an empty STDIN with END, then a new one as each ends. A command counts
 * when its EXIT says status 0; any other end is a failure. Output is
 * counted and discarded, and its credit granted back as it comes.
 * Returns the commands counted, or -1 with a message in b->err; the
 * clock starts once the connection is up (*start).
 */
static long sk__bench_exec(struct sk__xbench *b, const struct sk_target *t,
			   const struct sk_key *k, unsigned long count,
			   double duration, double *start, double *last)
{
	double end;
	uint8_t *p;

	if (sk_queue_init(&b->out, SK__EXEC_OUT) != 0) {
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -1;
	}
	if (sk_link_open(&b->l, t, k, SK__EXEC_CONNECT_MS, b->err,
			 sizeof(b->err)) != 0)
		goto error;
	sk_exec_client_init(&b->conn, 1);
	b->next = 1;
	p = sk_queue_tail(&b->out, SK_FRAME_HEADER + SK_FRAME_HELLO_LEN);
	b->out.len += (size_t)sk_frame_hello_encode(
		p, SK_FRAME_HEADER + SK_FRAME_HELLO_LEN, SK_FRAME_VERSION);
	*start = sk__now();
	end = *start + duration;
	while (b->ok < count && b->err[0] == '\0') {
		struct pollfd pf = { b->l.fd, POLLIN, 0 };
		double now = sk__now();
		int timeout, rc;

		if (now >= end)
			break;
		sk__xb_start(b);
		sk__xb_grant(b);
		if (b->out.len > 0 && sk_link_flush(&b->l, &b->out) < 0) {
			snprintf(b->err, sizeof(b->err), "%s: connection lost",
				 t->name);
			break;
		}
		if (b->out.len > 0 && !b->l.write_stuck)
			pf.events |= POLLOUT;
		timeout = (int)((end - now) * 1000) + 1;
		if (sk_link_pending(&b->l))
			timeout = 0;
		rc = poll(&pf, 1, timeout);
		if (rc < 0 && errno != EINTR) {
			snprintf(b->err, sizeof(b->err), "poll: %s",
				 strerror(errno));
			break;
		}
		if (rc <= 0 && timeout != 0)
			continue;
		for (int r = 0; r < SK__EXEC_READS; r++) {
			char why[256];
			ssize_t n = sk_link_read(&b->l, b->in + b->inlen,
						 sizeof(b->in) - b->inlen, why,
						 sizeof(why));

			if (n == 0)
				break;
			if (n < 0) {
				snprintf(b->err, sizeof(b->err), "%s: %s",
					 t->name, b->l.eof ? "connection "
					 "closed by the server" : why);
				break;
			}
			b->inlen += (size_t)n;
			if (sk__xb_frames(b) != 0)
				break;
		}
	}
	*last = sk__now();
	if (b->err[0] != '\0')
		goto error;
	sk_link_close(&b->l);
	sk_queue_fini(&b->out);
	return (long)b->ok;
error:
	sk_link_close(&b->l);
	sk_queue_fini(&b->out);
	return -1;
}

/* The output stream's frames in b->in: count them as sk__xb_frames()
 * does for one stream. Returns 1 when the command ended. */
static int sk__xu_frames(struct sk__xbench *b, struct sk_exec_client *xc)
{
	size_t off = 0;
	int ended = 0;

	while (!ended && off < b->inlen) {
		struct sk_exec_event ev;
		int n = sk_exec_client_input(xc, b->in + off, b->inlen - off, &ev);

		if (n == 0)
			break;
		if (n < 0) {
			snprintf(b->err, sizeof(b->err), "protocol error: %s",
				 ev.what);
			return 1;
		}
		off += (size_t)n;
		if (ev.kind == SK_EXEC_EV_STDOUT || ev.kind == SK_EXEC_EV_STDERR)
			b->bytes += ev.data.len;
		else if (ev.kind == SK_EXEC_EV_EXIT ||
			 ev.kind == SK_EXEC_EV_REFUSED ||
			 ev.kind == SK_EXEC_EV_ENDED) {
			sk__xb_count(b, &ev);
			ended = 1;
		}
	}
	memmove(b->in, b->in + off, b->inlen - off);
	b->inlen -= off;
	return ended;
}

/*
 * exec over UDP: one DTLS session (key k) runs one command at a time,
 * each a request of the reliable message layer, the next as soon as one
 * ends, as a REPL over UDP does. Output is counted and discarded.
 * Returns the commands counted, or -1 with a message in b->err; the
 * clock starts once the session is up (*start).
 */
static long sk__bench_execudp(struct sk__xbench *b, const struct sk_target *t,
			      const struct sk_key *k, unsigned long count,
			      double duration, double *start, double *last)
{
	static uint8_t execf[SK_RMSG_MAX_EXEC], dg[SK_UDP_BUF];
	struct sk_rmsg_client_cfg cfg = { .attempts = SK_RMSG_ATTEMPTS_MAX };
	struct sk_rmsg_client *rc = malloc(sizeof(*rc));
	struct sk_exec_client xc;
	uint64_t id = 0;
	double end;
	int n;

	if (rc == NULL) {
		snprintf(b->err, sizeof(b->err), "out of memory");
		return -1;
	}
	n = sk_frame_exec_encode(execf, sizeof(execf), SK_RMSG_STREAM, b->cmd);
	if (n < 0) {
		snprintf(b->err, sizeof(b->err), "the command does not fit one "
			 "UDP request");
		goto error;
	}
	/* The clock starts after the handshake: on a path losing 30% its
	 * flights may need many tries. */
	if (sk_link_open_dtls(&b->l, t, k, SK__EXECUDP_CONNECT_MS, -1, b->err,
			      sizeof(b->err)) != 0)
		goto error;
	cfg.retry_us = sk_link_retry_us(&b->l);
	sk_rmsg_client_init(rc, &cfg);
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		id = 1;
	id >>= 2;
	*start = sk__now();
	end = *start + duration;
	while (b->ok + b->failed < count && b->err[0] == '\0' &&
	       sk__now() < end) {
		int done = 0;

		sk_exec_client_init(&xc, SK_RMSG_STREAM);
		xc.hello = 1;
		xc.out_credit = SK_EXEC_WINDOW_MAX;
		b->inlen = 0;
		if (sk_rmsg_client_start(rc, sk_dtls_now(), ++id, execf,
					 (size_t)n) != 0) {
			snprintf(b->err, sizeof(b->err), "cannot start a request");
			break;
		}
		while (!done && b->err[0] == '\0') {
			struct pollfd pf = { b->l.fd, POLLIN, 0 };
			uint64_t now = sk_dtls_now(), at;
			double left = end - sk__now();
			int m, timeout;

			while ((m = sk_rmsg_client_poll(rc, now, dg, sizeof(dg))) > 0) {
				ERR_clear_error();
				(void)SSL_write(b->l.ssl, dg, m);
				(void)BIO_flush(SSL_get_wbio(b->l.ssl));
			}
			ERR_clear_error();
			if (rc->status == SK_RMSG_NO_REPLY) {
				snprintf(b->err, sizeof(b->err), "%s: no reply",
					 t->name);
				break;
			}
			if (left <= 0)
				break;
			at = sk_rmsg_client_next_timeout(rc, now);
			timeout = (int)(left * 1000) + 1;
			if (at != UINT64_MAX && (at <= now ||
						 (at - now + 999) / 1000 <
							 (uint64_t)timeout))
				timeout = at <= now ? 0 : (int)((at - now + 999) / 1000);
			if (poll(&pf, 1, timeout) < 0 && errno != EINTR) {
				snprintf(b->err, sizeof(b->err), "poll: %s",
					 strerror(errno));
				break;
			}
			for (int r = 0; r < 256; r++) {
				enum sk_rmsg_client_ev ev;
				int got = SSL_read(b->l.ssl, dg, sizeof(dg));

				(void)BIO_flush(SSL_get_wbio(b->l.ssl));
				if (got <= 0) {
					int e = SSL_get_error(b->l.ssl, got);

					ERR_clear_error();
					if (e != SSL_ERROR_WANT_READ &&
					    e != SSL_ERROR_SYSCALL)
						snprintf(b->err, sizeof(b->err),
							 "%s: the session ended",
							 t->name);
					break;
				}
				(void)sk_rmsg_client_input(rc, sk_dtls_now(), dg,
							   (size_t)got, &ev);
			}
			for (;;) {
				size_t got = sk_rmsg_client_read(
					rc, b->in + b->inlen,
					sizeof(b->in) - b->inlen);

				if (got == 0)
					break;
				b->inlen += got;
				if (sk__xu_frames(b, &xc)) {
					done = 1;
					break;
				}
			}
			if (!done && rc->status == SK_RMSG_REFUSED) {
				b->failed++;
				if (b->first[0] == '\0')
					snprintf(b->first, sizeof(b->first),
						 "refused: %s",
						 sk_rmsg_code_name(rc->code));
				done = 1;
			}
		}
	}
	*last = sk__now();
	free(rc);
	if (b->err[0] != '\0') {
		sk_link_close(&b->l);
		return -1;
	}
	ERR_clear_error();
	(void)SSL_shutdown(b->l.ssl);
	(void)BIO_flush(SSL_get_wbio(b->l.ssl));
	ERR_clear_error();
	sk_link_close(&b->l);
	return (long)b->ok;
error:
	free(rc);
	sk_link_close(&b->l);
	return -1;
}

/* Run the exec kind and print its line. */
static int sk__exec_main(const struct sk_target *t, const char *keys,
			 const char *identity, int insecure, int bytes,
			 int over_udp, unsigned window, unsigned long count,
			 unsigned duration_ms, const struct sk_frame_exec *cmd)
{
	static struct sk__xbench b;
	struct sk_key key;
	double start = 0, last = 0, secs;
	long got;

	memset(&b, 0, sizeof(b));
	memset(&key, 0, sizeof(key));
	sk_link_init(&b.l);
	b.window = window;
	b.cmd = cmd;
	if (insecure && !sk_sockaddr_is_loopback((const struct sockaddr *)&t->addr[0])) {
		fprintf(stderr, "sockit: bench: %s: --insecure is only for "
			"loopback addresses and unix sockets\n", t->name);
		return SK_EXIT_FAIL;
	}
	if (!insecure && sk_link_key(keys, identity, &key, b.err,
				     sizeof(b.err)) != 0) {
		fprintf(stderr, "sockit: bench: %s\n", b.err);
		return SK_EXIT_FAIL;
	}
	if (over_udp)
		got = sk__bench_execudp(&b, t, &key, count,
					duration_ms / 1000.0, &start, &last);
	else
		got = sk__bench_exec(&b, t, insecure ? NULL : &key, count,
				     duration_ms / 1000.0, &start, &last);
	OPENSSL_cleanse(&key, sizeof(key));
	if (got < 0) {
		fprintf(stderr, "sockit: bench: %s\n", b.err);
		return SK_EXIT_FAIL;
	}
	if (b.failed > 0)
		fprintf(stderr, "sockit: bench: %s: %lu commands failed; the "
			"first: %s\n", t->name, b.failed, b.first);
	/* A long command (cat of a large file) may still be running at the
	 * end: in bulk, what came is what counts. */
	if ((bytes ? b.bytes == 0 : got == 0) || b.failed > (unsigned long)got) {
		fprintf(stderr, "sockit: bench: %s: most commands failed\n",
			t->name);
		return SK_EXIT_FAIL;
	}
	secs = last - start;
	if (bytes)
		printf("exec %s: %llu bytes in %.2f s = %.1f MB/s; %ld commands, "
		       "%lu failed\n", t->name, b.bytes, secs,
		       (double)b.bytes / secs / 1e6, got, b.failed);
	else
		printf("exec %s: %ld replies in %.2f s = %.0f per second; %lu "
		       "failed\n", t->name, got, secs, (double)got / secs,
		       b.failed);
	return SK_EXIT_OK;
}

/* --steps: "N,N,..." rising, into o. Returns 0 or -1. */
static int sk__parse_steps(const char *s, struct sk_bench_chat *o)
{
	char one[16];

	o->nsteps = 0;
	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		unsigned long v;

		if (n == 0 || n >= sizeof(one) ||
		    o->nsteps == SK_CHAT_BENCH_MAX_STEPS)
			return -1;
		memcpy(one, s, n);
		one[n] = '\0';
		if (sk_parse_uint(one, 1, SK_CHAT_BENCH_MAX_MEMBERS, &v) != 0 ||
		    (o->nsteps > 0 && v <= o->steps[o->nsteps - 1]))
			return -1;
		o->steps[o->nsteps++] = (unsigned)v;
		s += n;
		if (*s == ',')
			s++;
	}
	return o->nsteps > 0 ? 0 : -1;
}

/* Check the chat kind's options and run it. */
static int sk__chat_main(struct sk_bench_chat *o, unsigned long window,
			 unsigned duration_ms, const char *target)
{
	struct sk_target t;
	char err[512];

	if (window > SK_CHAT_BENCH_MAX_WINDOW)
		return sk_usage_error("bench", "--window: chat keeps at most %d "
				      "lines in flight per talker",
				      SK_CHAT_BENCH_MAX_WINDOW);
	o->window = window > 0 ? (unsigned)window : 16;
	o->duration_ms = duration_ms;
	if (o->talkers == UINT_MAX) /* not given */
		o->talkers = o->nsteps > 0 ? 0 : 4;
	if (o->nsteps > 0) {
		if (o->talkers > 0 || o->rate > 0 || o->latency)
			return sk_usage_error("bench", "--steps holds idle "
					      "members: no -t, --rate or "
					      "--latency");
		o->members = o->steps[o->nsteps - 1];
	} else if (o->proto != SK_CHAT_REDIS && o->talkers >= o->members) {
		return sk_usage_error("bench", "--talkers: fewer than the "
				      "members (the first member never talks)");
	} else if (o->talkers == 0) {
		return sk_usage_error("bench", "--talkers: at least 1");
	}
	if (sk_target_resolve(&t, target, 0, SOCK_STREAM, err, sizeof(err))) {
		fprintf(stderr, "sockit: bench: %s\n", err);
		return SK_EXIT_FAIL;
	}
	if (t.addr[0].ss_family != AF_INET && t.addr[0].ss_family != AF_INET6) {
		fprintf(stderr, "sockit: bench: %s: chat is over TCP\n", t.name);
		return SK_EXIT_FAIL;
	}
	return sk_bench_chat(o, (const struct sockaddr *)&t.addr[0], t.name);
}

int sk_cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "sources", required_argument, NULL, 's' },
		{ "empty", no_argument, NULL, 'E' },
		{ "keys", required_argument, NULL, 'k' },
		{ "identity", required_argument, NULL, 'i' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "bytes", no_argument, NULL, 'B' },
		{ "udp", no_argument, NULL, 'U' },
		{ "proto", required_argument, NULL, 'P' },
		{ "members", required_argument, NULL, 'm' },
		{ "talkers", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'R' },
		{ "latency", no_argument, NULL, 'L' },
		{ "size", required_argument, NULL, 'Z' },
		{ "pid", required_argument, NULL, 'p' },
		{ "steps", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sk_frame_exec cmd;
	struct sk_bench_chat chat = {
		.proto = SK_CHAT_LINE, .members = 100, .talkers = UINT_MAX,
		.size = 64,
	};
	unsigned long count = 10000000, window = 0, sources = 8, bogus = 0, v;
	unsigned long kod = 0;
	int chat_opts = 0, other_opts = 0, duration_set = 0;
	int64_t med = 0, p99 = 0;
	unsigned duration_ms = 3000;
	const char *keys = NULL, *identity = NULL, *kind;
	struct sk_target t;
	double start, last = 0;
	char err[512];
	long got;
	int c, nargs, udp, ntp, exec, empty = 0, insecure = 0, bytes = 0;
	int over_udp = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:n:w:s:k:i:m:t:h", opts,
				NULL)) != -1) {
		if (strchr("PmtRLZpS", c) != NULL)
			chat_opts = 1;
		if (strchr("nsE", c) != NULL)
			other_opts = 1;
		switch (c) {
		case 'd':
			/* chat --steps allows up to SK_CHAT_BENCH_MAX_SCALE_S,
			 * checked once the kind is known. */
			if (sk_parse_seconds(optarg, &duration_ms) != 0 ||
			    duration_ms > SK_CHAT_BENCH_MAX_SCALE_S * 1000u)
				return sk_usage_error("bench", "--duration: '%s' "
						      "is not 0.001 to 60 seconds "
						      "(%d with chat --steps)",
						      optarg,
						      SK_CHAT_BENCH_MAX_SCALE_S);
			duration_set = 1;
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
		case 'E': empty = 1; break;
		case 'k': keys = optarg; break;
		case 'i': identity = optarg; break;
		case 'I': insecure = 1; break;
		case 'B': bytes = 1; break;
		case 'U': over_udp = 1; break;
		case 'P':
			if (strcmp(optarg, "line") == 0)
				chat.proto = SK_CHAT_LINE;
			else if (strcmp(optarg, "irc") == 0)
				chat.proto = SK_CHAT_IRC;
			else if (strcmp(optarg, "redis") == 0)
				chat.proto = SK_CHAT_REDIS;
			else
				return sk_usage_error("bench", "--proto: '%s' is "
						      "not line, irc or redis",
						      optarg);
			break;
		case 'm':
			if (sk_parse_uint(optarg, 1, SK_CHAT_BENCH_MAX_MEMBERS,
					  &v) != 0)
				return sk_usage_error("bench", "--members: '%s' "
						      "is not 1 to %d", optarg,
						      SK_CHAT_BENCH_MAX_MEMBERS);
			chat.members = (unsigned)v;
			break;
		case 't':
			if (sk_parse_uint(optarg, 0, SK_CHAT_BENCH_MAX_TALKERS,
					  &v) != 0)
				return sk_usage_error("bench", "--talkers: '%s' "
						      "is not 0 to %d", optarg,
						      SK_CHAT_BENCH_MAX_TALKERS);
			chat.talkers = (unsigned)v;
			break;
		case 'R':
			if (sk_parse_uint(optarg, 1, 10000000, &v) != 0)
				return sk_usage_error("bench", "--rate: bad "
						      "number '%s'", optarg);
			chat.rate = (unsigned)v;
			break;
		case 'L': chat.latency = 1; break;
		case 'Z':
			if (sk_parse_uint(optarg, SK_CHAT_BENCH_MIN_SIZE,
					  SK_CHAT_BENCH_MAX_SIZE, &v) != 0)
				return sk_usage_error("bench", "--size: '%s' is "
						      "not %d to %d", optarg,
						      SK_CHAT_BENCH_MIN_SIZE,
						      SK_CHAT_BENCH_MAX_SIZE);
			chat.size = (unsigned)v;
			break;
		case 'p':
			if (sk_parse_uint(optarg, 1, 1u << 30, &v) != 0)
				return sk_usage_error("bench", "--pid: bad "
						      "process id '%s'", optarg);
			chat.pid = (long)v;
			break;
		case 'S':
			if (sk__parse_steps(optarg, &chat) != 0)
				return sk_usage_error("bench", "--steps: '%s' is "
						      "not rising member counts "
						      "N,N,... (at most %d, each "
						      "at most %d)", optarg,
						      SK_CHAT_BENCH_MAX_STEPS,
						      SK_CHAT_BENCH_MAX_MEMBERS);
			break;
		case 'h':
			return sk_help("bench");
		default:
			return sk_option_error("bench", argv, c);
		}
	}
	/* Options and operands mix; what follows '--' is exec's CMD. */
	nargs = argc - optind;
	if (nargs < 2)
		return sk_usage_error("bench", "expected KIND HOST:PORT");
	kind = argv[optind];
	if (strcmp(kind, "chat") == 0) {
		if (nargs > 2)
			return sk_usage_error("bench", "only exec takes a command");
		if (other_opts || keys != NULL || identity != NULL || insecure ||
		    bytes)
			return sk_usage_error("bench", "chat takes -d, -w and its "
					      "own options only");
		if (chat.nsteps == 0 && duration_ms > 60000)
			return sk_usage_error("bench", "--duration: at most 60 "
					      "seconds (with --steps, %d)",
					      SK_CHAT_BENCH_MAX_SCALE_S);
		if (chat.nsteps > 0 && !duration_set)
			duration_ms = SK_CHAT_BENCH_SCALE_S * 1000u;
		return sk__chat_main(&chat, window, duration_ms,
				     argv[optind + 1]);
	}
	if (duration_ms > 60000)
		return sk_usage_error("bench", "--duration: at most 60 seconds");
	if (chat_opts)
		return sk_usage_error("bench", "--proto, -m, -t, --rate, "
				      "--latency, --size, --pid and --steps are "
				      "for chat");
	udp = strcmp(kind, "udp") == 0 || strcmp(kind, "ntp") == 0;
	ntp = strcmp(kind, "ntp") == 0;
	exec = strcmp(kind, "exec") == 0;
	if (!udp && !exec && strcmp(kind, "tcp") != 0)
		return sk_usage_error("bench", "unknown KIND '%s' (know udp, tcp, "
				      "ntp, exec, chat)", kind);
	if (nargs > 2 && !exec)
		return sk_usage_error("bench", "only exec takes a command");
	if (empty && strcmp(kind, "tcp") != 0)
		return sk_usage_error("bench", "--empty is for tcp");
	if ((keys != NULL || identity != NULL || insecure || bytes) && !exec)
		return sk_usage_error("bench", "-k, -i, --insecure and --bytes "
				      "are for exec");
	if (insecure && (keys != NULL || identity != NULL))
		return sk_usage_error("bench", "--insecure takes no key");
	if (over_udp && !exec)
		return sk_usage_error("bench", "--udp is for exec");
	if (over_udp && insecure)
		return sk_usage_error("bench", "exec --udp has no --insecure: "
				      "it is always DTLS");
	if (over_udp && window > 1)
		return sk_usage_error("bench", "exec --udp runs one command at "
				      "a time (--window 1)");
	if (over_udp)
		window = 1;
	if (exec && window > SK__EXEC_MAX_WINDOW)
		return sk_usage_error("bench", "--window: exec runs at most %d "
				      "commands at once", SK__EXEC_MAX_WINDOW);
	if (window == 0)
		window = exec ? (bytes ? 1 : 16) : ntp ? 64 : udp ? 256 : 32;
	if (exec) {
		static const char true_cmd[] = "/bin/true";

		if (nargs - 2 > SK_EXEC_MAX_ARGS)
			return sk_usage_error("bench", "at most %d arguments, "
					      "CMD included", SK_EXEC_MAX_ARGS);
		cmd.argc = nargs > 2 ? (size_t)(nargs - 2) : 1;
		for (size_t i = 0; i < cmd.argc; i++) {
			cmd.argv[i].p = nargs > 2 ? argv[optind + 2 + i] : true_cmd;
			cmd.argv[i].len = strlen(cmd.argv[i].p);
		}
		if (cmd.argv[0].len == 0)
			return sk_usage_error("bench", "CMD is empty");
	}
	/* A load test names its port: there is no kind's default to guess
	 * (udp and tcp fit any service). */
	if (strncmp(argv[optind + 1], "unix:", 5) != 0) {
		char host[SK_HOST_MAX];
		uint16_t port;
		int rc = sk_hostport_parse(argv[optind + 1], host, &port, 0);

		if (rc != 0)
			return sk_usage_error("bench", "'%s': %s%s",
					      argv[optind + 1],
					      sk_addr_strerror(rc),
					      rc == SK_ADDR_E_PORT
						      ? " (give HOST:PORT)"
						      : "");
	}
	if (sk_target_resolve(&t, argv[optind + 1], 0,
			      udp || over_udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: bench: %s\n", err);
		return SK_EXIT_FAIL;
	}
	if (exec)
		return sk__exec_main(&t, keys, identity, insecure, bytes,
				     over_udp, (unsigned)window, count,
				     duration_ms, &cmd);
	start = sk__now();
	if (ntp)
		got = sk__bench_ntp((struct sockaddr *)&t.addr[0],
				    (unsigned)sources, (unsigned)window, count,
				    start + duration_ms / 1000.0, &last, &bogus,
				    &kod, &med, &p99);
	else if (udp)
		got = sk__bench_udp((struct sockaddr *)&t.addr[0],
				    (unsigned)window, count,
				    start + duration_ms / 1000.0, &last);
	else
		got = sk__bench_tcp((struct sockaddr *)&t.addr[0],
				    (unsigned)window, count,
				    start + duration_ms / 1000.0, empty, &last);
	if (got < 0) {
		fprintf(stderr, "sockit: bench: %s: %s\n", t.name,
			strerror((int)-got));
		return SK_EXIT_FAIL;
	}
	/* Mostly kiss-o'-death: the figure measures the server's rate
	 * limit, not the server. */
	if (ntp && kod > (unsigned long)got) {
		fprintf(stderr, "sockit: bench: %s: %lu of %lu replies were "
			"kiss-o'-death: the server is rate-limiting this load "
			"(for sockit, serve with --ntp-ratelimit 0)\n", t.name,
			kod, kod + (unsigned long)got);
		if (got == 0)
			return SK_EXIT_FAIL;
	}
	if (got == 0) {
		fprintf(stderr, "sockit: bench: no reply from %s\n", t.name);
		return SK_EXIT_FAIL;
	}
	printf("%s %s: %ld replies in %.2f s = %.0f per second", kind,
	       t.name, got, last - start, (double)got / (last - start));
	if (ntp)
		printf("; server time median %lld ns, p99 %lld ns; %lu bogus or "
		       "KoD",
		       (long long)med, (long long)p99, bogus);
	printf("\n");
	return SK_EXIT_OK;
}
