/*
 * server.c: the daemon's event loop.
 *
 * Listeners, connections and UDP sockets all belong to one uv_loop_t,
 * except those of services with udp_batch, whose sockets live on worker
 * threads of their own (batch.c); this loop only starts, counts and stops
 * them.
 * A connection is freed only in its uv_close() callback; code that wants
 * it gone calls sk__conn_close(), which marks it and starts the close.
 * Output is bounded per connection (SK_CONN_MAX_WQUEUE): past it we stop
 * reading from that peer until it drains, so a peer that never reads
 * cannot make us buffer without end.
 */
#include "server.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/line.h"
#include "batch.h"
#include "log.h"
#include "sockaddr.h"

struct sk_listener {
	struct sk_server *srv;         /* owner */
	const struct sk_service *svc;  /* what it serves */
	unsigned transport;            /* SK_TCP or SK_UDP */
	char name[96];                 /* "daytime/udp 127.0.0.1:10013" */
	union {
		uv_handle_t h;
		uv_tcp_t tcp;
		uv_udp_t udp;
	} u;                           /* the socket */
	unsigned long drop_rate;       /* datagrams over the rate, this interval */
	unsigned long drop_bad;        /* malformed or unsendable, this interval */
	unsigned long drop_conn;       /* connections over max_conn */
	unsigned long accept_err;      /* failed accepts, this interval */
	int last_err;                  /* the last of them */
	unsigned pending;              /* queued UDP replies */
	struct sk_batch *batch;        /* worker threads, for udp_batch */
	struct sk_batch_stats bstats;  /* their counters, this interval */
	int batched;                   /* served by batch workers */
	struct sk_conn *spare;         /* accepts and closes a connection when
					* memory runs out; libuv stops watching
					* a listener whose callback accepts
					* nothing */
};

struct sk_conn {
	uv_tcp_t tcp;                  /* the socket; tcp.data is this */
	struct sk_listener *lis;       /* where it arrived */
	struct sk_conn *prev, *next;   /* the server's list */
	struct sockaddr_storage peer;  /* the client */
	struct sockaddr_storage local; /* our end */
	struct sk_line line;           /* framer, for line services */
	uint64_t last;                 /* loop time of last progress, ms */
	unsigned writes;               /* writes in flight */
	unsigned ending : 1;           /* close once writes drain */
	unsigned closing : 1;          /* uv_close() called */
	unsigned paused : 1;           /* output over SK_CONN_MAX_WQUEUE */
	unsigned reading : 1;          /* uv_read_start() in force */
	unsigned eof : 1;              /* the peer has finished sending */
	unsigned queued : 1;           /* on the server's ready list */
	unsigned spare : 1;            /* the listener's spare, not freed */
	struct sk_conn *rprev, *rnext; /* the ready list */
	size_t inlen;                  /* bytes in in[] */
	char in[SK_CONN_INBUF];        /* input not yet handled */
};

struct sk_server {
	uv_loop_t loop;                 /* the event loop */
	const struct sk_config *cfg;    /* settings */
	struct sk_listener *lis[SK_MAX_LISTENERS]; /* bound sockets */
	size_t nlis;                    /* how many */
	struct sk_conn *conns;          /* open connections */
	size_t nconn;                   /* how many */
	uv_signal_t sigint, sigterm;    /* shutdown triggers */
	uv_timer_t tick;                /* 1 s: idle sweep, drop summaries */
	uv_timer_t grace;               /* shutdown deadline */
	unsigned ticks;                 /* ticks since the last summary */
	int stopping;                   /* shutdown has begun */
	int tick_on;                    /* tick timer open */
	int grace_on;                   /* grace timer open */
	uv_idle_t more;                 /* runs connections with input left */
	struct sk_conn *cache;          /* freed connections kept for reuse */
	unsigned ncache;                /* how many */
	struct sk_conn *rhead, *rtail;  /* those connections, in order */
	size_t nready;                  /* how many */
	struct sk_rl rl;                /* UDP rate limiter, all services */
	char rbuf[SK_UDP_BUF];          /* receive buffer for the loop */
};

/* A queued TCP write and its bytes. */
struct sk__wreq {
	uv_write_t req;
	struct sk_conn *c;
	char data[];
};

/* A queued UDP reply and its bytes. */
struct sk__sreq {
	uv_udp_send_t req;
	struct sk_listener *l;
	char data[];
};

static void sk__conn_close(struct sk_conn *c);
static void sk__stop(uv_signal_t *sig, int signum);

/* A listener that failed to bind is freed in its close callback. */
static void sk__lis_free(uv_handle_t *h)
{
	struct sk_listener *l = h->data;

	free(l->spare);
	free(l);
}

const struct sk_config *sk_listener_config(const struct sk_listener *l)
{
	return l->srv->cfg;
}

struct sk_server *sk_server_new(const struct sk_config *cfg)
{
	struct sk_server *s = calloc(1, sizeof(*s));
	uint64_t seed[2] = { 0, 0 };

	if (s == NULL)
		return NULL;
	if (uv_loop_init(&s->loop) != 0) {
		free(s);
		return NULL;
	}
	s->cfg = cfg;
	s->loop.data = s;
	/* Signals are caught from here on, so a SIGTERM that arrives while
	 * the listeners are still being bound is a clean stop. */
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	s->sigint.data = s->sigterm.data = s;
	uv_signal_start(&s->sigint, sk__stop, SIGINT);
	uv_signal_start(&s->sigterm, sk__stop, SIGTERM);
	/* A fixed seed only weakens the hash, so a failure is not fatal. */
	if (uv_random(NULL, NULL, seed, sizeof(seed), 0, NULL) != 0)
		seed[0] = uv_hrtime();
	sk_rl_init(&s->rl, &cfg->udp_rate, &cfg->udp_global, seed);
	return s;
}

size_t sk_server_listeners(const struct sk_server *s)
{
	return s->nlis;
}

/* ---- TCP connections ---- */

/* Addresses are looked up on first use: send-and-close services that
 * never ask save two system calls per connection. */
const struct sockaddr *sk_conn_peer(struct sk_conn *c)
{
	int len = sizeof(c->peer);

	if (c->peer.ss_family == AF_UNSPEC)
		uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len);
	return (const struct sockaddr *)&c->peer;
}

const struct sockaddr *sk_conn_local(struct sk_conn *c)
{
	int len = sizeof(c->local);

	if (c->local.ss_family == AF_UNSPEC)
		uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->local, &len);
	return (const struct sockaddr *)&c->local;
}

const struct sk_config *sk_conn_config(const struct sk_conn *c)
{
	return c->lis->srv->cfg;
}

struct sk_line *sk_conn_line(struct sk_conn *c)
{
	return &c->line;
}

static void sk__conn_free(uv_handle_t *h)
{
	struct sk_conn *c = h->data;
	struct sk_server *s = c->lis->srv;

	if (c->spare) {
		c->lis->spare = c;
	} else if (s->ncache < SK_CONN_CACHE) {
		c->next = s->cache;
		s->cache = c;
		s->ncache++;
	} else {
		free(c);
	}
	if (s->stopping && s->nconn == 0 && s->grace_on) {
		s->grace_on = 0;
		uv_close((uv_handle_t *)&s->grace, NULL);
	}
}

/* The ready list: connections whose input is not all handled yet, each
 * given one turn (a bounded amount of work) per loop iteration. */
static void sk__ready_del(struct sk_conn *c)
{
	struct sk_server *s = c->lis->srv;

	if (!c->queued)
		return;
	c->queued = 0;
	if (c->rprev != NULL)
		c->rprev->rnext = c->rnext;
	else
		s->rhead = c->rnext;
	if (c->rnext != NULL)
		c->rnext->rprev = c->rprev;
	else
		s->rtail = c->rprev;
	c->rprev = c->rnext = NULL;
	s->nready--;
}

static void sk__more(uv_idle_t *h);

static void sk__ready_add(struct sk_conn *c)
{
	struct sk_server *s = c->lis->srv;

	if (c->queued)
		return;
	c->queued = 1;
	c->rnext = NULL;
	c->rprev = s->rtail;
	if (s->rtail != NULL)
		s->rtail->rnext = c;
	else
		s->rhead = c;
	s->rtail = c;
	if (s->nready++ == 0)
		uv_idle_start(&s->more, sk__more);
}

static void sk__conn_close(struct sk_conn *c)
{
	struct sk_server *s = c->lis->srv;

	if (c->closing)
		return;
	sk__ready_del(c);
	c->closing = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconn--;
	uv_close((uv_handle_t *)&c->tcp, sk__conn_free);
}

static void sk__alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk_server *s = h->loop->data;

	(void)hint;
	buf->base = s->rbuf;
	buf->len = sizeof(s->rbuf);
}

/* A connection reads into its own buffer, and only while it has room. */
static void sk__conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk_conn *c = h->data;

	(void)hint;
	buf->base = c->in + c->inlen;
	buf->len = sizeof(c->in) - c->inlen;
}

static void sk__read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/*
 * Give a connection its turn: let the service handle what input there is
 * (it takes at most SK_CONN_LINES_PER_TURN requests, and none while the
 * output is over SK_CONN_MAX_WQUEUE), keep the rest, and read only while
 * there is room and the peer takes its replies. Input left over goes on
 * the ready list for the next loop iteration, so one busy peer cannot
 * hold the loop.
 */
static void sk__conn_run(struct sk_conn *c)
{
	uv_stream_t *st = (uv_stream_t *)&c->tcp;
	int want;

	if (c->closing || c->ending)
		return;
	if (!c->paused && c->inlen > 0) {
		size_t used = c->lis->svc->tcp_read(c, c->in, c->inlen);

		if (c->closing || c->ending)
			return;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	if (c->eof && c->inlen == 0) {
		/* The peer is done and so are we, once the replies are out. */
		sk_conn_end(c);
		return;
	}
	if (c->inlen > 0 && !c->paused)
		sk__ready_add(c);
	want = !c->paused && !c->eof && c->inlen < sizeof(c->in);
	if (want && !c->reading) {
		if (uv_read_start(st, sk__conn_alloc, sk__read) != 0) {
			sk__conn_close(c);
			return;
		}
		c->reading = 1;
	} else if (!want && c->reading) {
		uv_read_stop(st);
		c->reading = 0;
	}
}

static void sk__more(uv_idle_t *h)
{
	struct sk_server *s = h->data;
	size_t n = s->nready;

	/* One turn each for those waiting now; a connection that still has
	 * input goes to the back. */
	while (n-- > 0 && s->rhead != NULL) {
		struct sk_conn *c = s->rhead;

		sk__ready_del(c);
		sk__conn_run(c);
	}
	if (s->nready == 0)
		uv_idle_stop(h);
}

static void sk__read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct sk_conn *c = st->data;

	(void)buf;
	if (n == 0 || c->closing || c->ending)
		return;
	if (n < 0) {
		if (n != UV_EOF) {
			sk__conn_close(c);
			return;
		}
		/* EOF: handle what is left, then finish the replies. */
		c->eof = 1;
	} else {
		c->inlen += (size_t)n;
		c->last = uv_now(st->loop);
	}
	sk__conn_run(c);
}

static void sk__write_done(uv_write_t *req, int status)
{
	struct sk__wreq *w = (struct sk__wreq *)req;
	struct sk_conn *c = w->c;

	free(w);
	c->writes--;
	if (c->closing)
		return;
	c->last = uv_now(c->tcp.loop);
	if (status < 0) {
		/* The peer reset or vanished; nothing more to say to it. */
		sk__conn_close(c);
		return;
	}
	if (c->ending && c->writes == 0) {
		sk__conn_close(c);
		return;
	}
	if (c->paused && !c->ending &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <
		    SK_CONN_MAX_WQUEUE / 2) {
		c->paused = 0;
		sk__conn_run(c);
	}
}

int sk_conn_write(struct sk_conn *c, const char *buf, size_t len)
{
	uv_stream_t *st = (uv_stream_t *)&c->tcp;
	struct sk__wreq *w;
	uv_buf_t b;
	int n = 0, rc;

	if (c->closing || c->ending)
		return UV_EPIPE;
	if (len == 0)
		return 0;
	if (c->writes == 0) {
		b = uv_buf_init((char *)buf, (unsigned)len);
		n = uv_try_write(st, &b, 1);
		if (n == (int)len)
			return 0;
		if (n < 0 && n != UV_EAGAIN) {
			sk__conn_close(c);
			return n;
		}
		if (n < 0)
			n = 0;
	}
	w = malloc(sizeof(*w) + len - (size_t)n);
	if (w == NULL) {
		sk__conn_close(c);
		return UV_ENOMEM;
	}
	w->c = c;
	memcpy(w->data, buf + n, len - (size_t)n);
	b = uv_buf_init(w->data, (unsigned)(len - (size_t)n));
	rc = uv_write(&w->req, st, &b, 1, sk__write_done);
	if (rc != 0) {
		free(w);
		sk__conn_close(c);
		return rc;
	}
	c->writes++;
	if (uv_stream_get_write_queue_size(st) > SK_CONN_MAX_WQUEUE)
		c->paused = 1; /* sk__conn_run() stops reading */
	return 0;
}

int sk_conn_paused(const struct sk_conn *c)
{
	return c->paused || c->closing || c->ending;
}

void sk_conn_end(struct sk_conn *c)
{
	if (c->closing)
		return;
	c->ending = 1;
	sk__ready_del(c);
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
	if (c->writes == 0)
		sk__conn_close(c);
}

static void sk__accept(uv_stream_t *server, int status)
{
	struct sk_listener *l = server->data;
	struct sk_server *s = l->srv;
	struct sk_conn *c;

	if (status < 0) {
		/* Counted, not logged: EMFILE under a flood would flood the
		 * log too. */
		l->accept_err++;
		l->last_err = status;
		return;
	}
	/* Reuse a freed connection when there is one: malloc and free of
	 * these 4 KiB blocks at tens of thousands a second cost more than the
	 * rest of the accept. Only the fields before the input buffer need
	 * clearing. */
	if (s->cache != NULL) {
		c = s->cache;
		s->cache = c->next;
		s->ncache--;
	} else {
		c = malloc(sizeof(*c));
	}
	if (c != NULL)
		memset(c, 0, offsetof(struct sk_conn, in));
	if (c == NULL && l->spare != NULL) {
		/* Out of memory: take the connection and close it at once. */
		c = l->spare;
		l->spare = NULL;
		memset(c, 0, sizeof(*c));
		c->spare = 1;
	}
	if (c == NULL)
		return; /* the spare is closing: libuv waits for uv_accept */
	c->lis = l;
	uv_tcp_init(&s->loop, &c->tcp);
	c->tcp.data = c;
	/* Link first, so that every path out goes through sk__conn_close. */
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconn++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		sk__conn_close(c);
		return;
	}
	if (s->nconn > s->cfg->max_conn || c->spare) {
		l->drop_conn++;
		sk__conn_close(c);
		return;
	}
	sk_line_init(&c->line);
	c->last = uv_now(&s->loop);
	if (l->svc->tcp_accept != NULL)
		l->svc->tcp_accept(c);
	if (c->ending || c->closing)
		return; /* sent and closing: no need to read */
	/* Replies to lines go out at once, not after Nagle's delay. */
	uv_tcp_nodelay(&c->tcp, 1);
	sk__conn_run(c);
}

/* ---- UDP ---- */

static void sk__send_done(uv_udp_send_t *req, int status)
{
	struct sk__sreq *r = (struct sk__sreq *)req;

	(void)status;
	r->l->pending--;
	free(r);
}

static void sk__udp_send(struct sk_listener *l, const char *buf, size_t len,
			 const struct sockaddr *to)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	struct sk__sreq *r;
	int rc;

	rc = uv_udp_try_send(&l->u.udp, &b, 1, to);
	if (rc >= 0 || rc != UV_EAGAIN)
		return; /* sent, or the peer is unreachable: nothing to do */
	if (l->pending >= SK_UDP_MAX_PENDING ||
	    (r = malloc(sizeof(*r) + len)) == NULL) {
		l->drop_bad++;
		return;
	}
	r->l = l;
	memcpy(r->data, buf, len);
	b = uv_buf_init(r->data, (unsigned)len);
	if (uv_udp_send(&r->req, &l->u.udp, &b, 1, to, sk__send_done) != 0) {
		free(r);
		l->drop_bad++;
		return;
	}
	l->pending++;
}

static void sk__udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
			 const struct sockaddr *from, unsigned flags)
{
	struct sk_listener *l = h->data;
	struct sk_server *s = l->srv;
	struct sk_rl_key key;
	char out[SK_TIMEFMT_MAX_OUT];
	const uint8_t *addr;
	int len, v6;

	if (from == NULL || n < 0)
		return; /* nothing more to read, or a transient error */
	/* Length first, then the rate limit, then the reply. */
	if ((flags & UV_UDP_PARTIAL) ||
	    (l->svc->udp_max_in != 0 && (size_t)n > l->svc->udp_max_in)) {
		l->drop_bad++;
		return;
	}
	addr = sk_sockaddr_bytes(from, &v6);
	sk_rl_key_make(&key, addr, v6);
	if (!sk_rl_allow(&s->rl, &key, uv_hrtime())) {
		l->drop_rate++;
		return;
	}
	len = l->svc->udp_reply(l, buf->base, (size_t)n, out, sizeof(out));
	if (len < 0) {
		l->drop_bad++;
		return;
	}
	sk__udp_send(l, out, (size_t)len, from);
}

/* ---- listeners ---- */

/* Worker loops per batched address: as configured, else one per CPU. */
static unsigned sk__threads(const struct sk_config *cfg)
{
	unsigned n = cfg->ntp.threads;

	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
		if (n > 64)
			n = 64; /* as --ntp-threads allows */
	}
	return n;
}

/* Ask for SK_UDP_RCVBUF; past net.core.rmem_max only root gets it. */
static void sk__udp_rcvbuf(uv_udp_t *u)
{
	int size = SK_UDP_RCVBUF;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)u, &fd) != 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

int sk_server_listen(struct sk_server *s, const struct sk_service *svc,
		     unsigned transport, const struct sockaddr *addr,
		     struct sockaddr_storage *bound)
{
	struct sk_listener *l;
	struct sockaddr_storage ss;
	char as[SK_ADDRSTR_MAX];
	int rc, len = sizeof(ss);
	int v6 = addr->sa_family == AF_INET6;

	if (s->nlis >= SK_MAX_LISTENERS)
		return UV_ENOBUFS;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return UV_ENOMEM;
	l->srv = s;
	l->svc = svc;
	l->transport = transport;
	if (transport == SK_UDP && svc->udp_batch != NULL) {
		rc = sk_batch_start(svc->udp_batch, s->cfg, addr,
				    sk__threads(s->cfg), s->cfg->ntp.busy_poll,
				    &ss, &l->batch);
		if (rc != 0) {
			free(l);
			return rc;
		}
		l->batched = 1;
	} else if (transport == SK_TCP) {
		l->spare = calloc(1, sizeof(*l->spare));
		/* libuv sets SO_REUSEADDR on every TCP bind. */
		uv_tcp_init(&s->loop, &l->u.tcp);
		rc = uv_tcp_bind(&l->u.tcp, addr, v6 ? UV_TCP_IPV6ONLY : 0);
		if (rc == 0)
			rc = uv_listen((uv_stream_t *)&l->u.tcp, SOMAXCONN,
				       sk__accept);
		if (rc == 0)
			rc = uv_tcp_getsockname(&l->u.tcp,
						(struct sockaddr *)&ss, &len);
	} else {
		uv_udp_init(&s->loop, &l->u.udp);
		rc = uv_udp_bind(&l->u.udp, addr, v6 ? UV_UDP_IPV6ONLY : 0);
		if (rc == 0)
			rc = uv_udp_getsockname(&l->u.udp,
						(struct sockaddr *)&ss, &len);
		if (rc == 0)
			sk__udp_rcvbuf(&l->u.udp);
		if (rc == 0)
			rc = uv_udp_recv_start(&l->u.udp, sk__alloc,
					       sk__udp_recv);
	}
	if (!l->batched)
		l->u.h.data = l;
	if (rc != 0) {
		/* The handle is open even when bind failed; close it. */
		uv_close(&l->u.h, sk__lis_free);
		return rc;
	}
	sk_sockaddr_str((struct sockaddr *)&ss, as, sizeof(as));
	snprintf(l->name, sizeof(l->name), "%s/%s %s", svc->name,
		 transport == SK_TCP ? "tcp" : "udp", as);
	if (bound != NULL)
		*bound = ss;
	s->lis[s->nlis++] = l;
	return 0;
}

/* ---- timers, signals, shutdown ---- */

/* Log what was dropped in the last `secs` seconds, one line a listener. */
static void sk__summary(struct sk_server *s, unsigned secs)
{
	for (size_t i = 0; i < s->nlis; i++) {
		struct sk_listener *l = s->lis[i];

		if (l->batched) {
			struct sk_batch_stats *b = &l->bstats;

			if (l->batch != NULL)
				sk_batch_take_stats(l->batch, b);
			if (b->bad + b->denied + b->limited + b->kod +
				    b->unsent == 0)
				continue;
			sk_log_warnx("%s: in %us: %lu malformed or not "
				     "requests, %lu denied, %lu over the rate "
				     "limit dropped, %lu answered with KoD RATE, "
				     "%lu unsent",
				     l->name, secs, b->bad, b->denied,
				     b->limited, b->kod, b->unsent);
			memset(b, 0, sizeof(*b));
			continue;
		}
		if (l->accept_err > 0) {
			sk_log_warn(l->last_err, "%s: %lu failed accepts in %us, "
				    "the last", l->name, l->accept_err, secs);
			l->accept_err = 0;
		}
		if (l->drop_rate + l->drop_bad + l->drop_conn == 0)
			continue;
		if (l->transport == SK_UDP)
			sk_log_warnx("%s: dropped %lu datagrams in %us "
				     "(%lu over the rate limit, %lu malformed "
				     "or unsendable)",
				     l->name, l->drop_rate + l->drop_bad, secs,
				     l->drop_rate,
				     l->drop_bad);
		else
			sk_log_warnx("%s: refused %lu connections in %us "
				     "(over the limit of %u)",
				     l->name, l->drop_conn, secs,
				     s->cfg->max_conn);
		l->drop_rate = l->drop_bad = l->drop_conn = 0;
	}
}

static void sk__tick(uv_timer_t *t)
{
	struct sk_server *s = t->data;
	uint64_t now = uv_now(&s->loop);
	uint64_t idle = (uint64_t)s->cfg->idle_timeout * 1000;
	struct sk_conn *c, *next;

	if (idle > 0) {
		for (c = s->conns; c != NULL; c = next) {
			next = c->next;
			if (now - c->last >= idle)
				sk__conn_close(c);
		}
	}
	if (++s->ticks >= s->cfg->log_interval) {
		s->ticks = 0;
		sk__summary(s, s->cfg->log_interval);
	}
}

static void sk__grace_over(uv_timer_t *t)
{
	struct sk_server *s = t->data;

	while (s->conns != NULL)
		sk__conn_close(s->conns);
}

static void sk__stop(uv_signal_t *sig, int signum)
{
	struct sk_server *s = sig->data;
	struct sk_conn *c, *next;

	(void)signum;
	if (s->stopping)
		return;
	s->stopping = 1;
	sk_log_info("shutting down");
	/* Worker threads stop first, so their last counts are summed. */
	for (size_t i = 0; i < s->nlis; i++) {
		if (s->lis[i]->batch != NULL) {
			sk_batch_stop(s->lis[i]->batch, &s->lis[i]->bstats);
			s->lis[i]->batch = NULL;
		}
	}
	sk__summary(s, s->ticks + 1);
	/* Bound listeners are freed after the loop ends: connections that
	 * are still finishing point at theirs. */
	for (size_t i = 0; i < s->nlis; i++)
		if (!s->lis[i]->batched)
			uv_close(&s->lis[i]->u.h, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	if (s->tick_on) {
		uv_close((uv_handle_t *)&s->tick, NULL);
		uv_close((uv_handle_t *)&s->more, NULL);
	}
	/* Replies in flight are finished; new input is not read. */
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		sk_conn_end(c);
	}
	if (s->nconn > 0) {
		uv_timer_init(&s->loop, &s->grace);
		s->grace.data = s;
		s->grace_on = 1;
		uv_timer_start(&s->grace, sk__grace_over, SK_SHUTDOWN_GRACE_MS,
			       0);
	}
}

int sk_server_run(struct sk_server *s)
{
	int rc;

	uv_timer_init(&s->loop, &s->tick);
	s->tick.data = s;
	uv_timer_start(&s->tick, sk__tick, 1000, 1000);
	s->tick_on = 1;
	uv_idle_init(&s->loop, &s->more);
	s->more.data = s;

	uv_run(&s->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&s->loop);
	for (size_t i = 0; i < s->nlis; i++) {
		free(s->lis[i]->spare);
		free(s->lis[i]);
	}
	while (s->cache != NULL) {
		struct sk_conn *c = s->cache;

		s->cache = c->next;
		free(c);
	}
	free(s);
	return rc == 0 ? 0 : -1;
}
