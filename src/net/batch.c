/*
 * batch.c: batched UDP workers (see batch.h).
 *
 * Threads share nothing but the read-only config and their counters,
 * which are atomics read by the main loop once a summary interval.
 */
#include "batch.h"

#include <errno.h>
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
	uv_thread_t thread;            /* runs loop */
	uv_loop_t loop;                /* this worker's loop */
	uv_poll_t poll;                /* readiness of fd */
	uv_timer_t tick;               /* once a second */
	uv_async_t stop;               /* wakes the loop to stop */
	int fd;                        /* the SO_REUSEPORT socket */
	int loop_on;                   /* loop initialised */
	int running;                   /* thread started */
	void *state;                   /* the service's worker state */
	struct sk_batch_stats st;      /* local counters */
	_Atomic unsigned long shared[5]; /* st published for the main loop */
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

static void sk__publish(struct sk__worker *w)
{
	unsigned long *v = (unsigned long *)&w->st;

	for (int i = 0; i < 5; i++) {
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
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		/* EAGAIN or an error for this peer: skip one and go on. */
		w->st.unsent++;
		sent++;
	}
}

static void sk__readable(uv_poll_t *p, int status, int events)
{
	struct sk__worker *w = p->data;
	uint64_t spin_ns = (uint64_t)w->b->spin_us * 1000, idle_since, start;

	(void)events;
	if (status < 0) {
		/* libuv stopped the poll; say so and watch the socket again. */
		sk_log_warn(status, "ntp worker: socket error");
		uv_poll_start(p, UV_READABLE, sk__readable);
		return;
	}
	for (int round = 0; round < SK_BATCH_ROUNDS; round++) {
		int n = sk__recv(w);

		if (n == 0)
			break;
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
		w->b->ops->handle(w->state, w->d, (size_t)n, &w->st);
		sk__send(w, n);
		idle_since = uv_hrtime();
	}
}

static void sk__tick(uv_timer_t *t)
{
	struct sk__worker *w = t->data;

	w->b->ops->worker_tick(w->state);
	sk__publish(w);
}

static void sk__stop_cb(uv_async_t *a)
{
	struct sk__worker *w = a->data;

	uv_close((uv_handle_t *)&w->poll, NULL);
	uv_close((uv_handle_t *)&w->tick, NULL);
	uv_close((uv_handle_t *)&w->stop, NULL);
}

static void sk__close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void sk__run(void *arg)
{
	struct sk__worker *w = arg;

	uv_run(&w->loop, UV_RUN_DEFAULT);
	sk__publish(w);
}

/* A bound, non-blocking SO_REUSEPORT socket with receive timestamps. */
static int sk__socket(const struct sockaddr *addr)
{
	int fd, on = 1, size = SK_UDP_RCVBUF, err;

	fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0 ||
	    (addr->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0))
		goto error;
	/* Replies are small: send them with DF set and ignore path MTU, which
	 * also spares the kernel an IP ID hash per datagram. */
	if (addr->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER,
			   &(int){ IP_PMTUDISC_PROBE }, sizeof(int));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER,
			   &(int){ IPV6_PMTUDISC_PROBE }, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
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
 * same worker, so that its rate limiter sees all of that client's
 * requests even when the client changes source ports. Without this the
 * kernel hashes the port too, and a client could get `threads` times its
 * burst. Best effort: on failure the kernel's own hash stays.
 */
static void sk__steer(int fd, int family, unsigned n)
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

	if (n < 2)
		return;
	if (family == AF_INET6) {
		prog.len = sizeof(v6) / sizeof(v6[0]);
		prog.filter = v6;
	} else {
		prog.len = sizeof(v4) / sizeof(v4[0]);
		prog.filter = v4;
	}
	setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

static void sk__worker_free(struct sk__worker *w, const struct sk_batch_ops *ops)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->state != NULL)
		ops->worker_free(w->state);
	free(w);
}

int sk_batch_start(const struct sk_batch_ops *ops, const void *cfg,
		   const struct sockaddr *addr, unsigned threads, unsigned spin_us,
		   struct sockaddr_storage *bound, struct sk_batch **out)
{
	struct sk_batch *b;
	struct sockaddr_storage at;
	socklen_t len = sizeof(at);
	unsigned i;
	int rc = 0;

	if (threads == 0)
		threads = 1;
	b = calloc(1, sizeof(*b) + threads * sizeof(b->w[0]));
	if (b == NULL)
		return -ENOMEM;
	b->ops = ops;
	b->cfg = cfg;
	b->spin_us = spin_us;
	memcpy(&at, addr, sk_sockaddr_len(addr));
	for (i = 0; i < threads; i++) {
		struct sk__worker *w = calloc(1, sizeof(*w));

		if (w == NULL) {
			rc = -ENOMEM;
			break;
		}
		w->b = b;
		w->fd = sk__socket((struct sockaddr *)&at);
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
	sk__steer(b->w[0]->fd, at.ss_family, b->n);
	/* Every socket is bound: now start the threads. A worker that cannot
	 * start takes the whole group down: its socket would sit in the
	 * SO_REUSEPORT group and swallow its share of clients. */
	for (i = 0; i < b->n; i++) {
		struct sk__worker *w = b->w[i];

		rc = uv_loop_init(&w->loop);
		if (rc == 0) {
			w->loop_on = 1;
			rc = uv_poll_init(&w->loop, &w->poll, w->fd);
		}
		if (rc == 0)
			rc = uv_async_init(&w->loop, &w->stop, sk__stop_cb);
		if (rc != 0)
			break;
		uv_timer_init(&w->loop, &w->tick);
		w->poll.data = w->tick.data = w->stop.data = w;
		ops->worker_tick(w->state);
		uv_poll_start(&w->poll, UV_READABLE, sk__readable);
		uv_timer_start(&w->tick, sk__tick, 1000, 1000);
		rc = uv_thread_create(&w->thread, sk__run, w);
		if (rc != 0)
			break;
		w->running = 1;
	}
	if (rc != 0) {
		struct sk_batch_stats ignored;

		memset(&ignored, 0, sizeof(ignored));
		sk_batch_stop(b, &ignored);
		return rc;
	}
	if (bound != NULL)
		*bound = at;
	*out = b;
	return 0;
}

void sk_batch_take_stats(struct sk_batch *b, struct sk_batch_stats *sum)
{
	unsigned long *s = (unsigned long *)sum;

	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < b->n; i++)
		for (int k = 0; k < 5; k++)
			s[k] += atomic_exchange_explicit(&b->w[i]->shared[k], 0,
							 memory_order_relaxed);
}

void sk_batch_stop(struct sk_batch *b, struct sk_batch_stats *sum)
{
	unsigned long *s = (unsigned long *)sum;

	for (unsigned i = 0; i < b->n; i++)
		if (b->w[i]->running)
			uv_async_send(&b->w[i]->stop);
	for (unsigned i = 0; i < b->n; i++) {
		struct sk__worker *w = b->w[i];

		if (w->running) {
			uv_thread_join(&w->thread);
		} else if (w->loop_on) {
			/* Never ran: close what was opened, then the loop. */
			uv_walk(&w->loop, sk__close_any, NULL);
			uv_run(&w->loop, UV_RUN_DEFAULT);
		}
		if (w->loop_on)
			uv_loop_close(&w->loop);
		for (int k = 0; k < 5; k++)
			s[k] += atomic_load_explicit(&w->shared[k],
						     memory_order_relaxed);
		sk__worker_free(w, b->ops);
	}
	free(b);
}
