/*
 * batch.c: batched UDP workers (see batch.h).
 *
 * Threads share nothing but the read-only config and their counters,
 * which are atomics read by the main loop once a summary interval. The
 * main thread sets a worker up completely before uv_thread_create() and
 * touches it again only through uv_async_send() and after joining it.
 */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/sk_limits.h"
#include "client.h"
#include "log.h"
#include "sockaddr.h"

struct sk__worker {
	struct sk_batch *b;            /* the group */
	unsigned idx;                  /* its number in the group, for logs */
	uv_thread_t thread;            /* runs loop */
	uv_loop_t loop;                /* this worker's loop */
	uv_poll_t poll;                /* readiness of fd */
	uv_timer_t tick;               /* once a second */
	uv_timer_t retry;              /* polls fd again after an error */
	uv_async_t stop;               /* wakes the loop to stop */
	uv_async_t swap;               /* wakes it to take next */
	_Atomic(void *) next;          /* a new state from a reload */
	int fd;                        /* the SO_REUSEPORT socket */
	int loop_on;                   /* loop initialised */
	int running;                   /* thread started */
	unsigned retry_ms;             /* next back-off; 0: no error run */
	unsigned calm;                 /* ticks since the last poll error */
	unsigned log_ticks;            /* ticks since poll errors were logged */
	unsigned long perr;            /* poll errors not logged yet */
	void *state;                   /* the service's worker state */
	struct sk_batch_stats st;      /* local counters */
	_Atomic unsigned long shared[SK_BATCH_NSTATS]; /* st published for the main loop */
	struct sk_dgram d[SK_BATCH_MSGS];          /* the batch */
	uint8_t in[SK_BATCH_MSGS][SK_BATCH_IN];    /* request bytes */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec))];
	} cmsg[SK_BATCH_MSGS];                     /* control data, aligned */
};

struct sk_batch {
	const struct sk_batch_ops *ops; /* the service */
	unsigned spin_us;               /* busy-poll time, 0: none */
	const void *cfg;                /* the service's settings */
	unsigned n;                     /* workers */
	struct sk__worker *w[];         /* them */
};

/* How a worker names itself in the log: after its service. */
#define SK__NAME(b) ((b)->ops->name != NULL ? (b)->ops->name : "batch")

/* Worker loops that would not close, since start (sk_batch_unclosed). */
static _Atomic unsigned long sk__unclosed;

static void sk__publish(struct sk__worker *w)
{
	unsigned long *v = (unsigned long *)&w->st;

	for (int i = 0; i < SK_BATCH_NSTATS; i++) {
		if (v[i] != 0)
			atomic_fetch_add_explicit(&w->shared[i], v[i],
						  memory_order_relaxed);
		v[i] = 0;
	}
}

/* Read up to SK_BATCH_MSGS datagrams. Returns how many, or 0. */
static int sk__recv(struct sk__worker *w)
{
	struct mmsghdr m[SK_BATCH_MSGS];
	struct iovec iov[SK_BATCH_MSGS];
	int n;

	for (int i = 0; i < SK_BATCH_MSGS; i++) {
		iov[i].iov_base = w->in[i];
		iov[i].iov_len = SK_BATCH_IN;
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_name = &w->d[i].peer;
		m[i].msg_hdr.msg_namelen = sizeof(w->d[i].peer);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_control = w->cmsg[i].buf;
		m[i].msg_hdr.msg_controllen = sizeof(w->cmsg[i].buf);
	}
	n = recvmmsg(w->fd, m, SK_BATCH_MSGS, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		struct sk_dgram *d = &w->d[i];
		struct cmsghdr *c;

		d->peerlen = m[i].msg_hdr.msg_namelen;
		d->in = w->in[i];
		d->len = m[i].msg_len;
		d->truncated = (m[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
		d->outlen = 0;
		d->rx_ns = 0;
		for (c = CMSG_FIRSTHDR(&m[i].msg_hdr); c != NULL;
		     c = CMSG_NXTHDR(&m[i].msg_hdr, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				d->rx_ns = (int64_t)ts.tv_sec * 1000000000 +
					   ts.tv_nsec;
			}
		}
		if (d->rx_ns == 0)
			d->rx_ns = sk_realtime_ns();
	}
	return n;
}

static void sk__send(struct sk__worker *w, int n)
{
	struct mmsghdr m[SK_BATCH_MSGS];
	struct iovec iov[SK_BATCH_MSGS];
	struct sk_dgram *r[SK_BATCH_MSGS];
	int k = 0, sent = 0;

	for (int i = 0; i < n; i++)
		if (w->d[i].outlen > 0)
			r[k++] = &w->d[i];
	if (k == 0)
		return;
	for (int i = 0; i < k; i++) {
		iov[i].iov_base = r[i]->out;
		iov[i].iov_len = r[i]->outlen;
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_name = &r[i]->peer;
		m[i].msg_hdr.msg_namelen = r[i]->peerlen;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	/* Replies go out SK_BATCH_TX at a time, each group stamped just
	 * before its sendmmsg(): a reply leaves at most a group's worth of
	 * kernel send time after the time it carries. */
	while (sent < k) {
		int chunk = k - sent < SK_BATCH_TX ? k - sent : SK_BATCH_TX;
		int rc;

		w->b->ops->stamp(w->state, r + sent, (size_t)chunk, sk_realtime_ns());
		rc = sendmmsg(w->fd, m + sent, (unsigned)chunk, 0);
		if (rc > 0) {
			sent += rc;
			w->st.sent += (unsigned long)rc;
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		/* EAGAIN or an error for this peer: skip one and go on. */
		w->st.unsent++;
		sent++;
	}
}

static void sk__readable(uv_poll_t *p, int status, int events);

/*
 * Clear what makes the socket report an error: its pending error
 * (SO_ERROR) and its error queue, which only fills when something turns
 * on IP_RECVERR or timestamping. Returns the first error found as a
 * negative errno, or 0.
 */
static int sk__clear_error(int fd)
{
	int err = 0, so = 0;
	socklen_t len = sizeof(so);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so != 0)
		err = -so;
	for (int i = 0; i < SK_BATCH_MSGS; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6))];
		} cm;
		struct msghdr m;
		struct cmsghdr *c;

		memset(&m, 0, sizeof(m));
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof(cm.buf);
		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (c = CMSG_FIRSTHDR(&m); c != NULL && err == 0;
		     c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err ee;

			if (!((c->cmsg_level == IPPROTO_IP &&
			       c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == IPPROTO_IPV6 &&
			       c->cmsg_type == IPV6_RECVERR)) ||
			    c->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_errno != 0)
				err = -(int)ee.ee_errno;
		}
	}
	return err;
}

static void sk__retry_cb(uv_timer_t *t);

/*
 * The poll reported an error (libuv then stops the handle and says
 * UV_EBADF whatever the socket's error was), or could not be started
 * again. Polling again at once would spin: epoll reports a pending
 * error straight back. So clear the error, and poll again after a
 * back-off that doubles with each error in a row (SK_BATCH_RETRY_*).
 * The worker is not stopped instead: its socket would stay in the
 * SO_REUSEPORT group and the kernel would keep handing it its share of
 * clients, who would get no answer. The first error of a run is logged
 * at once; the rest are counted and logged by sk__tick().
 */
static void sk__poll_failed(struct sk__worker *w, int status)
{
	int err = sk__clear_error(w->fd), rc;

	w->calm = 0;
	if (w->retry_ms == 0) {
		w->retry_ms = SK_BATCH_RETRY_MIN_MS;
		w->log_ticks = 0;
		sk_log_warn(err != 0 ? err : status,
			    "%s worker %u: socket error (polling again in "
			    "%u ms; more errors are counted, logged every %us)",
			    SK__NAME(w->b), w->idx, w->retry_ms,
			    SK_BATCH_ERR_LOG_S);
	} else {
		w->perr++;
		w->retry_ms = w->retry_ms * 2 > SK_BATCH_RETRY_MAX_MS
				      ? SK_BATCH_RETRY_MAX_MS
				      : w->retry_ms * 2;
	}
	rc = uv_timer_start(&w->retry, sk__retry_cb, w->retry_ms, 0);
	if (rc != 0)
		/* Only a closing handle refuses: the worker is stopping. */
		sk_log_warn(rc, "%s worker %u: cannot poll its socket again",
			    SK__NAME(w->b), w->idx);
}

static void sk__retry_cb(uv_timer_t *t)
{
	struct sk__worker *w = t->data;
	int rc = uv_poll_start(&w->poll, UV_READABLE, sk__readable);

	if (rc != 0)
		sk__poll_failed(w, rc);
}

static void sk__readable(uv_poll_t *p, int status, int events)
{
	struct sk__worker *w = p->data;
	uint64_t spin_ns = (uint64_t)w->b->spin_us * 1000, idle_since, start;

	(void)events;
	if (status < 0) {
		sk__poll_failed(w, status);
		return;
	}
	for (int round = 0; round < SK_BATCH_ROUNDS; round++) {
		int n = sk__recv(w);

		if (n == 0)
			break;
		w->st.received += (unsigned long)n;
		w->b->ops->handle(w->state, w->d, (size_t)n, &w->st);
		sk__send(w, n);
		if (n < SK_BATCH_MSGS)
			break;
	}
	if (spin_ns == 0)
		return;
	/*
	 * Busy polling: keep reading for spin_us after the last datagram
	 * instead of going back to sleep, which saves the wake-up (about
	 * 10 us here) at the price of a busy CPU. The whole turn is bounded
	 * by SK_BATCH_SPIN_MAX_NS so the loop's timers still run.
	 */
	start = idle_since = uv_hrtime();
	for (;;) {
		uint64_t now = uv_hrtime();
		int n;

		if (now - idle_since > spin_ns || now - start > SK_BATCH_SPIN_MAX_NS)
			break;
		n = sk__recv(w);
		if (n == 0)
			continue;
		w->st.received += (unsigned long)n;
		w->b->ops->handle(w->state, w->d, (size_t)n, &w->st);
		sk__send(w, n);
		idle_since = uv_hrtime();
	}
}

/* Log the poll errors counted since the last line, if any. */
static void sk__log_perr(struct sk__worker *w)
{
	if (w->perr == 0)
		return;
	sk_log_warnx("%s worker %u: %lu more socket errors in %us",
		     SK__NAME(w->b), w->idx,
		     w->perr, w->log_ticks);
	w->perr = 0;
	w->log_ticks = 0;
}

static void sk__tick(uv_timer_t *t)
{
	struct sk__worker *w = t->data;

	w->b->ops->worker_tick(w->state);
	sk__publish(w);
	if (w->retry_ms == 0)
		return;
	w->log_ticks++;
	if (++w->calm >= SK_BATCH_ERR_LOG_S) {
		/* A quiet spell ends the run of errors. */
		sk__log_perr(w);
		w->retry_ms = 0;
	} else if (w->log_ticks >= SK_BATCH_ERR_LOG_S) {
		sk__log_perr(w);
	}
}

static void sk__close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Close every handle of the loop (the poll, both timers and this one),
 * so that uv_run() returns. */
static void sk__stop_cb(uv_async_t *a)
{
	struct sk__worker *w = a->data;

	uv_walk(&w->loop, sk__close_any, NULL);
}

/* A reload made a new state: take it, on the worker's own thread. */
static void sk__swap_cb(uv_async_t *a)
{
	struct sk__worker *w = a->data;
	void *n = atomic_exchange(&w->next, NULL);

	if (n == NULL)
		return;
	w->b->ops->worker_free(w->state);
	w->state = n;
	w->b->ops->worker_tick(n);
}

static void sk__run(void *arg)
{
	struct sk__worker *w = arg;

	uv_run(&w->loop, UV_RUN_DEFAULT);
	sk__log_perr(w);
	sk__publish(w);
}

/* A bound, non-blocking SO_REUSEPORT socket with receive timestamps. */
/* The options every worker socket gets, before it is bound (or, for a
 * socket handed to us, as it is). Returns 0 or a negative errno. */
static int sk__sockopts(int fd, int family)
{
	int on = 1, size = SK_UDP_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0)
		return -errno;
	/* Replies are small: send them with DF set and ignore path MTU, which
	 * also spares the kernel an IP ID hash per datagram. */
	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER,
			   &(int){ IP_PMTUDISC_PROBE }, sizeof(int));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER,
			   &(int){ IPV6_PMTUDISC_PROBE }, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}

static int sk__socket(const struct sockaddr *addr)
{
	int fd, on = 1, err;

	fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    (addr->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0))
		goto error;
	if ((err = sk__sockopts(fd, addr->sa_family)) != 0) {
		close(fd);
		return err;
	}
	if (bind(fd, addr, sk_sockaddr_len(addr)) != 0)
		goto error;
	return fd;
error:
	err = -errno;
	close(fd);
	return err;
}

/*
 * Steer every datagram from one source address (IPv4) or /64 (IPv6) to the
 * same one of n workers, so that its rate limiter sees all of that
 * client's requests even when the client changes source ports. Without
 * this the kernel hashes the port too, and a client could get n times its
 * burst. Set on the group's first socket; the program stays with the
 * group as the others join. Returns 0 or a negative errno.
 */
static int sk__steer(int fd, int family, unsigned n)
{
	struct sock_filter v4[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_filter v6[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog;

	if (family == AF_INET6) {
		prog.len = sizeof(v6) / sizeof(v6[0]);
		prog.filter = v6;
	} else {
		prog.len = sizeof(v4) / sizeof(v4[0]);
		prog.filter = v4;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
		       sizeof(prog)) != 0)
		return -errno;
	return 0;
}

static void sk__worker_free(struct sk__worker *w, const struct sk_batch_ops *ops)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->state != NULL)
		ops->worker_free(w->state);
	if (atomic_load(&w->next) != NULL)
		ops->worker_free(atomic_load(&w->next));
	free(w);
}

/*
 * Stop and free every worker of b, running or not, and b. Returns how
 * many worker loops would not close (each is logged).
 */
static unsigned sk__stop_all(struct sk_batch *b, struct sk_batch_stats *sum)
{
	unsigned long *s = (unsigned long *)sum;
	unsigned unclosed = 0;
	int rc;

	for (unsigned i = 0; i < b->n; i++) {
		if (!b->w[i]->running)
			continue;
		rc = uv_async_send(&b->w[i]->stop);
		if (rc != 0)
			/* Not on Linux; the join below would then hang. */
			sk_log_warn(rc, "%s worker %u: cannot stop it",
				    SK__NAME(b), i);
	}
	for (unsigned i = 0; i < b->n; i++) {
		struct sk__worker *w = b->w[i];

		if (w->running) {
			rc = uv_thread_join(&w->thread);
			if (rc != 0)
				sk_log_warn(rc, "%s worker %u: join",
					    SK__NAME(b), i);
		} else if (w->loop_on) {
			/* Never ran: close what was opened, then the loop. */
			uv_walk(&w->loop, sk__close_any, NULL);
			uv_run(&w->loop, UV_RUN_DEFAULT);
		}
		if (w->loop_on && (rc = uv_loop_close(&w->loop)) != 0) {
			/* A bug: something was opened that stop does not
			 * close. Say so in the words the daemon uses for its
			 * own loop, then close it anyway to free the loop. */
			sk_log_warn(rc, "%s worker %u: handles left open at "
				    "exit", SK__NAME(b), i);
			unclosed++;
			uv_walk(&w->loop, sk__close_any, NULL);
			uv_run(&w->loop, UV_RUN_DEFAULT);
			uv_loop_close(&w->loop);
		}
		for (int k = 0; k < SK_BATCH_NSTATS; k++)
			s[k] += atomic_load_explicit(&w->shared[k],
						     memory_order_relaxed);
		sk__worker_free(w, b->ops);
	}
	free(b);
	atomic_fetch_add(&sk__unclosed, unclosed);
	return unclosed;
}

/* Open w's loop and handles and start its thread. Returns 0 or a negative
 * errno; what was opened is left for sk__stop_all(). */
static int sk__worker_start(struct sk__worker *w)
{
	int rc;

	rc = uv_loop_init(&w->loop);
	if (rc != 0)
		return rc;
	w->loop_on = 1;
	if ((rc = uv_poll_init(&w->loop, &w->poll, w->fd)) != 0 ||
	    (rc = uv_async_init(&w->loop, &w->stop, sk__stop_cb)) != 0 ||
	    (rc = uv_async_init(&w->loop, &w->swap, sk__swap_cb)) != 0 ||
	    (rc = uv_timer_init(&w->loop, &w->tick)) != 0 ||
	    (rc = uv_timer_init(&w->loop, &w->retry)) != 0)
		return rc;
	w->poll.data = w->tick.data = w->retry.data = w->stop.data = w;
	w->swap.data = w;
	w->b->ops->worker_tick(w->state);
	if ((rc = uv_poll_start(&w->poll, UV_READABLE, sk__readable)) != 0 ||
	    (rc = uv_timer_start(&w->tick, sk__tick, 1000, 1000)) != 0 ||
	    (rc = uv_thread_create(&w->thread, sk__run, w)) != 0)
		return rc;
	w->running = 1;
	return 0;
}

/* sk_batch_start() on addr, or, when fd is not -1, sk_batch_adopt() on
 * fd (addr is then its address, and threads 1). fd is closed on
 * failure. */
static int sk__start(const struct sk_batch_ops *ops, const void *cfg,
		     const struct sockaddr *addr, int fd, unsigned threads,
		     unsigned spin_us, struct sockaddr_storage *bound,
		     struct sk_batch **out)
{
	struct sk_batch *b;
	struct sockaddr_storage at;
	struct sk_batch_stats ignored;
	socklen_t len = sizeof(at);
	char as[SK_ADDRSTR_MAX];
	unsigned i;
	int rc = 0;

	if (threads == 0)
		threads = 1;
	b = calloc(1, sizeof(*b) + threads * sizeof(b->w[0]));
	if (b == NULL) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	b->ops = ops;
	b->cfg = cfg;
	b->spin_us = spin_us;
	memcpy(&at, addr, sk_sockaddr_len(addr));
	for (i = 0; i < threads; i++) {
		struct sk__worker *w = calloc(1, sizeof(*w));

		if (w == NULL) {
			if (fd >= 0)
				close(fd);
			rc = -ENOMEM;
			break;
		}
		w->b = b;
		w->idx = i;
		if (fd >= 0) {
			w->fd = fd;
			fd = -1; /* the worker's from now on */
			rc = sk__sockopts(w->fd, at.ss_family);
			if (rc != 0) {
				sk__worker_free(w, ops);
				break;
			}
		} else {
			w->fd = sk__socket((struct sockaddr *)&at);
		}
		if (w->fd < 0) {
			rc = w->fd;
			w->fd = -1;
			sk__worker_free(w, ops);
			break;
		}
		/* The first bind fixes the port for the rest. */
		if (i == 0 && getsockname(w->fd, (struct sockaddr *)&at, &len)) {
			rc = -errno;
			sk__worker_free(w, ops);
			break;
		}
		/*
		 * Workers keep their own rate limiters, so a client must
		 * always meet the same one. Where the kernel cannot steer
		 * clients so (no SO_ATTACH_REUSEPORT_CBPF: an old or
		 * restricted kernel), serve on one thread: slower, but a
		 * client gets its burst once, not once per thread, and the
		 * service still runs where failing would take it away.
		 * Steered before the other sockets exist, so none has to be
		 * bound and then thrown away with datagrams in it.
		 */
		if (i == 0 && threads > 1 &&
		    (rc = sk__steer(w->fd, at.ss_family, threads)) != 0) {
			sk_sockaddr_str((struct sockaddr *)&at, as, sizeof(as));
			sk_log_warn(rc, "%s: cannot steer each client to one "
				    "worker thread, so serving on 1 thread, "
				    "not %u (SO_ATTACH_REUSEPORT_CBPF)",
				    as, threads);
			threads = 1;
			rc = 0;
		}
		w->state = ops->worker_new(cfg);
		if (w->state == NULL) {
			rc = -ENOMEM;
			sk__worker_free(w, ops);
			break;
		}
		b->w[b->n++] = w;
	}
	if (rc != 0) {
		for (i = 0; i < b->n; i++)
			sk__worker_free(b->w[i], ops);
		free(b);
		return rc;
	}
	/* Every socket is bound: now start the threads. A worker that cannot
	 * start takes the whole group down: its socket would sit in the
	 * SO_REUSEPORT group and swallow its share of clients. */
	for (i = 0; i < b->n && rc == 0; i++)
		rc = sk__worker_start(b->w[i]);
	if (rc != 0) {
		memset(&ignored, 0, sizeof(ignored));
		sk__stop_all(b, &ignored);
		return rc;
	}
	if (bound != NULL)
		*bound = at;
	*out = b;
	return 0;
}

int sk_batch_start(const struct sk_batch_ops *ops, const void *cfg,
		   const struct sockaddr *addr, unsigned threads, unsigned spin_us,
		   struct sockaddr_storage *bound, struct sk_batch **out)
{
	return sk__start(ops, cfg, addr, -1, threads, spin_us, bound, out);
}

int sk_batch_adopt(const struct sk_batch_ops *ops, const void *cfg, int fd,
		   unsigned spin_us, struct sockaddr_storage *bound,
		   struct sk_batch **out)
{
	struct sockaddr_storage at;
	socklen_t len = sizeof(at);
	int flags;

	if (getsockname(fd, (struct sockaddr *)&at, &len) != 0 ||
	    (flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (at.ss_family != AF_INET && at.ss_family != AF_INET6) {
		close(fd);
		return -EAFNOSUPPORT;
	}
	return sk__start(ops, cfg, (struct sockaddr *)&at, fd, 1, spin_us,
			 bound, out);
}

void sk_batch_take_stats(struct sk_batch *b, struct sk_batch_stats *sum)
{
	unsigned long *s = (unsigned long *)sum;

	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < b->n; i++)
		for (int k = 0; k < SK_BATCH_NSTATS; k++)
			s[k] += atomic_exchange_explicit(&b->w[i]->shared[k], 0,
							 memory_order_relaxed);
}

int sk_batch_reload(struct sk_batch *b, const void *cfg)
{
	int rc = 0;

	for (unsigned i = 0; i < b->n; i++) {
		struct sk__worker *w = b->w[i];
		void *n = b->ops->worker_new(cfg), *old;

		if (n == NULL) {
			rc = -ENOMEM;
			continue;
		}
		/* Two reloads before the worker woke: the first state is
		 * never seen, and is ours to free. */
		old = atomic_exchange(&w->next, n);
		if (old != NULL)
			b->ops->worker_free(old);
		uv_async_send(&w->swap);
	}
	return rc;
}

void sk_batch_stop(struct sk_batch *b, struct sk_batch_stats *sum)
{
	sk__stop_all(b, sum);
}

unsigned long sk_batch_unclosed(void)
{
	return atomic_load(&sk__unclosed);
}
