/*
 * bench_chat.c: `sockit bench chat`, a load generator for chat rooms:
 * sockit's line protocol (and ncat --chat, which speaks plain lines too),
 * IRC (one channel) and Redis pub/sub (one channel).
 *
 * One process, one epoll loop, level-triggered, holds every member's
 * connection. A run has phases:
 *
 * join   Members connect, a few at a time: no more than SK__CHAT_JOINING
 *        are connected and not yet seen to join. A join is seen as the
 *        server tells it: on the line protocol, the first member reads
 *        sockit's "*** NICK joined" or ncat's "<announce> ... is
 *        connected as"; on IRC, the first member reads each JOIN; on
 *        Redis, each member reads its own subscribe confirmation. So the
 *        generator never outruns a server's accept queue.
 * sync   A marker line goes to the room, again every SK__CHAT_SYNC_MS,
 *        until every member has read one: then every member is in the
 *        room and everything said before has been delivered.
 * talk   T talkers say fixed-size lines, each carrying its talker, a
 *        sequence number and its send time (CLOCK_MONOTONIC ns). Without
 *        --rate, each talker keeps at most `window` lines in flight: sent
 *        and not yet read back by the probe (the first member, which
 *        never talks). With --rate, lines go out on a schedule (the window
 *        still caps what is in flight). Every member reads everything; a
 *        line counts once per member that reads it during the run.
 *
 * With --steps, the run is a scale test instead: idle members join in
 * steps, each step ends with a sync, and the server's resident memory
 * (--pid) is read at each step.
 *
 * Lines are found in the input by their payload, which always ends a
 * line: "SKB", a kind ('d' data, 's' sync), 4 hex digits of talker, 8 of
 * sequence, 16 of send time, then dots up to the line's size. The rest
 * of each protocol's framing ("<nick> ", ":nick!user@host PRIVMSG #room
 * :", RESP's bulk-string headers) is skipped as lines that do not end in
 * a payload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "../net/sockaddr.h"
#include "bench.h"
#include "cli.h"

#define SK__CHAT_CARRY 256   /* bytes of a partial line kept per member;
			      * a longer line is not a payload line and is
			      * skipped up to its LF */
#define SK__CHAT_READ (64 * 1024) /* bytes per read() */
#define SK__CHAT_EVENTS 256       /* epoll events per wake-up */
#define SK__CHAT_JOINING_COUNTED 1024 /* the same, once the server has told
				       * joins as a count (sockit: its
				       * backlog is deep) */
#define SK__CHAT_JOINING 8        /* members connected, not yet seen to
				   * join */
#define SK__CHAT_STALL_MS 15000   /* no join (or sync) for this long: the
				   * server holds no more */
#define SK__CHAT_SYNC_MS 200      /* a new sync marker, while some member
				   * has not read one */
#define SK__CHAT_OUT 65536        /* a talker's bytes not yet sent */
#define SK__CHAT_MAX_SAMPLES (16u << 20) /* delays kept (--latency) */
#define SK__CHAT_HEAD 32          /* payload bytes before the padding */

enum sk__cstate {
	SK__C_FREE = 0,   /* not opened */
	SK__C_CONNECTING, /* connect() in progress */
	SK__C_UP,         /* connected */
	SK__C_DEAD,       /* closed by the server, or failed */
};

/* One connection: a member, or a Redis publisher. */
struct sk__conn {
	int fd;            /* -1 until opened */
	uint8_t state;     /* enum sk__cstate */
	uint8_t skipping;  /* inside a line too long to be ours */
	uint16_t carry;    /* bytes of a partial line in the carry */
	uint32_t sync;     /* the last sync marker read */
};

/* One speaker: a talker, or the one that sends sync markers. */
struct sk__speaker {
	unsigned conn;     /* its connection */
	uint64_t sent;     /* data lines written */
	uint64_t seen;     /* of them, read back by the probe */
	uint64_t due_ns;   /* --rate: when its next line is due */
	size_t outlen;     /* bytes in out */
	char out[SK__CHAT_OUT]; /* bytes the kernel has not taken yet */
};

/* One run. */
struct sk__cb {
	const struct sk_bench_chat *o; /* the options */
	const struct sockaddr *sa;     /* the server */
	int ep;                        /* the epoll instance */
	struct sk__conn *c;            /* members, then publishers */
	char (*carry)[SK__CHAT_CARRY]; /* each connection's partial line */
	unsigned nconn;                /* members + publishers */
	unsigned opened;               /* members opened so far */
	unsigned alive;                /* members connected or connecting */
	unsigned lost;                 /* members the server closed */
	unsigned long joins;           /* joins seen (see the file comment) */
	int counted;                   /* the server tells joins as counts */
	struct sk__speaker *sp;        /* talkers, then the sync speaker */
	unsigned nsp;                  /* talkers + 1 */
	unsigned sync_sp;              /* the speaker that sends syncs */
	unsigned probe;                /* the member that paces the window */
	uint32_t sync_id;              /* the last sync marker sent */
	size_t plen;                   /* payload bytes (the line's size less
					* its LF) */
	char pre[64];                  /* the protocol's bytes before a
					* payload */
	size_t prelen;                 /* their length */
	const char *suf;               /* and after it */
	uint64_t deadline;             /* --steps: give up then; 0: never */
	int talking;                   /* deliveries count now */
	unsigned long long delivered;  /* data lines read while talking */
	uint32_t *samples;             /* delays in us, with --latency */
	size_t nsamples;               /* how many */
	char why[200];                 /* why the last phase failed */
	char rbuf[SK__CHAT_CARRY + SK__CHAT_READ]; /* carry + a read */
};

static uint64_t sk__ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CPU time this process used so far, in ns. */
static uint64_t sk__self_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		       1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		       1000u;
}

/* Process pid's user + system time so far, all its threads, in clock
 * ticks (/proc/PID/stat fields 14 and 15); -1 when it cannot be read. */
static long long sk__proc_ticks(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the
	 * last ')', then field 3 on. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
		   "%llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Process pid's resident memory (VmRSS) in KiB; -1 when unknown. */
static long sk__proc_rss(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static const char sk__hex[] = "0123456789abcdef";

static void sk__put_hex(char *p, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = sk__hex[v & 15];
		v >>= 4;
	}
}

/* digits hex digits at p; a byte that is not one reads as 0. */
static uint64_t sk__get_hex(const char *p, int digits)
{
	uint64_t v = 0;

	for (int i = 0; i < digits; i++) {
		unsigned ch = (unsigned char)p[i], d;

		d = ch >= '0' && ch <= '9' ? ch - '0'
		  : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : 0;
		v = v << 4 | d;
	}
	return v;
}

/* ---- connections ---- */

static void sk__close(struct sk__cb *b, unsigned i)
{
	struct sk__conn *m = &b->c[i];

	if (m->fd >= 0) {
		epoll_ctl(b->ep, EPOLL_CTL_DEL, m->fd, NULL);
		close(m->fd);
		m->fd = -1;
	}
}

/* The server closed connection i, or it failed. */
static void sk__dead(struct sk__cb *b, unsigned i, const char *what)
{
	struct sk__conn *m = &b->c[i];

	if (m->state == SK__C_DEAD)
		return;
	if (i < b->o->members) {
		b->alive--;
		b->lost++;
	}
	if (b->lost == 1 || i >= b->o->members)
		snprintf(b->why, sizeof(b->why), "%s %u: %s",
			 i < b->o->members ? "member" : "publisher", i, what);
	m->state = SK__C_DEAD;
	sk__close(b, i);
}

static int sk__want(struct sk__cb *b, unsigned i, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u32 = i };

	return epoll_ctl(b->ep, EPOLL_CTL_MOD, b->c[i].fd, &e);
}

/* Start connecting connection i. */
static int sk__open(struct sk__cb *b, unsigned i)
{
	struct sk__conn *m = &b->c[i];
	struct epoll_event e = { .events = EPOLLOUT, .data.u32 = i };
	int fd;

	fd = socket(b->sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		snprintf(b->why, sizeof(b->why), "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (connect(fd, b->sa, sk_sockaddr_len(b->sa)) != 0 &&
	    errno != EINPROGRESS) {
		snprintf(b->why, sizeof(b->why), "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
		snprintf(b->why, sizeof(b->why), "epoll: %s", strerror(errno));
		close(fd);
		return -1;
	}
	m->fd = fd;
	m->state = SK__C_CONNECTING;
	if (i < b->o->members)
		b->alive++;
	return 0;
}

/* Write what a freshly connected connection sends first: IRC's
 * registration and JOIN, Redis's SUBSCRIBE. */
static void sk__hello(struct sk__cb *b, unsigned i)
{
	char msg[128];
	int n = 0;

	if (b->o->proto == SK_CHAT_IRC)
		n = snprintf(msg, sizeof(msg), "NICK b%u\r\nUSER b 0 * :sockit "
			     "bench\r\nJOIN #room\r\n", i);
	else if (b->o->proto == SK_CHAT_REDIS && i < b->o->members)
		n = snprintf(msg, sizeof(msg), "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\n"
			     "room\r\n");
	if (n > 0 && write(b->c[i].fd, msg, (size_t)n) != n)
		sk__dead(b, i, "could not send its registration");
}

/* A pending connect() finished. */
static void sk__connected(struct sk__cb *b, unsigned i)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(b->c[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		sk__dead(b, i, strerror(err));
		return;
	}
	b->c[i].state = SK__C_UP;
	sk__want(b, i, EPOLLIN);
	sk__hello(b, i);
}

/* ---- speaking ---- */

/* Hand speaker s's pending bytes to the kernel. */
static void sk__flush(struct sk__cb *b, struct sk__speaker *s)
{
	struct sk__conn *m = &b->c[s->conn];
	ssize_t n;

	if (m->state != SK__C_UP || s->outlen == 0)
		return;
	n = write(m->fd, s->out, s->outlen);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		sk__dead(b, s->conn, strerror(errno));
		return;
	}
	if (n > 0) {
		memmove(s->out, s->out + n, s->outlen - (size_t)n);
		s->outlen -= (size_t)n;
	}
	sk__want(b, s->conn, s->outlen > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Queue `lines` lines of kind ('d' or 's') from speaker k (its talker
 * number for data), stamped now, and send them. Returns the lines
 * queued (fewer when its buffer is full). */
static unsigned sk__say(struct sk__cb *b, unsigned k, unsigned lines,
			char kind, uint64_t seq)
{
	struct sk__speaker *s = &b->sp[k];
	size_t suflen = strlen(b->suf);
	size_t one = b->prelen + b->plen + suflen;
	uint64_t now = sk__ns();
	unsigned done = 0;

	while (done < lines && s->outlen + one <= sizeof(s->out)) {
		char *p = s->out + s->outlen;

		memcpy(p, b->pre, b->prelen);
		p += b->prelen;
		memcpy(p, "SKB", 3);
		p[3] = kind;
		sk__put_hex(p + 4, k, 4);
		sk__put_hex(p + 8, seq + done, 8);
		sk__put_hex(p + 16, now, 16);
		memset(p + SK__CHAT_HEAD, '.', b->plen - SK__CHAT_HEAD);
		memcpy(p + b->plen, b->suf, suflen);
		s->outlen += one;
		done++;
	}
	sk__flush(b, s);
	return done;
}

/* ---- input ---- */

static int sk__has(const char *p, size_t n, const char *what)
{
	return memmem(p, n, what, strlen(what)) != NULL;
}

/* One line (without its LF) read by connection i at now_ns. */
static void sk__line(struct sk__cb *b, unsigned i, const char *p, size_t n,
		     uint64_t now_ns)
{
	const struct sk_bench_chat *o = b->o;
	const char *q;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n >= b->plen && memcmp(p + n - b->plen, "SKB", 3) == 0) {
		q = p + n - b->plen;
		if (q[3] == 's') {
			uint32_t id = (uint32_t)sk__get_hex(q + 8, 8);

			if (id > b->c[i].sync)
				b->c[i].sync = id;
			return;
		}
		if (q[3] != 'd' || i >= o->members)
			return;
		if (b->talking) {
			b->delivered++;
			if (b->samples != NULL &&
			    b->nsamples < SK__CHAT_MAX_SAMPLES) {
				uint64_t sent = sk__get_hex(q + 16, 16);
				uint64_t us = now_ns > sent
						      ? (now_ns - sent) / 1000
						      : 0;

				b->samples[b->nsamples++] =
					us > UINT32_MAX ? UINT32_MAX
							: (uint32_t)us;
			}
		}
		if (i == b->probe) {
			unsigned k = (unsigned)sk__get_hex(q + 4, 4);
			uint64_t seq = sk__get_hex(q + 8, 8);

			if (k < o->talkers && seq + 1 > b->sp[k].seen)
				b->sp[k].seen = seq + 1;
		}
		return;
	}
	switch (o->proto) {
	case SK_CHAT_LINE:
		/* sockit's "*** guestN joined"; ncat's "<announce> 127.0.0.1
		 * is connected as <userN>." */
		if (i == 0 && ((n > 11 && memcmp(p, "*** ", 4) == 0 &&
				memcmp(p + n - 7, " joined", 7) == 0) ||
			       (n > 11 && memcmp(p, "<announce>", 10) == 0 &&
				sk__has(p, n, " is connected as "))))
			b->joins++;
		/* sockit past 10 joins a second: "*** N joined and M left
		 * in the last second (too many to name)"; its backlog is
		 * deep, so more may join at once from then on. */
		else if (i == 0 && n > 20 && memcmp(p, "*** ", 4) == 0 &&
			 p[4] >= '0' && p[4] <= '9' &&
			 sk__has(p, n, " joined and ")) {
			unsigned long k = 0;

			for (size_t j = 4; j < n && p[j] >= '0' && p[j] <= '9';
			     j++)
				k = k * 10 + (unsigned long)(p[j] - '0');
			b->joins += k;
			b->counted = 1;
		}
		break;
	case SK_CHAT_IRC:
		if (n >= 5 && n <= SK__CHAT_CARRY && memcmp(p, "PING ", 5) == 0) {
			char pong[SK__CHAT_CARRY + 8];

			memcpy(pong, "PONG", 4);
			memcpy(pong + 4, p + 4, n - 4);
			memcpy(pong + n, "\r\n", 2);
			if (write(b->c[i].fd, pong, n + 2) != (ssize_t)(n + 2))
				sk__dead(b, i, "could not answer a PING");
		} else if (i == 0 && n > 0 && p[0] == ':' &&
			   sk__has(p, n, " JOIN ")) {
			b->joins++;
		} else if (n >= 6 && memcmp(p, "ERROR ", 6) == 0) {
			snprintf(b->why, sizeof(b->why), "member %u: %.*s", i,
				 (int)(n < 120 ? n : 120), p);
		}
		break;
	case SK_CHAT_REDIS:
		if (n == 9 && memcmp(p, "subscribe", 9) == 0)
			b->joins++;
		else if (n > 0 && p[0] == '-')
			snprintf(b->why, sizeof(b->why), "connection %u: %.*s",
				 i, (int)(n < 120 ? n : 120), p);
		break;
	}
}

/* Read once from connection i and take its whole lines. */
static void sk__read(struct sk__cb *b, unsigned i)
{
	struct sk__conn *m = &b->c[i];
	char *buf = b->rbuf, *lf;
	size_t have = m->carry, start = 0, end, rest;
	uint64_t now = 0;
	ssize_t n;

	memcpy(buf, b->carry[i], have);
	n = read(m->fd, buf + have, SK__CHAT_READ);
	if (n == 0) {
		sk__dead(b, i, "closed by the server");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			sk__dead(b, i, strerror(errno));
		return;
	}
	if (b->samples != NULL)
		now = sk__ns();
	end = have + (size_t)n;
	while ((lf = memchr(buf + start, '\n', end - start)) != NULL) {
		size_t len = (size_t)(lf - (buf + start));

		if (m->skipping)
			m->skipping = 0;
		else
			sk__line(b, i, buf + start, len, now);
		start += len + 1;
		if (m->state == SK__C_DEAD)
			return;
	}
	rest = end - start;
	if (m->skipping || rest > SK__CHAT_CARRY) {
		m->skipping = 1;
		rest = 0;
	}
	memcpy(b->carry[i], buf + start, rest);
	m->carry = (uint16_t)rest;
}

/* Wait up to timeout_ms and handle what came. */
static int sk__poll(struct sk__cb *b, int timeout_ms)
{
	struct epoll_event ev[SK__CHAT_EVENTS];
	int n = epoll_wait(b->ep, ev, SK__CHAT_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		snprintf(b->why, sizeof(b->why), "epoll_wait: %s",
			 strerror(errno));
		return -1;
	}
	for (int e = 0; e < n; e++) {
		unsigned i = ev[e].data.u32;
		struct sk__conn *m = &b->c[i];

		if (m->state == SK__C_CONNECTING) {
			sk__connected(b, i);
			continue;
		}
		if (m->state != SK__C_UP)
			continue;
		if (ev[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			sk__read(b, i);
		if (m->state == SK__C_UP && (ev[e].events & EPOLLOUT))
			for (unsigned k = 0; k < b->nsp; k++)
				if (b->sp[k].conn == i)
					sk__flush(b, &b->sp[k]);
	}
	return 0;
}

/* ---- phases ---- */

/* Members seen in the room so far, as far as the server told. */
static unsigned long sk__joined(const struct sk__cb *b)
{
	/* On the line protocol, sockit does not tell the first member of its
	 * own join (ncat does; one more or less only paces the joins). */
	return b->o->proto == SK_CHAT_LINE ? b->joins + 1 : b->joins;
}

/* Bring the room to `target` members (and open the publishers). Returns
 * 0, or -1 with b->why. */
static int sk__join(struct sk__cb *b, unsigned target)
{
	uint64_t last = sk__ns();
	unsigned long seen = sk__joined(b);

	while (b->opened < target || sk__joined(b) < b->opened) {
		uint64_t now = sk__ns();

		if (b->lost > 0)
			return -1;
		/* The first member alone first: it reads the others' joins. */
		while (b->opened < target &&
		       (b->opened == 0 || (b->c[0].state == SK__C_UP &&
					   sk__joined(b) >= 1)) &&
		       b->opened < sk__joined(b) + (b->counted
							? SK__CHAT_JOINING_COUNTED
							: SK__CHAT_JOINING)) {
			if (sk__open(b, b->opened) != 0)
				return -1;
			b->opened++;
		}
		if (b->deadline != 0 && now > b->deadline) {
			snprintf(b->why, sizeof(b->why), "the time limit ran "
				 "out");
			return -1;
		}
		if (sk__joined(b) != seen) {
			seen = sk__joined(b);
			last = now;
		} else if (now - last > SK__CHAT_STALL_MS * 1000000ull) {
			snprintf(b->why, sizeof(b->why), "no join for %d s, "
				 "%lu of %u seen", SK__CHAT_STALL_MS / 1000,
				 sk__joined(b), b->opened);
			return -1;
		}
		if (sk__poll(b, 10) != 0)
			return -1;
	}
	for (unsigned i = b->o->members; i < b->nconn; i++)
		if (b->c[i].state == SK__C_FREE && sk__open(b, i) != 0)
			return -1;
	return 0;
}

/* Every member (the sync speaker aside) has read a sync marker sent
 * after this phase began. Returns 0, or -1 with b->why. */
static int sk__sync(struct sk__cb *b)
{
	struct sk__speaker *s = &b->sp[b->sync_sp];
	uint32_t first = b->sync_id + 1;
	uint64_t start = sk__ns(), sent = 0;

	for (;;) {
		uint64_t now = sk__ns();
		unsigned behind = 0;

		if (b->lost > 0)
			return -1;
		for (unsigned i = 0; i < b->opened; i++)
			if (i != s->conn && b->c[i].sync < first)
				behind++;
		if (behind == 0 && b->c[s->conn].state == SK__C_UP)
			return 0;
		if (b->deadline != 0 && now > b->deadline) {
			snprintf(b->why, sizeof(b->why), "the time limit ran "
				 "out");
			return -1;
		}
		if (now - start > SK__CHAT_STALL_MS * 1000000ull) {
			snprintf(b->why, sizeof(b->why), "%u of %u members read "
				 "no sync line in %d s", behind, b->opened,
				 SK__CHAT_STALL_MS / 1000);
			return -1;
		}
		if (b->c[s->conn].state == SK__C_UP && s->outlen == 0 &&
		    (sent == 0 || now - sent > SK__CHAT_SYNC_MS * 1000000ull)) {
			sk__say(b, b->sync_sp, 1, 's', ++b->sync_id);
			sent = now;
		}
		if (sk__poll(b, 10) != 0)
			return -1;
	}
}

/* The talkers talk for the run's duration. Returns 0, or -1. */
static int sk__talk(struct sk__cb *b, uint64_t end_ns)
{
	const struct sk_bench_chat *o = b->o;
	uint64_t gap = o->rate > 0 ? 1000000000ull * o->talkers / o->rate : 0;
	uint64_t now = sk__ns();

	for (unsigned k = 0; k < o->talkers; k++)
		b->sp[k].due_ns = now + gap * k / o->talkers;
	b->talking = 1;
	while ((now = sk__ns()) < end_ns) {
		uint64_t next = end_ns;
		int timeout;

		if (b->lost > 0)
			return -1;
		for (unsigned k = 0; k < o->talkers; k++) {
			struct sk__speaker *s = &b->sp[k];
			uint64_t flying = s->sent - s->seen;
			unsigned n = flying < o->window
					     ? o->window - (unsigned)flying : 0;

			if (b->c[s->conn].state != SK__C_UP) {
				snprintf(b->why, sizeof(b->why), "talker %u is "
					 "gone", k);
				return -1;
			}
			if (o->rate > 0) {
				/* Those due, within the window. */
				uint64_t due = s->due_ns <= now
					? (now - s->due_ns) / gap + 1 : 0;

				if (due < n)
					n = (unsigned)due;
			}
			if (n > 0 && s->outlen == 0) {
				n = sk__say(b, k, n, 'd', s->sent);
				s->sent += n;
				s->due_ns += gap * n;
			}
			if (o->rate > 0 && s->due_ns < next)
				next = s->due_ns;
		}
		timeout = o->rate > 0 && next > now
				  ? (int)((next - now + 999999) / 1000000) : 1;
		if (sk__poll(b, timeout) != 0)
			return -1;
	}
	b->talking = 0;
	return 0;
}

static int sk__cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static const char *const sk__proto_name[] = { "line", "irc", "redis" };

/* Set up b for o against sa. Returns 0, or -1 with b->why. */
static int sk__setup(struct sk__cb *b, const struct sk_bench_chat *o,
		     const struct sockaddr *sa)
{
	unsigned pubs = o->proto == SK_CHAT_REDIS
				? (o->talkers > 0 ? o->talkers : 1) : 0;

	struct rlimit rl;

	b->o = o;
	b->sa = sa;
	b->plen = o->size - 1;
	b->nconn = o->members + pubs;
	/* Every connection is a descriptor: up to the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    b->nconn + 16 > rl.rlim_cur) {
		snprintf(b->why, sizeof(b->why), "%u connections do not fit in "
			 "the open-file limit (%llu, with 16 to spare)",
			 b->nconn, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	b->c = calloc(b->nconn, sizeof(*b->c));
	b->carry = calloc(b->nconn, sizeof(*b->carry));
	b->nsp = o->talkers + 1;
	b->sp = calloc(b->nsp, sizeof(*b->sp));
	if (b->ep < 0 || b->c == NULL || b->carry == NULL || b->sp == NULL) {
		snprintf(b->why, sizeof(b->why), "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < b->nconn; i++)
		b->c[i].fd = -1;
	/* Talkers are the last members (Redis: the publishers); the probe,
	 * which paces them, is the first member, and syncs come from it (on
	 * Redis, from the first publisher). */
	for (unsigned k = 0; k < o->talkers; k++)
		b->sp[k].conn = pubs > 0 ? o->members + k
					 : o->members - o->talkers + k;
	b->sync_sp = o->talkers;
	b->sp[b->sync_sp].conn = pubs > 0 ? o->members : 0;
	b->probe = 0;
	switch (o->proto) {
	case SK_CHAT_LINE:
		b->suf = "\n";
		break;
	case SK_CHAT_IRC:
		b->prelen = (size_t)snprintf(b->pre, sizeof(b->pre),
					     "PRIVMSG #room :");
		b->suf = "\r\n";
		break;
	case SK_CHAT_REDIS:
		b->prelen = (size_t)snprintf(b->pre, sizeof(b->pre),
					     "*3\r\n$7\r\nPUBLISH\r\n$4\r\n"
					     "room\r\n$%zu\r\n", b->plen);
		b->suf = "\r\n";
		break;
	}
	if (o->latency) {
		b->samples = calloc(SK__CHAT_MAX_SAMPLES, sizeof(*b->samples));
		if (b->samples == NULL) {
			snprintf(b->why, sizeof(b->why), "out of memory");
			return -1;
		}
	}
	return 0;
}

static void sk__teardown(struct sk__cb *b)
{
	if (b->c != NULL)
		for (unsigned i = 0; i < b->nconn; i++)
			sk__close(b, i);
	if (b->ep >= 0)
		close(b->ep);
	free(b->c);
	free(b->carry);
	free(b->sp);
	free(b->samples);
}

/* --steps: idle members join in steps, within the time limit; the
 * server's memory at each. */
static int sk__scale(struct sk__cb *b, const char *name)
{
	const struct sk_bench_chat *o = b->o;
	long rss0 = o->pid > 0 ? sk__proc_rss(o->pid) : -1, rss = -1;
	double at[SK_CHAT_BENCH_MAX_STEPS];
	unsigned held = 0, done = 0;
	uint64_t t0 = sk__ns();
	int failed = 0;

	b->deadline = t0 + (uint64_t)o->duration_ms * 1000000u;
	for (unsigned s = 0; s < o->nsteps; s++) {
		if (sk__join(b, o->steps[s]) != 0 || sk__sync(b) != 0) {
			failed = 1;
			break;
		}
		held = o->steps[s];
		at[done++] = (double)(sk__ns() - t0) / 1e9;
		if (o->pid > 0)
			rss = sk__proc_rss(o->pid);
	}
	if (held == 0) {
		fprintf(stderr, "sockit: bench: %s: no step held: %s\n", name,
			b->why);
		return SK_EXIT_FAIL;
	}
	printf("chat %s %s: held %u members (", sk__proto_name[o->proto], name,
	       held);
	for (unsigned s = 0; s < done; s++)
		printf("%s%u at %.1f s", s > 0 ? ", " : "", o->steps[s], at[s]);
	printf(")");
	if (rss0 >= 0 && rss >= 0)
		printf("; server RSS %ld KiB with none, %ld KiB with %u = %.2f "
		       "KiB per member", rss0, rss, held,
		       (double)(rss - rss0) / held);
	if (failed)
		printf("; then stopped at %lu members after %.1f s: %s",
		       sk__joined(b), (double)(sk__ns() - t0) / 1e9, b->why);
	printf("\n");
	return SK_EXIT_OK;
}

int sk_bench_chat(const struct sk_bench_chat *o, const struct sockaddr *sa,
		  const char *name)
{
	static struct sk__cb b;
	long long tick0 = -1, tick1 = -1;
	uint64_t t0, t1, cpu0, cpu1;
	unsigned long long said = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int rc = SK_EXIT_FAIL;

	memset(&b, 0, sizeof(b));
	b.ep = -1;
	if (sk__setup(&b, o, sa) != 0) {
		fprintf(stderr, "sockit: bench: %s\n", b.why);
		goto error;
	}
	if (o->nsteps > 0) {
		rc = sk__scale(&b, name);
		goto error;
	}
	if (sk__join(&b, o->members) != 0 || sk__sync(&b) != 0) {
		fprintf(stderr, "sockit: bench: %s: the room did not form: %s\n",
			name, b.why);
		goto error;
	}
	if (o->pid > 0)
		tick0 = sk__proc_ticks(o->pid);
	cpu0 = sk__self_cpu_ns();
	t0 = sk__ns();
	if (sk__talk(&b, t0 + (uint64_t)o->duration_ms * 1000000u) != 0) {
		fprintf(stderr, "sockit: bench: %s: %s\n", name, b.why);
		goto error;
	}
	t1 = sk__ns();
	cpu1 = sk__self_cpu_ns();
	if (o->pid > 0)
		tick1 = sk__proc_ticks(o->pid);
	for (unsigned k = 0; k < o->talkers; k++)
		said += b.sp[k].sent;
	if (b.delivered == 0) {
		fprintf(stderr, "sockit: bench: %s: no line was delivered\n",
			name);
		goto error;
	}
	printf("chat %s %s: %u members, %u talkers: %llu lines delivered in "
	       "%.2f s = %.0f per second; %llu said",
	       sk__proto_name[o->proto], name, o->members, o->talkers,
	       b.delivered, (double)(t1 - t0) / 1e9,
	       (double)b.delivered / ((double)(t1 - t0) / 1e9), said);
	if (tick0 >= 0 && tick1 >= 0) {
		double cpu = (double)(tick1 - tick0) / (double)hz;

		printf("; server %.2f CPU-s = %.0f per CPU-second", cpu,
		       cpu > 0 ? (double)b.delivered / cpu : 0.0);
	}
	printf("; generator %.0f%% busy",
	       100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0));
	if (o->latency && b.nsamples > 0) {
		qsort(b.samples, b.nsamples, sizeof(*b.samples), sk__cmp_u32);
		printf("; delay median %u us, p99 %u us, max %u us",
		       b.samples[b.nsamples / 2],
		       b.samples[b.nsamples * 99 / 100],
		       b.samples[b.nsamples - 1]);
	}
	printf("\n");
	rc = SK_EXIT_OK;
error:
	sk__teardown(&b);
	return rc;
}
