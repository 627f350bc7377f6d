/*
 * server.c: the daemon's event loop (see server.h and service.h).
 *
 * Everything here belongs to one uv_loop_t, except the sockets of
 * services with udp_batch, which live on worker threads (batch.c); this
 * loop only starts, counts and stops them.
 *
 * Connections. A connection is freed only in its uv_close() callback.
 * Ending one is graceful (STYLE 21): the service is told (tcp_close),
 * the queued output is sent, then we half-close with shutdown(SHUT_WR)
 * and read and discard until the peer's EOF or SK_LINGER_MS, and only
 * then close. Closing with unread input would make the kernel answer
 * with a reset, which destroys replies the peer had not read yet.
 * Services that never read (send and close) skip the linger: their peers
 * send nothing, and the linger's extra wake-up costs a quarter of their
 * connection rate.
 *
 * Output. Each connection has an output queue of shared buffers
 * (buf.h). Past its service's pause_output we stop reading its requests
 * until it drains; past max_output, or past the daemon's total, a write
 * fails and the connection is closed with one log line, whoever the
 * writer was (STYLE 24).
 *
 * Work per loop turn is bounded: SK_ACCEPTS_PER_TURN accepts per
 * listener, a bounded batch of input per connection (the ready list
 * carries the rest to the next turn), libuv's 32 datagrams per socket.
 */
#include "server.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/sk_limits.h"
#include "batch.h"
#include "log.h"
#include "sockaddr.h"
#include "table.h"


#ifndef container_of
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))
#endif /* a transport of our own: a unix stream socket */

struct sk_listener {
	struct sk_server *srv;         /* owner */
	struct sk_svc *svc;            /* what it serves */
	unsigned transport;            /* SK_TCP, SK_UDP or SK_UNIX */
	char name[160];                /* "daytime/udp 127.0.0.1:10013" */
	union {
		uv_handle_t h;
		uv_stream_t st;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
		uv_udp_t udp;
	} u;                           /* the socket */
	uint16_t port;                 /* bound port, network order; UDP */
	char path[SK_UNIX_PATH_MAX];   /* a unix socket's file, removed at
					* shutdown */
	unsigned long drop_rate;       /* datagrams over the rate, this interval */
	unsigned long drop_bad;        /* malformed or unsendable, this interval */
	unsigned long drop_loop;       /* from a loop-prone port */
	unsigned long drop_out;        /* sends over the outbound budget */
	unsigned long drop_conn;       /* connections over max_conn */
	unsigned long drop_src;        /* connections over the per-source cap */
	unsigned long drop_mem;        /* connections refused for memory */
	unsigned long accept_err;      /* failed accepts, this interval */
	int last_err;                  /* the last of them */
	unsigned pending;              /* queued UDP replies */
	unsigned accepts;              /* accepted this loop turn */
	int deferred;                  /* an accept waits for the next turn */
	struct sk_listener *dnext;     /* the deferred list */
	struct sk_batch *batch;        /* worker threads, for udp_batch */
	struct sk_batch_stats bstats;  /* their counters, this interval */
	int batched;                   /* served by batch workers */
	struct sk_listener_totals tot; /* since the start, for `status`;
					* drops are added from the interval
					* counters above at each summary */
	struct sk_conn *spare;         /* accepts and closes a connection when
					* memory runs out; libuv stops watching
					* a listener whose callback accepts
					* nothing */
	struct sockaddr_storage asked; /* the address asked for (its port may
					* be 0), to find it again at a reload */
	int handed;                    /* a socket handed over (systemd) */
	struct sk_listener *rnext;     /* closed by a reload: kept, as its
					* connections and the services' peers
					* point at it, until the server ends */
};

/* A UDP listener, as services see it. */
struct sk_udp {
	struct sk_listener l;
};

struct sk_conn {
	union {
		uv_handle_t h;
		uv_stream_t st;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;                           /* the socket; u.h.data is this */
	struct sk_listener *lis;       /* where it arrived */
	struct sk_svc *svc;            /* its service */
	struct sk_conn *prev, *next;   /* the server's list */
	struct sk_conn *rprev, *rnext; /* the ready list */
	struct sk_conn *fprev, *fnext; /* the deferred-write list */
	uint64_t id;                   /* weak-reference id; 0 once ending */
	struct sk_rl_key src;          /* source, as counted per source */
	struct sockaddr_storage peer;  /* the client */
	struct sockaddr_storage local; /* our end */
	struct sk_outq out;            /* bytes owed to the peer */
	size_t inflight;               /* of them, handed to uv_write */
	uv_write_t wreq;               /* the write in flight */
	uv_shutdown_t sreq;            /* our FIN */
	uint64_t last;                 /* loop time of last traffic, ms */
	uint64_t req_start;            /* first byte of a request not yet
					* handled, ms; 0: none */
	uint64_t linger_until;         /* close by then when lingering, ms */
	enum sk_close_reason why;      /* why it ends */
	unsigned writing : 1;          /* wreq in flight */
	unsigned ending : 1;           /* the service is done with it */
	unsigned finishing : 1;        /* shutdown(SHUT_WR) asked or done */
	unsigned closing : 1;          /* uv_close() called */
	unsigned paused : 1;           /* output over pause_output */
	unsigned reading : 1;          /* uv_read_start() in force */
	unsigned eof : 1;              /* the peer has finished sending */
	unsigned queued : 1;           /* on the server's ready list */
	unsigned spare : 1;            /* the listener's spare, not freed */
	unsigned counted : 1;          /* holds a per-source place */
	unsigned told : 1;             /* the service has seen tcp_close */
	unsigned held : 1;             /* the service holds its input */
	unsigned flushq : 1;           /* on the deferred-write list */
	const struct sk_filter *filter; /* between socket and service */
	void *fstate;                  /* its state */
	char *raw;                     /* filtered: bytes as read */
	size_t inlen;                  /* bytes in in[] */
	size_t incap;                  /* its size: the service's in_size */
	char *in;                      /* input not yet handled (incap
					* bytes), or NULL while there is none:
					* an idle peer holds no buffer */
};

/* A size rounded up for the next part of a connection's block. */
#define SK__ALIGN(n) \
	(((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))
/* A connection's block: the struct, then the service's state. Its input
 * buffer (the service's in_size, or SK_CONN_INBUF) is taken from the
 * service's pool when bytes arrive and given back once they are all
 * handled, so the many idle peers of a chat room cost no buffer. */
#define SK__CONN_INSIZE(d) ((d)->in_size != 0 ? (d)->in_size : SK_CONN_INBUF)
#define SK__CONN_HEAD(d) SK__ALIGN(sizeof(struct sk_conn))

/* One service in one server. */
struct sk_svc {
	struct sk_server *srv;         /* owner */
	const struct sk_service *def;  /* its table */
	void *settings;                /* its settings; ours to free */
	struct sk_svc_limits lim;      /* its limits */
	void *data;                    /* the service's own */
	struct sk_rl *rl;              /* UDP in, per source and in all */
	struct sk_bucket out;          /* UDP out budget */
	struct sk_srcmap src;          /* TCP connections per source */
	unsigned nconn;                /* TCP connections open */
	struct sk_conn *cache;         /* freed connections kept for reuse */
	unsigned ncache;               /* how many */
	void *inpool;                  /* free input buffers (each holds the
					* next's address), for reuse */
	unsigned ninpool;              /* how many */
	int inited;                    /* init ran and succeeded */
};

struct sk_server {
	uv_loop_t loop;                 /* the event loop */
	struct sk_server_config cfg;    /* settings */
	struct sk_svc *svcs[SK_MAX_LISTENERS]; /* services */
	size_t nsvc;                    /* how many */
	struct sk_listener *lis[SK_MAX_LISTENERS]; /* bound sockets */
	size_t nlis;                    /* how many */
	struct sk_conn *conns;          /* open connections */
	size_t nconn;                   /* how many */
	size_t queued;                  /* output bytes queued in all */
	size_t queued_peak;             /* highest since the last trim */
	struct sk_idtab ids;            /* weak references */
	uv_signal_t sigint, sigterm;    /* shutdown triggers */
	uv_signal_t sighup;             /* reload trigger */
	void (*onhup)(void *);          /* what it calls */
	void *onhup_arg;                /* its argument */
	struct sk_listener *retired;    /* listeners a reload closed */
	uv_timer_t tick;                /* 1 s: timeouts, drop summaries */
	uv_timer_t grace;               /* shutdown deadline */
	uv_prepare_t turn;              /* runs before each poll */
	struct sk_conn *fhead;          /* connections whose writes wait for
					 * the end of the turn */
	unsigned ticks;                 /* ticks since the last summary */
	int stopping;                   /* shutdown has begun */
	int running;                    /* tick, more and turn are open */
	int grace_on;                   /* grace timer open */
	uv_idle_t more;                 /* keeps the loop from sleeping while
					 * work waits for the next turn */
	struct sk_listener *dhead;      /* listeners with a deferred accept */
	uint64_t turn_t0;               /* when this turn's work began, ns;
					 * 0: none yet */
	struct sk_conn *rhead, *rtail;  /* connections with input left */
	size_t nready;                  /* how many */
	uint64_t seed[2];               /* hash keys, random per run */
	uint64_t born;                  /* uv_hrtime() at creation */
	struct {
		void (*fn)(void *);     /* told when shutdown begins */
		void *arg;              /* its argument */
	} atstop[SK_SERVER_ATSTOP_MAX]; /* in the order given */
	size_t natstop;                 /* how many */
	char rbuf[SK_UDP_BUF];          /* receive buffer for the loop */
	char obuf[SK_UDP_BUF];          /* udp_reply's reply */
};

/* A queued UDP reply and its bytes. */
struct sk__sreq {
	uv_udp_send_t req;
	struct sk_listener *l;
	char data[];
};

static void sk__conn_close(struct sk_conn *c, enum sk_close_reason why);
static void sk__stop(uv_signal_t *sig, int signum);
static void sk__hup(uv_signal_t *sig, int signum);
static void sk__last_close(struct sk_server *s);
static void sk__more_start(struct sk_server *s);
static void sk__flush_del(struct sk_conn *c);
static void sk__batch_pull(struct sk_listener *l);
static void sk__batch_add(struct sk_listener_totals *t,
			  const struct sk_batch_stats *b);
static void sk__drops_add(struct sk_listener_totals *t,
			  const struct sk_listener *l);

const char *sk_close_reason_str(enum sk_close_reason r)
{
	switch (r) {
	case SK_CLOSE_DONE: return "done";
	case SK_CLOSE_PEER: return "peer closed";
	case SK_CLOSE_RESET: return "reset";
	case SK_CLOSE_IDLE: return "idle";
	case SK_CLOSE_DEADLINE: return "request too slow";
	case SK_CLOSE_OVERFLOW: return "output overflow";
	case SK_CLOSE_NOMEM: return "out of memory";
	case SK_CLOSE_SHUTDOWN: return "shutdown";
	}
	return "?";
}

/* ---- services ---- */

const void *sk_svc_settings(const struct sk_svc *s)
{
	return s->settings;
}

const struct sk_svc_limits *sk_svc_limits(const struct sk_svc *s)
{
	return &s->lim;
}

void *sk_svc_data(const struct sk_svc *s)
{
	return s->data;
}

void sk_svc_set_data(struct sk_svc *s, void *data)
{
	s->data = data;
}

struct uv_loop_s *sk_svc_loop(const struct sk_svc *s)
{
	return &s->srv->loop;
}

struct sk_server *sk_server_new(const struct sk_server_config *cfg)
{
	struct sk_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (uv_loop_init(&s->loop) != 0) {
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	s->loop.data = s;
	sk_idtab_init(&s->ids);
	/* Signals are caught from here on, so a SIGTERM that arrives while
	 * the listeners are still being bound is a clean stop. */
	if (uv_signal_init(&s->loop, &s->sigint) != 0 ||
	    uv_signal_init(&s->loop, &s->sigterm) != 0 ||
	    uv_signal_start(&s->sigint, sk__stop, SIGINT) != 0 ||
	    uv_signal_start(&s->sigterm, sk__stop, SIGTERM) != 0)
		sk_log_warnx("serve: cannot catch SIGINT and SIGTERM");
	s->sigint.data = s->sigterm.data = s;
	/* SIGHUP, a reload once the daemon asks for one, and never the end
	 * of the daemon (its default action) before that. */
	if (uv_signal_init(&s->loop, &s->sighup) != 0 ||
	    uv_signal_start(&s->sighup, sk__hup, SIGHUP) != 0)
		sk_log_warnx("serve: cannot catch SIGHUP");
	s->sighup.data = s;
	s->born = uv_hrtime();
	/* A fixed seed only weakens the hashes, so a failure is not fatal. */
	if (uv_random(NULL, NULL, s->seed, sizeof(s->seed), 0, NULL) != 0) {
		s->seed[0] = uv_hrtime();
		s->seed[1] = (uint64_t)(uintptr_t)s;
	}
	return s;
}

struct sk_svc *sk_server_add(struct sk_server *s,
			     const struct sk_service *def, void *settings,
			     const struct sk_svc_limits *lim, int *err)
{
	struct sk_svc *v;
	int rc;

	if (s->nsvc >= SK_MAX_LISTENERS) {
		*err = -ENOBUFS;
		free(settings);
		return NULL;
	}
	/* A table that cannot work is a bug in its service. */
	if ((def->transports & SK_UDP) &&
	    (def->udp_reply != NULL) + (def->udp_recv != NULL) +
			    (def->udp_batch != NULL) != 1) {
		*err = -EINVAL;
		free(settings);
		return NULL;
	}
	if (def->udp_reply != NULL &&
	    (def->udp_max_out == 0 || def->udp_max_out > SK_UDP_BUF)) {
		*err = -EINVAL;
		free(settings);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL || (v->rl = malloc(sizeof(*v->rl))) == NULL) {
		free(v);
		free(settings);
		*err = -ENOMEM;
		return NULL;
	}
	v->srv = s;
	v->def = def;
	v->settings = settings;
	v->lim = *lim;
	sk_rl_init(v->rl, &lim->rate, &lim->global, s->seed);
	sk_srcmap_init(&v->src, s->seed);
	s->svcs[s->nsvc++] = v;
	if (def->init != NULL && (rc = def->init(v)) != 0) {
		*err = rc;
		return NULL; /* freed with the server */
	}
	v->inited = 1;
	return v;
}

struct sk_svc *sk_server_svc(struct sk_server *s, const struct sk_service *def)
{
	for (size_t i = 0; i < s->nsvc; i++)
		if (s->svcs[i]->def == def)
			return s->svcs[i];
	return NULL;
}

size_t sk_svc_conn_bytes(const struct sk_svc *s)
{
	return SK__CONN_HEAD(s->def) + s->def->conn_size;
}

int sk_server_totals(struct sk_server *s, size_t i,
		     struct sk_listener_totals *t)
{
	struct sk_listener *l;

	if (i >= s->nlis)
		return -1;
	l = s->lis[i];
	*t = l->tot;
	sk__drops_add(t, l);
	if (l->batched) {
		sk__batch_pull(l);
		sk__batch_add(t, &l->bstats);
	}
	t->name = l->name;
	t->service = l->svc->def->name;
	t->transport = l->transport;
	t->open = 0;
	for (const struct sk_conn *c = s->conns; c != NULL; c = c->next)
		t->open += c->lis == l && !c->closing;
	return 0;
}

struct sk_svc *sk_server_svc_at(struct sk_server *s, size_t i)
{
	return i < s->nsvc ? s->svcs[i] : NULL;
}

const struct sk_service *sk_svc_def(const struct sk_svc *v)
{
	return v->def;
}

uint64_t sk_server_uptime_ms(const struct sk_server *s)
{
	return (uv_hrtime() - s->born) / 1000000;
}

struct uv_loop_s *sk_server_loop(struct sk_server *s)
{
	return &s->loop;
}

const struct sk_server_config *sk_server_cfg(const struct sk_server *s)
{
	return &s->cfg;
}

int sk_server_atstop(struct sk_server *s, void (*fn)(void *), void *arg)
{
	if (s->natstop >= SK_SERVER_ATSTOP_MAX)
		return -ENOBUFS;
	s->atstop[s->natstop].fn = fn;
	s->atstop[s->natstop].arg = arg;
	s->natstop++;
	return 0;
}

size_t sk_server_listeners(const struct sk_server *s)
{
	return s->nlis;
}

/* ---- connections: the ready list ---- */

/* Connections whose input is not all handled yet, each given one turn (a
 * bounded amount of work) per loop iteration. */
static void sk__ready_del(struct sk_conn *c)
{
	struct sk_server *s = c->svc->srv;

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

static void sk__ready_add(struct sk_conn *c)
{
	struct sk_server *s = c->svc->srv;

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
	s->nready++;
	sk__more_start(s);
}

/* ---- connections: the view services get ---- */

struct sk_svc *sk_conn_svc(const struct sk_conn *c)
{
	return c->svc;
}

void *sk_conn_data(struct sk_conn *c)
{
	return (char *)c + SK__CONN_HEAD(c->svc->def);
}

sk_conn_id sk_conn_id_of(const struct sk_conn *c)
{
	return c->id;
}

struct sk_conn *sk_conn_get(struct sk_svc *s, sk_conn_id id)
{
	struct sk_conn *c = sk_idtab_get(&s->srv->ids, id);

	return c != NULL && c->svc == s ? c : NULL;
}

/* Addresses are looked up on first use: send-and-close services that
 * never ask save two system calls per connection. */
const struct sockaddr *sk_conn_peer(struct sk_conn *c)
{
	int len = sizeof(c->peer);

	if (c->peer.ss_family == AF_UNSPEC) {
		if (c->lis->transport == SK_UNIX)
			c->peer.ss_family = AF_UNIX;
		else
			uv_tcp_getpeername(&c->u.tcp,
					   (struct sockaddr *)&c->peer, &len);
	}
	return (const struct sockaddr *)&c->peer;
}

const struct sockaddr *sk_conn_local(struct sk_conn *c)
{
	int len = sizeof(c->local);

	if (c->local.ss_family == AF_UNSPEC) {
		if (c->lis->transport == SK_UNIX)
			c->local.ss_family = AF_UNIX;
		else
			uv_tcp_getsockname(&c->u.tcp,
					   (struct sockaddr *)&c->local, &len);
	}
	return (const struct sockaddr *)&c->local;
}

const char *sk_conn_where(const struct sk_conn *c)
{
	return c->lis->name;
}

size_t sk_conn_queued(const struct sk_conn *c)
{
	return c->out.bytes;
}

int sk_conn_paused(const struct sk_conn *c)
{
	return c->paused || c->closing || c->ending;
}

void sk_conn_hold(struct sk_conn *c, int hold)
{
	if (c->closing || c->ending || (int)c->held == !!hold)
		return;
	c->held = hold ? 1 : 0;
	if (!c->held) {
		/* What arrived meanwhile starts its deadline now. */
		if (c->req_start != 0)
			c->req_start = uv_now(c->u.h.loop);
		sk__ready_add(c); /* the next turn reads and handles again */
	}
}

void sk_conn_kick(struct sk_conn *c)
{
	if (c->closing || c->ending || c->held)
		return;
	sk__ready_add(c);
}

void sk_conn_progress(struct sk_conn *c)
{
	c->req_start = 0;
	c->lis->tot.requests++;
}

/* ---- connections: closing ---- */

/* Weak references to c find nothing from now on. */
static void sk__unname(struct sk_conn *c)
{
	sk_idtab_del(&c->svc->srv->ids, c->id);
	c->id = 0;
}

/* Tell the service, once, that it is done with c. */
static void sk__tell(struct sk_conn *c, enum sk_close_reason why)
{
	if (c->told)
		return;
	c->told = 1;
	c->why = why;
	c->lis->tot.closed[why]++;
	sk__unname(c);
	if (c->svc->def->tcp_close != NULL)
		c->svc->def->tcp_close(c, why);
}

/* c's input buffer, taken from the pool (or made) if it has none;
 * NULL when out of memory. */
static char *sk__in_get(struct sk_conn *c)
{
	struct sk_svc *v = c->svc;

	if (c->in != NULL)
		return c->in;
	if (v->inpool != NULL) {
		c->in = v->inpool;
		memcpy(&v->inpool, c->in, sizeof(void *));
		v->ninpool--;
	} else {
		c->in = malloc(c->incap < sizeof(void *) ? sizeof(void *)
							 : c->incap);
	}
	return c->in;
}

/* c's input is all handled: its buffer goes back to the pool. */
static void sk__in_put(struct sk_conn *c)
{
	struct sk_svc *v = c->svc;

	if (c->in == NULL || c->inlen != 0)
		return;
	if (v->ninpool < SK_CONN_CACHE) {
		memcpy(c->in, &v->inpool, sizeof(void *));
		v->inpool = c->in;
		v->ninpool++;
	} else {
		free(c->in);
	}
	c->in = NULL;
}

static void sk__conn_free(uv_handle_t *h)
{
	struct sk_conn *c = h->data;
	struct sk_svc *v = c->svc;
	struct sk_server *s = v->srv;

	/* A connection closed under a service's feet (a write to it failed
	 * while the service was busy with another) is told here, from the
	 * loop, never from inside the service's own call. */
	sk__tell(c, c->why);
	if (c->filter != NULL && c->filter->free != NULL)
		c->filter->free(c->fstate);
	free(c->raw);
	c->filter = NULL;
	c->fstate = NULL;
	c->raw = NULL;
	c->inlen = 0;
	sk__in_put(c);
	/* Cancelled writes have had their callbacks; the bytes can go. */
	sk_outq_clear(&c->out);
	if (c->spare) {
		c->lis->spare = c;
	} else if (v->ncache < SK_CONN_CACHE) {
		c->next = v->cache;
		v->cache = c;
		v->ncache++;
	} else {
		free(c);
	}
	if (s->stopping && s->nconn == 0)
		sk__last_close(s);
}

/* Close now, dropping queued output. The service is told in the close
 * callback (if it was not told already), so closing a peer never calls
 * back into a service that is writing to it. */
static void sk__conn_close(struct sk_conn *c, enum sk_close_reason why)
{
	struct sk_svc *v = c->svc;
	struct sk_server *s = v->srv;

	if (c->closing)
		return;
	if (!c->told)
		c->why = why;
	sk__unname(c);
	sk__ready_del(c);
	sk__flush_del(c);
	c->closing = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconn--;
	v->nconn--;
	if (c->counted)
		sk_srcmap_put(&v->src, &c->src);
	s->queued -= c->out.bytes;
	uv_close(&c->u.h, sk__conn_free);
}

void sk_conn_abort(struct sk_conn *c, enum sk_close_reason why)
{
	sk__conn_close(c, why);
}

static void sk__shut_done(uv_shutdown_t *req, int status)
{
	struct sk_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0 || c->eof) {
		sk__conn_close(c, c->why);
		return;
	}
	/* Our FIN is out: now wait for the peer's, discarding its input. */
	c->linger_until = uv_now(c->u.h.loop) + SK_LINGER_MS;
}

static void sk__read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);
static void sk__conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

/* The output of an ending connection is all sent: say goodbye. */
static void sk__finish(struct sk_conn *c)
{
	if (c->finishing || c->closing)
		return;
	c->finishing = 1;
	/* Services that never read close at once (see the file comment);
	 * so does a peer that has already sent its FIN. */
	if (c->svc->def->tcp_read == NULL || c->eof) {
		sk__conn_close(c, c->why);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, &c->u.st, sk__shut_done) != 0) {
		sk__conn_close(c, c->why);
		return;
	}
	c->linger_until = uv_now(c->u.h.loop) + SK_LINGER_MS;
	if (!c->reading) {
		if (uv_read_start(&c->u.st, sk__conn_alloc, sk__read) != 0) {
			sk__conn_close(c, c->why);
			return;
		}
		c->reading = 1;
	}
}

/* The service is done: finish sending, then close gracefully. */
static void sk__conn_end(struct sk_conn *c, enum sk_close_reason why)
{
	if (c->closing || c->ending)
		return;
	sk__tell(c, why);
	if (c->closing || c->ending)
		return; /* the service closed it itself */
	if (c->filter != NULL && c->filter->end != NULL)
		c->filter->end(c, c->fstate);
	if (c->closing)
		return;
	c->ending = 1;
	c->inlen = 0;
	sk__ready_del(c);
	if (c->reading) {
		uv_read_stop(&c->u.st);
		c->reading = 0;
	}
	if (!c->writing && c->out.bytes == 0)
		sk__finish(c);
}

void sk_conn_end(struct sk_conn *c)
{
	sk__conn_end(c, c->eof ? SK_CLOSE_PEER : SK_CLOSE_DONE);
}

/* ---- connections: output ---- */

static void sk__write_done(uv_write_t *req, int status);
static void sk__flush(struct sk_conn *c);

/* Deferred writes (a service's defer_writes): c's queue goes out at the
 * end of this loop turn, with whatever else is queued for it by then. */
static void sk__flush_later(struct sk_conn *c)
{
	struct sk_server *s = c->svc->srv;

	if (c->flushq)
		return;
	c->flushq = 1;
	c->fprev = NULL;
	c->fnext = s->fhead;
	if (s->fhead != NULL)
		s->fhead->fprev = c;
	s->fhead = c;
}

static void sk__flush_del(struct sk_conn *c)
{
	struct sk_server *s = c->svc->srv;

	if (!c->flushq)
		return;
	if (c->fprev != NULL)
		c->fprev->fnext = c->fnext;
	else
		s->fhead = c->fnext;
	if (c->fnext != NULL)
		c->fnext->fprev = c->fprev;
	c->fprev = c->fnext = NULL;
	c->flushq = 0;
}

/* The end of a turn: every deferred queue goes out, a writev each. */
static void sk__flush_all(struct sk_server *s)
{
	struct sk_conn *c;

	while ((c = s->fhead) != NULL) {
		sk__flush_del(c);
		sk__flush(c);
	}
}

/* Release n bytes the kernel took. */
static void sk__consumed(struct sk_conn *c, size_t n)
{
	struct sk_server *s = c->svc->srv;

	sk_outq_consume(&c->out, n);
	if (!c->closing)
		s->queued -= n;
}

static void sk__conn_run(struct sk_conn *c);

/* Output drained below the pause mark, or all gone. */
static void sk__drained(struct sk_conn *c)
{
	if (c->closing)
		return;
	if (c->ending) {
		if (!c->writing && c->out.bytes == 0)
			sk__finish(c);
		return;
	}
	/* Its input is handled on the next turn, not here: a write from
	 * another connection's handler must not run this one's. */
	if (c->paused && c->out.bytes < c->svc->lim.pause_output / 2) {
		c->paused = 0;
		sk__ready_add(c);
	}
}

/* Fill b from the front of c's queue; returns the slices. */
static unsigned sk__iov(struct sk_conn *c, uv_buf_t *b, size_t *total)
{
	struct iovec iov[SK_WRITE_IOV];
	size_t n = sk_outq_peek(&c->out, iov, SK_WRITE_IOV);

	*total = 0;
	for (size_t i = 0; i < n; i++) {
		b[i].base = iov[i].iov_base;
		b[i].len = iov[i].iov_len;
		*total += iov[i].iov_len;
	}
	return (unsigned)n;
}

/* Hand the front of the queue to the kernel: what it takes at once
 * leaves the queue now, the rest goes with one uv_write. */
static void sk__flush(struct sk_conn *c)
{
	uv_buf_t b[SK_WRITE_IOV];
	size_t total;
	unsigned n;
	int rc;

	for (;;) {
		if (c->writing || c->closing)
			return;
		if (c->out.bytes == 0) {
			sk__drained(c);
			return;
		}
		n = sk__iov(c, b, &total);
		rc = uv_try_write(&c->u.st, b, n);
		if (rc < 0 && rc != UV_EAGAIN) {
			sk__conn_close(c, SK_CLOSE_RESET);
			return;
		}
		if (rc <= 0)
			break;
		sk__consumed(c, (size_t)rc);
		if ((size_t)rc < total)
			break; /* the kernel is full */
	}
	n = sk__iov(c, b, &total);
	c->wreq.data = c;
	rc = uv_write(&c->wreq, &c->u.st, b, n, sk__write_done);
	if (rc != 0) {
		sk__conn_close(c, SK_CLOSE_RESET);
		return;
	}
	c->writing = 1;
	c->inflight = total;
}

static void sk__write_done(uv_write_t *req, int status)
{
	struct sk_conn *c = req->data;

	c->writing = 0;
	if (c->closing)
		return; /* cancelled; the queue goes with the connection */
	c->last = uv_now(c->u.h.loop);
	if (status < 0) {
		/* The peer reset or vanished; nothing more to say to it. */
		sk__conn_close(c, SK_CLOSE_RESET);
		return;
	}
	sk__consumed(c, c->inflight);
	c->inflight = 0;
	sk__flush(c);
}

/* May len more bytes be queued for c? If not, c is closed, once, with a
 * log line. */
static int sk__room(struct sk_conn *c, size_t len)
{
	struct sk_server *s = c->svc->srv;

	if (c->closing || c->ending)
		return -EPIPE;
	if (c->out.bytes + len > c->svc->lim.max_output) {
		char as[SK_ADDRSTR_MAX];

		sk_sockaddr_str(sk_conn_peer(c), as, sizeof(as));
		sk_log_warnx("%s: closing %s: more than %u bytes of output "
			     "queued", c->lis->name, as, c->svc->lim.max_output);
		sk__conn_close(c, SK_CLOSE_OVERFLOW);
		return -ENOBUFS;
	}
	if (s->queued + len > s->cfg.max_output) {
		char as[SK_ADDRSTR_MAX];

		sk_sockaddr_str(sk_conn_peer(c), as, sizeof(as));
		sk_log_warnx("%s: closing %s: the daemon's %u bytes of queued "
			     "output are taken", c->lis->name, as,
			     s->cfg.max_output);
		sk__conn_close(c, SK_CLOSE_OVERFLOW);
		return -ENOBUFS;
	}
	return 0;
}

/* Bytes were queued: account for them, send, and pause reading when the
 * peer is behind. */
static int sk__queued(struct sk_conn *c, size_t len)
{
	struct sk_server *s = c->svc->srv;

	s->queued += len;
	if (s->queued > s->queued_peak)
		s->queued_peak = s->queued;
	if (!c->writing) {
		/* Deferred, but only up to a point: a queue is not held
		 * until the turn ends once it is worth a write of its own, so
		 * a turn's fan-out cannot take a healthy peer over its cap. */
		if (c->svc->def->defer_writes &&
		    c->out.bytes < SK_CONN_DEFER_MAX)
			sk__flush_later(c);
		else
			sk__flush(c);
	}
	if (c->closing)
		return -EPIPE;
	if (c->out.bytes > c->svc->lim.pause_output)
		c->paused = 1; /* sk__conn_run() stops reading */
	return 0;
}

/* Write straight to the socket when nothing is queued; returns the
 * bytes the kernel took, or -1 when c was closed. */
static ssize_t sk__direct(struct sk_conn *c, const void *buf, size_t len)
{
	uv_buf_t b;
	int n;

	if (c->writing || c->out.bytes > 0 || len > UINT32_MAX ||
	    c->svc->def->defer_writes)
		return 0;
	b = uv_buf_init((char *)buf, (unsigned)len);
	n = uv_try_write(&c->u.st, &b, 1);
	if (n == UV_EAGAIN)
		return 0;
	if (n < 0) {
		sk__conn_close(c, SK_CLOSE_RESET);
		return -1;
	}
	return n;
}

int sk_conn_write(struct sk_conn *c, const void *buf, size_t len)
{
	if (c->filter != NULL) {
		int rc;

		if (c->closing || c->ending)
			return -EPIPE;
		rc = c->filter->output(c, c->fstate, buf, len);
		if (rc != 0 && !c->closing)
			sk__conn_close(c, SK_CLOSE_RESET);
		return rc;
	}
	return sk_conn_write_raw(c, buf, len);
}

int sk_conn_write_raw(struct sk_conn *c, const void *buf, size_t len)
{
	ssize_t n;
	int rc;

	if ((rc = sk__room(c, len)) != 0)
		return rc;
	if (len == 0)
		return 0;
	if ((n = sk__direct(c, buf, len)) < 0)
		return -EPIPE;
	if ((size_t)n == len)
		return 0;
	if (sk_outq_push_copy(&c->out, (const char *)buf + n,
			      len - (size_t)n) != 0) {
		sk__conn_close(c, SK_CLOSE_NOMEM);
		return -ENOMEM;
	}
	return sk__queued(c, len - (size_t)n);
}

int sk_conn_send(struct sk_conn *c, struct sk_buf *b, size_t off, size_t len)
{
	ssize_t n;
	int rc;

	if (off > b->len || len > b->len - off)
		return -EINVAL;
	if (c->filter != NULL)
		return sk_conn_write(c, b->data + off, len);
	/* Deferred and small: a copy into the peer's own tail buffer costs
	 * less than a slice of its own, and the turn's lines then go out
	 * in one contiguous write. */
	if (c->svc->def->defer_writes && len <= SK_CONN_COPY_MAX)
		return sk_conn_write_raw(c, b->data + off, len);
	if ((rc = sk__room(c, len)) != 0)
		return rc;
	if (len == 0)
		return 0;
	if ((n = sk__direct(c, b->data + off, len)) < 0)
		return -EPIPE;
	if ((size_t)n == len)
		return 0;
	if (sk_outq_push(&c->out, b, off + (size_t)n, len - (size_t)n) != 0) {
		sk__conn_close(c, SK_CLOSE_NOMEM);
		return -ENOMEM;
	}
	return sk__queued(c, len - (size_t)n);
}

/* ---- connections: input ---- */

/* A connection reads into its own buffer, and only while it has room;
 * through a filter, into the raw buffer, as much as one call may take. */
static void sk__conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk_conn *c = h->data;

	(void)hint;
	if (c->raw != NULL) {
		buf->base = c->raw;
		buf->len = c->incap;
		return;
	}
	if (sk__in_get(c) == NULL) {
		buf->base = NULL; /* libuv calls sk__read with UV_ENOBUFS */
		buf->len = 0;
		return;
	}
	buf->base = c->in + c->inlen;
	buf->len = c->incap - c->inlen;
}

int sk_conn_filter(struct sk_conn *c, const struct sk_filter *f, void *state)
{
	c->raw = malloc(c->incap);
	if (c->raw == NULL) {
		if (f->free != NULL)
			f->free(state);
		return -ENOMEM;
	}
	c->filter = f;
	c->fstate = state;
	return 0;
}

size_t sk_conn_inroom(const struct sk_conn *c)
{
	return c->incap - c->inlen;
}

void *sk_conn_filter_state(struct sk_conn *c, const struct sk_filter *f)
{
	return c->filter == f ? c->fstate : NULL;
}

size_t sk_conn_feed(struct sk_conn *c, const void *buf, size_t len)
{
	size_t room = c->incap - c->inlen;

	if (len > room)
		len = room;
	if (len == 0)
		return 0;
	if (sk__in_get(c) == NULL)
		return 0; /* out of memory: the filter keeps the bytes, and
			   * hands them over on a later turn */
	memcpy(c->in + c->inlen, buf, len);
	c->inlen += len;
	return len;
}

/*
 * Give a connection its turn: let the service handle what input there is
 * (a bounded amount, and none while the output is over pause_output),
 * keep the rest, and read only while there is room and the peer takes
 * its replies. Input left over goes on the ready list for the next loop
 * iteration, so one busy peer cannot hold the loop.
 */
/* May this loop turn do more work? Starts the turn's clock on first use. */
static int sk__budget(struct sk_server *s)
{
	uint64_t now = uv_hrtime();

	if (s->turn_t0 == 0)
		s->turn_t0 = now;
	return now - s->turn_t0 < SK_TURN_BUDGET_NS;
}


static void sk__conn_run(struct sk_conn *c)
{
	int want, partial = 0;

	if (c->closing || c->ending)
		return;
	/* Held: the service is not called, but reading goes on while there
	 * is room, so a peer that resets or closes is noticed. */
	if (c->held)
		goto later;
	/* This turn has done its share: the ready list carries c to the
	 * next one (and reading stops below once its buffer is full). */
	if (!sk__budget(c->svc->srv)) {
		if (!c->paused)
			sk__ready_add(c);
		goto later;
	}
	/* Room for input: a filter may have more decoded bytes for it. */
	if (c->filter != NULL && c->inlen < c->incap && !c->eof) {
		int rc = c->filter->input(c, c->fstate, NULL, 0);

		if (rc < 0) {
			sk__conn_close(c, SK_CLOSE_RESET);
			return;
		}
		if (rc > 0)
			c->eof = 1;
	}
	if (c->svc->def->tcp_read == NULL) {
		c->inlen = 0; /* a service that never reads: input goes */
	} else if (!c->paused && c->inlen > 0) {
		size_t used = c->svc->def->tcp_read(c, c->in, c->inlen);

		if (c->closing || c->ending)
			return;
		if (used > c->inlen)
			used = c->inlen;
		/* Nothing taken: the rest is an incomplete request, which
		 * waits for more bytes, not for the next turn (calling again
		 * with the same bytes would spin the loop). */
		partial = used == 0;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	if (c->eof && c->inlen == 0) {
		/* The peer is done and so are we, once the replies are out. */
		sk__conn_end(c, SK_CLOSE_PEER);
		return;
	}
later:
	sk__in_put(c);
	if (c->inlen > 0 && !c->paused && !c->held && !partial)
		sk__ready_add(c);
	want = !c->paused && !c->eof && c->inlen < c->incap;
	if (want && !c->reading) {
		if (uv_read_start(&c->u.st, sk__conn_alloc, sk__read) != 0) {
			sk__conn_close(c, SK_CLOSE_RESET);
			return;
		}
		c->reading = 1;
	} else if (!want && c->reading) {
		uv_read_stop(&c->u.st);
		c->reading = 0;
	}
}

static void sk__read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct sk_conn *c = st->data;
	uint64_t now;

	(void)buf;
	if (c->closing)
		return;
	if (n == UV_ENOBUFS) {
		if (c->in == NULL) {
			sk__conn_close(c, SK_CLOSE_NOMEM); /* no buffer */
			return;
		}
		/* Full (cannot happen: reading stops first); sk__conn_run
		 * reads again once there is room. */
		uv_read_stop(st);
		c->reading = 0;
		return;
	}
	if (n == 0) {
		sk__in_put(c); /* nothing came (EAGAIN) */
		return;
	}
	if (c->ending) {
		/* Lingering: input is discarded until the peer's EOF. */
		if (n < 0)
			sk__conn_close(c, c->why);
		return;
	}
	if (n < 0) {
		if (n != UV_EOF) {
			sk__conn_close(c, SK_CLOSE_RESET);
			return;
		}
		/* EOF: handle what is left, then finish the replies. */
		c->eof = 1;
	} else {
		now = uv_now(st->loop);
		c->last = now;
		if (c->req_start == 0)
			c->req_start = now;
		if (c->filter == NULL) {
			c->inlen += (size_t)n;
		} else {
			int rc = c->filter->input(c, c->fstate, c->raw,
						  (size_t)n);

			if (rc < 0) {
				sk__conn_close(c, SK_CLOSE_RESET);
				return;
			}
			if (rc > 0)
				c->eof = 1;
		}
	}
	sk__conn_run(c);
}

/* ---- connections: accepting ---- */

static void sk__accept(uv_stream_t *server, int status);

/* A connection for l's service: a recycled one, a new one, or the
 * listener's spare when memory has run out. NULL: none at all. */
static struct sk_conn *sk__conn_get(struct sk_listener *l)
{
	struct sk_svc *v = l->svc;
	size_t size = SK__CONN_HEAD(v->def) + v->def->conn_size;
	struct sk_conn *c;

	/* Reuse a freed connection when there is one: malloc and free of
	 * these 4 KiB blocks at tens of thousands a second cost more than
	 * the rest of the accept. Only the fields before the input buffer,
	 * and the service's state, need clearing. */
	if (v->cache != NULL) {
		c = v->cache;
		v->cache = c->next;
		v->ncache--;
	} else {
		c = malloc(size);
	}
	if (c != NULL) {
		memset(c, 0, sizeof(*c));
		memset((char *)c + SK__CONN_HEAD(v->def), 0, v->def->conn_size);
		c->incap = SK__CONN_INSIZE(v->def);
		return c;
	}
	if (l->spare == NULL)
		return NULL; /* the spare is closing: libuv waits for us */
	/* Out of memory: take the connection and close it at once. */
	c = l->spare;
	l->spare = NULL;
	memset(c, 0, sizeof(*c));
	c->incap = SK__CONN_INSIZE(v->def);
	c->spare = 1;
	return c;
}

static void sk__accept_one(struct sk_listener *l)
{
	struct sk_server *s = l->srv;
	struct sk_svc *v = l->svc;
	struct sk_conn *c = sk__conn_get(l);
	int rc;

	if (c == NULL)
		return;
	c->lis = l;
	c->svc = v;
	c->why = SK_CLOSE_DONE;
	if (l->transport == SK_UNIX)
		rc = uv_pipe_init(&s->loop, &c->u.pipe, 0);
	else
		rc = uv_tcp_init(&s->loop, &c->u.tcp);
	if (rc != 0) {
		if (c->spare)
			l->spare = c;
		else
			free(c);
		return;
	}
	c->u.h.data = c;
	/* Link first, so that every path out goes through sk__conn_close. */
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconn++;
	v->nconn++;
	c->told = 1; /* nothing for the service to hear until it accepts */
	if (uv_accept(&l->u.st, &c->u.st) != 0) {
		sk__conn_close(c, SK_CLOSE_RESET);
		return;
	}
	if (c->spare) {
		l->drop_mem++;
		sk__conn_close(c, SK_CLOSE_NOMEM);
		return;
	}
	if (v->nconn > v->lim.max_conn || s->nconn > s->cfg.max_conn) {
		l->drop_conn++;
		sk__conn_close(c, SK_CLOSE_DONE);
		return;
	}
	/* Per source: not for services that only send and close, whose
	 * connections end as soon as their reply is written (and whose
	 * peers' addresses are then never looked up). */
	if (l->transport != SK_UNIX && v->lim.max_conn_source != 0 &&
	    v->def->tcp_read != NULL) {
		const uint8_t *a;
		int v6;

		sk_conn_peer(c);
		a = sk_sockaddr_bytes((const struct sockaddr *)&c->peer, &v6);
		sk_rl_key_make(&c->src, a, v6);
		rc = sk_srcmap_take(&v->src, &c->src, v->lim.max_conn_source);
		if (rc <= 0) {
			l->drop_src++;
			sk__conn_close(c, SK_CLOSE_DONE);
			return;
		}
		c->counted = 1;
	}
	c->id = sk_idtab_add(&s->ids, c);
	if (c->id == 0) {
		sk__conn_close(c, SK_CLOSE_NOMEM);
		return;
	}
	c->told = 0;
	l->tot.in++;
	/* A service that only sends (daytime, welcome): the connection is
	 * the request. */
	if (v->def->tcp_read == NULL)
		l->tot.requests++;
	sk_outq_init(&c->out);
	c->last = uv_now(&s->loop);
	if (v->def->tcp_accept != NULL)
		v->def->tcp_accept(c);
	if (c->ending || c->closing)
		return; /* sent and closing: no need to read */
	if (v->def->tcp_read == NULL) {
		/* A service that never reads still hears of a vanished
		 * peer, through EOF. */
		sk__conn_run(c);
		return;
	}
	/* Replies to requests go out at once, not after Nagle's delay. */
	if (l->transport != SK_UNIX)
		uv_tcp_nodelay(&c->u.tcp, 1);
	/* What the kernel holds for a peer that reads slowly is bounded
	 * too (the kernel doubles the value for its own bookkeeping). */
	if (v->lim.sndbuf != 0) {
		int size = (int)v->lim.sndbuf;

		(void)uv_send_buffer_size(&c->u.h, &size);
	}
	sk__conn_run(c);
}

static void sk__accept(uv_stream_t *server, int status)
{
	struct sk_listener *l = server->data;
	struct sk_server *s = l->srv;

	if (status < 0) {
		/* Counted, not logged: EMFILE under a flood would flood the
		 * log too. */
		l->accept_err++;
		l->last_err = status;
		return;
	}
	if (l->accepts >= SK_ACCEPTS_PER_TURN) {
		/* Not accepting makes libuv stop watching the listener; the
		 * next turn accepts, which starts it again. */
		if (!l->deferred) {
			l->deferred = 1;
			l->dnext = s->dhead;
			s->dhead = l;
			sk__more_start(s);
		}
		return;
	}
	l->accepts++;
	sk__accept_one(l);
}

/* ---- work left for the next turn ---- */

static void sk__more(uv_idle_t *h)
{
	struct sk_server *s = h->data;
	size_t n = s->nready;
	struct sk_listener *l;

	/* The waiting get a budget of their own (the poll phase gets another
	 * after sk__turn), so new input cannot starve them. */
	s->turn_t0 = 0;

	/* Accepts deferred from the last turn. */
	while ((l = s->dhead) != NULL) {
		s->dhead = l->dnext;
		l->deferred = 0;
		if (!s->stopping) {
			l->accepts++;
			sk__accept_one(l);
		}
	}
	/* One turn each for those waiting now, while this loop turn's budget
	 * lasts; a connection that still has input goes to the back. */
	while (n-- > 0 && s->rhead != NULL && sk__budget(s)) {
		struct sk_conn *c = s->rhead;

		sk__ready_del(c);
		sk__conn_run(c);
	}
	if (s->nready == 0 && s->dhead == NULL)
		uv_idle_stop(h);
}

static void sk__more_start(struct sk_server *s)
{
	if (s->running && !s->stopping)
		uv_idle_start(&s->more, sk__more);
}

/* Before each poll: a new turn, new accept budgets. */
static void sk__turn(uv_prepare_t *h)
{
	struct sk_server *s = h->data;

	sk__flush_all(s);
	for (size_t i = 0; i < s->nlis; i++)
		s->lis[i]->accepts = 0;
	s->turn_t0 = 0;
}

/* ---- UDP ---- */

struct sk_svc *sk_udp_svc(const struct sk_udp *u)
{
	return u->l.svc;
}

static void sk__send_done(uv_udp_send_t *req, int status)
{
	struct sk__sreq *r = (struct sk__sreq *)req;

	(void)status;
	r->l->pending--;
	free(r);
}

int sk_udp_send(struct sk_udp *u, const struct sockaddr *to, const void *buf,
		size_t len)
{
	struct sk_listener *l = &u->l;
	struct sk_svc *v = l->svc;
	uv_buf_t b;
	struct sk__sreq *r;
	int rc;

	if (len > SK_UDP_BUF)
		return -EMSGSIZE;
	/* A closing socket takes nothing more: a send queued now would
	 * outlive it. */
	if (l->batched || uv_is_closing(&l->u.h))
		return -ESHUTDOWN;
	if ((v->lim.out.rate != 0 || v->lim.out.interval_ns != 0) &&
	    !sk_bucket_take(&v->out, &v->lim.out, uv_hrtime())) {
		l->drop_out++;
		return -ENOBUFS;
	}
	b = uv_buf_init((char *)buf, (unsigned)len);
	rc = uv_udp_try_send(&l->u.udp, &b, 1, to);
	if (rc >= 0) {
		l->tot.out++;
		return 0;
	}
	if (rc != UV_EAGAIN)
		return rc; /* the peer is unreachable: nothing to do */
	if (l->pending >= SK_UDP_MAX_PENDING ||
	    (r = malloc(sizeof(*r) + len)) == NULL) {
		l->drop_bad++;
		return -ENOBUFS;
	}
	r->l = l;
	memcpy(r->data, buf, len);
	b = uv_buf_init(r->data, (unsigned)len);
	rc = uv_udp_send(&r->req, &l->u.udp, &b, 1, to, sk__send_done);
	if (rc != 0) {
		free(r);
		l->drop_bad++;
		return rc;
	}
	l->pending++;
	l->tot.out++;
	return 0;
}

/* A datagram from one of these ports may be another server's answer;
 * answering it can start a loop between two servers that never ends
 * (echo, discard, daytime, chargen, time), as inetd knew. */
static int sk__loop_port(const struct sk_server *s, const struct sockaddr *from)
{
	static const uint16_t bad[] = { 7, 9, 13, 19, 37 };
	uint16_t p;

	if (from->sa_family == AF_INET)
		p = ((const struct sockaddr_in *)from)->sin_port;
	else if (from->sa_family == AF_INET6)
		p = ((const struct sockaddr_in6 *)from)->sin6_port;
	else
		return 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (p == htons(bad[i]))
			return 1;
	for (size_t i = 0; i < s->nlis; i++)
		if (s->lis[i]->transport == SK_UDP && s->lis[i]->port == p)
			return 1;
	return 0;
}

static void sk__alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk_server *s = h->loop->data;

	(void)hint;
	buf->base = s->rbuf;
	buf->len = sizeof(s->rbuf);
}

static void sk__udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
			 const struct sockaddr *from, unsigned flags)
{
	struct sk_listener *l = h->data;
	struct sk_svc *v = l->svc;
	const struct sk_service *d = v->def;
	struct sk_rl_key key;
	const uint8_t *addr;
	int len, v6;

	if (from == NULL || n < 0)
		return; /* nothing more to read, or a transient error */
	l->tot.in++;
	/* STYLE 11: length, then mode, then rate, then the reply. */
	if ((flags & UV_UDP_PARTIAL) ||
	    (d->udp_max_in != 0 && (size_t)n > d->udp_max_in)) {
		l->drop_bad++;
		return;
	}
	if (sk__loop_port(l->srv, from)) {
		l->drop_loop++;
		return;
	}
	if (d->udp_check != NULL && d->udp_check(buf->base, (size_t)n) != 0) {
		l->drop_bad++;
		return;
	}
	addr = sk_sockaddr_bytes(from, &v6);
	sk_rl_key_make(&key, addr, v6);
	if (!sk_rl_allow(v->rl, &key, uv_hrtime())) {
		l->drop_rate++;
		return;
	}
	if (d->udp_recv != NULL) {
		d->udp_recv((struct sk_udp *)l, from, buf->base, (size_t)n);
		return;
	}
	len = d->udp_reply(v, buf->base, (size_t)n, l->srv->obuf,
			   d->udp_max_out);
	if (len < 0) {
		l->drop_bad++;
		return;
	}
	sk_udp_send((struct sk_udp *)l, from, l->srv->obuf, (size_t)len);
}

/* ---- listeners ---- */

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

/* A listener that failed to bind is freed in its close callback. */
static void sk__lis_free(uv_handle_t *h)
{
	struct sk_listener *l = h->data;

	free(l->spare);
	free(l);
}

static struct sk_listener *sk__lis_new(struct sk_server *s, struct sk_svc *v,
				       unsigned transport)
{
	/* Every listener is allocated as a struct sk_udp, so that a UDP
	 * one can be handed to services as one. */
	struct sk_listener *l = calloc(1, sizeof(struct sk_udp));

	if (l == NULL)
		return NULL;
	l->srv = s;
	l->svc = v;
	l->transport = transport;
	if (transport != SK_UDP) {
		l->spare = malloc(SK__CONN_HEAD(v->def) + v->def->conn_size);
		if (l->spare == NULL) {
			free(l);
			return NULL;
		}
	}
	return l;
}

/* The listener is bound: name it and keep it. */
static void sk__lis_keep(struct sk_server *s, struct sk_listener *l,
			 const char *where)
{
	snprintf(l->name, sizeof(l->name), "%s/%s %s", l->svc->def->name,
		 l->transport == SK_UDP ? "udp"
		 : l->transport == SK_TCP ? "tcp" : "unix", where);
	s->lis[s->nlis++] = l;
}

int sk_server_listen(struct sk_server *s, struct sk_svc *v,
		     unsigned transport, const struct sockaddr *addr,
		     struct sockaddr_storage *bound)
{
	const struct sk_service *d = v->def;
	struct sk_listener *l;
	struct sockaddr_storage ss;
	char as[SK_ADDRSTR_MAX];
	int rc, len = sizeof(ss);
	int v6 = addr->sa_family == AF_INET6;

	if (s->nlis >= SK_MAX_LISTENERS)
		return UV_ENOBUFS;
	l = sk__lis_new(s, v, transport);
	if (l == NULL)
		return UV_ENOMEM;
	if (transport == SK_UDP && d->udp_batch != NULL) {
		unsigned threads, spin_us;

		d->udp_batch->params(v->settings, &threads, &spin_us);
		rc = sk_batch_start(d->udp_batch, v->settings, addr, threads,
				    spin_us, &ss, &l->batch);
		if (rc != 0) {
			free(l);
			return rc;
		}
		l->batched = 1;
	} else if (transport == SK_TCP) {
		/* libuv sets SO_REUSEADDR on every TCP bind. */
		rc = uv_tcp_init(&s->loop, &l->u.tcp);
		if (rc != 0) {
			free(l->spare);
			free(l);
			return rc;
		}
		rc = uv_tcp_bind(&l->u.tcp, addr, v6 ? UV_TCP_IPV6ONLY : 0);
		if (rc == 0)
			rc = uv_listen(&l->u.st, SOMAXCONN, sk__accept);
		if (rc == 0)
			rc = uv_tcp_getsockname(&l->u.tcp,
						(struct sockaddr *)&ss, &len);
	} else {
		rc = uv_udp_init(&s->loop, &l->u.udp);
		if (rc != 0) {
			free(l);
			return rc;
		}
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
	if (ss.ss_family == AF_INET)
		l->port = ((struct sockaddr_in *)&ss)->sin_port;
	else if (ss.ss_family == AF_INET6)
		l->port = ((struct sockaddr_in6 *)&ss)->sin6_port;
	memcpy(&l->asked, addr, v6 ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in));
	sk_sockaddr_str((struct sockaddr *)&ss, as, sizeof(as));
	sk__lis_keep(s, l, as);
	if (bound != NULL)
		*bound = ss;
	return 0;
}

int sk_server_listen_unix(struct sk_server *s, struct sk_svc *v,
			  const char *path)
{
	struct sk_listener *l;
	struct stat st;
	int rc;

	if (s->nlis >= SK_MAX_LISTENERS)
		return UV_ENOBUFS;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return UV_ENAMETOOLONG;
	l = sk__lis_new(s, v, SK_UNIX);
	if (l == NULL)
		return UV_ENOMEM;
	rc = uv_pipe_init(&s->loop, &l->u.pipe, 0);
	if (rc != 0) {
		free(l->spare);
		free(l);
		return rc;
	}
	l->u.h.data = l;
	/* A socket file left by an earlier run would make bind fail; only
	 * a socket is replaced, never a file of another kind. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	rc = uv_pipe_bind(&l->u.pipe, path);
	/* Only the daemon's user may connect: --insecure services rely on
	 * it. */
	if (rc == 0 && chmod(path, 0600) != 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen(&l->u.st, SOMAXCONN, sk__accept);
	if (rc != 0) {
		uv_close(&l->u.h, sk__lis_free);
		return rc;
	}
	memcpy(l->path, path, strlen(path) + 1);
	sk__lis_keep(s, l, path);
	return 0;
}

/* The address a handed socket is bound to, for its name and the loop
 * check; a unix socket's is its path. Returns 0 or a negative errno. */
static int sk__fd_name(int fd, struct sockaddr_storage *ss, char *as,
		       size_t cap)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)ss, &len) != 0)
		return -errno;
	if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
			? len - offsetof(struct sockaddr_un, sun_path) : 0;

		if (n == 0 || un->sun_path[0] == '\0')
			/* Unnamed, or abstract: '@' as ss(8) writes it. */
			snprintf(as, cap, "@%.*s", n > 1 ? (int)(n - 1) : 0,
				 un->sun_path + 1);
		else
			snprintf(as, cap, "%.*s", (int)strnlen(un->sun_path, n),
				 un->sun_path);
		return 0;
	}
	sk_sockaddr_str((struct sockaddr *)ss, as, cap);
	return 0;
}

int sk_server_adopt(struct sk_server *s, struct sk_svc *v, unsigned transport,
		    int fd, struct sockaddr_storage *bound)
{
	const struct sk_service *d = v->def;
	struct sk_listener *l;
	struct sockaddr_storage ss;
	char as[SK_UNIX_PATH_MAX + 2]; /* a path, "@" and a NUL */
	int rc;

	rc = sk__fd_name(fd, &ss, as, sizeof(as));
	if (rc == 0 && s->nlis >= SK_MAX_LISTENERS)
		rc = UV_ENOBUFS;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	l = sk__lis_new(s, v, transport);
	if (l == NULL) {
		close(fd);
		return UV_ENOMEM;
	}
	if (transport == SK_UDP && d->udp_batch != NULL) {
		unsigned threads, spin_us;

		d->udp_batch->params(v->settings, &threads, &spin_us);
		rc = sk_batch_adopt(d->udp_batch, v->settings, fd, spin_us, &ss,
				    &l->batch);
		if (rc != 0) {
			free(l);
			return rc;
		}
		l->batched = 1;
	} else {
		if (transport == SK_UDP)
			rc = uv_udp_init(&s->loop, &l->u.udp);
		else if (transport == SK_TCP)
			rc = uv_tcp_init(&s->loop, &l->u.tcp);
		else
			rc = uv_pipe_init(&s->loop, &l->u.pipe, 0);
		if (rc != 0) {
			close(fd);
			free(l->spare);
			free(l);
			return rc;
		}
		l->u.h.data = l;
		if (transport == SK_UDP)
			rc = uv_udp_open(&l->u.udp, fd);
		else if (transport == SK_TCP)
			rc = uv_tcp_open(&l->u.tcp, fd);
		else
			rc = uv_pipe_open(&l->u.pipe, fd);
		if (rc != 0) {
			/* Not the handle's: libuv did not take it. */
			close(fd);
		} else if (transport == SK_UDP) {
			sk__udp_rcvbuf(&l->u.udp);
			rc = uv_udp_recv_start(&l->u.udp, sk__alloc,
					       sk__udp_recv);
		} else {
			rc = uv_listen(&l->u.st, SOMAXCONN, sk__accept);
		}
		if (rc != 0) {
			uv_close(&l->u.h, sk__lis_free);
			return rc;
		}
	}
	if (ss.ss_family == AF_INET)
		l->port = ((struct sockaddr_in *)&ss)->sin_port;
	else if (ss.ss_family == AF_INET6)
		l->port = ((struct sockaddr_in6 *)&ss)->sin6_port;
	/* A handed unix socket's file is systemd's: never removed here. */
	l->handed = 1;
	sk__lis_keep(s, l, as);
	if (bound != NULL)
		*bound = ss;
	return 0;
}

/* ---- timers, signals, shutdown ---- */

/* A batched listener's workers' counters, into its interval's. */
static void sk__batch_pull(struct sk_listener *l)
{
	struct sk_batch_stats got;
	unsigned long *to = (unsigned long *)&l->bstats;
	const unsigned long *from = (const unsigned long *)&got;

	if (l->batch == NULL)
		return;
	sk_batch_take_stats(l->batch, &got);
	for (int i = 0; i < SK_BATCH_NSTATS; i++)
		to[i] += from[i];
}

/* The interval's batch counters, into totals t (of listener l). */
static void sk__batch_add(struct sk_listener_totals *t,
			  const struct sk_batch_stats *b)
{
	t->in += b->received;
	t->out += b->sent;
	t->drop_bad += b->bad;
	t->drop_rate += b->limited;
	t->denied += b->denied;
	t->kod += b->kod;
	t->unsent += b->unsent;
}

/* The interval's drops, into totals t. */
static void sk__drops_add(struct sk_listener_totals *t,
			  const struct sk_listener *l)
{
	t->drop_rate += l->drop_rate;
	t->drop_bad += l->drop_bad;
	t->drop_loop += l->drop_loop;
	t->drop_out += l->drop_out;
	t->drop_conn += l->drop_conn;
	t->drop_src += l->drop_src;
	t->drop_mem += l->drop_mem;
	t->accept_err += l->accept_err;
}

/* Log what was dropped in the last `secs` seconds, one line a listener. */
static void sk__summary(struct sk_server *s, unsigned secs)
{
	for (size_t i = 0; i < s->nlis; i++) {
		struct sk_listener *l = s->lis[i];

		if (l->batched) {
			struct sk_batch_stats *b = &l->bstats;

			/* Into the totals before the interval is zeroed. */
			sk__batch_pull(l);
			sk__batch_add(&l->tot, b);
			if (b->bad + b->denied + b->limited + b->kod +
				    b->unsent == 0) {
				memset(b, 0, sizeof(*b));
				continue;
			}
			sk_log_warnx("%s: in %us: %lu malformed or not "
				     "requests, %lu denied, %lu over the rate "
				     "limit dropped, %lu answered with KoD RATE, "
				     "%lu unsent",
				     l->name, secs, b->bad, b->denied,
				     b->limited, b->kod, b->unsent);
			memset(b, 0, sizeof(*b));
			continue;
		}
		sk__drops_add(&l->tot, l); /* before they are zeroed */
		if (l->accept_err > 0) {
			sk_log_warn(l->last_err, "%s: %lu failed accepts in %us, "
				    "the last", l->name, l->accept_err, secs);
			l->accept_err = 0;
		}
		if (l->drop_rate + l->drop_bad + l->drop_loop + l->drop_out > 0) {
			char more[96] = "";
			size_t m = 0;

			if (l->drop_loop > 0)
				m += (size_t)snprintf(more, sizeof(more),
					", %lu from loop-prone ports",
					l->drop_loop);
			if (l->drop_out > 0)
				snprintf(more + m, sizeof(more) - m,
					 ", %lu over the outbound budget",
					 l->drop_out);
			sk_log_warnx("%s: dropped %lu datagrams in %us "
				     "(%lu over the rate limit, %lu malformed "
				     "or unsendable%s)",
				     l->name,
				     l->drop_rate + l->drop_bad + l->drop_loop +
					     l->drop_out,
				     secs, l->drop_rate, l->drop_bad, more);
		}
		if (l->drop_conn > 0)
			sk_log_warnx("%s: refused %lu connections in %us "
				     "(over the limit of %u)",
				     l->name, l->drop_conn, secs,
				     l->svc->lim.max_conn < s->cfg.max_conn
					     ? l->svc->lim.max_conn
					     : s->cfg.max_conn);
		if (l->drop_src > 0)
			sk_log_warnx("%s: refused %lu connections in %us "
				     "(over the per-source limit of %u)",
				     l->name, l->drop_src, secs,
				     l->svc->lim.max_conn_source);
		if (l->drop_mem > 0)
			sk_log_warnx("%s: refused %lu connections in %us "
				     "(out of memory)", l->name, l->drop_mem,
				     secs);
		l->drop_rate = l->drop_bad = l->drop_conn = 0;
		l->drop_loop = l->drop_out = l->drop_src = l->drop_mem = 0;
	}
}

static void sk__tick(uv_timer_t *t)
{
	struct sk_server *s = t->data;
	uint64_t now = uv_now(&s->loop);
	struct sk_conn *c, *next;

	for (c = s->conns; c != NULL; c = next) {
		const struct sk_svc_limits *lim = &c->svc->lim;

		int idle;

		next = c->next;
		if (c->closing)
			continue;
		if (c->finishing) {
			if (c->linger_until != 0 && now >= c->linger_until)
				sk__conn_close(c, c->why);
			continue;
		}
		idle = lim->idle_timeout > 0 &&
		       now - c->last >= (uint64_t)lim->idle_timeout * 1000;
		if (c->ending) {
			/* Its last output is stuck with a peer that reads
			 * nothing. */
			if (idle)
				sk__conn_close(c, SK_CLOSE_IDLE);
			continue;
		}
		if (idle)
			sk__conn_end(c, SK_CLOSE_IDLE);
		else if (lim->request_timeout > 0 && c->req_start != 0 &&
			 !c->held &&
			 now - c->req_start >=
				 (uint64_t)lim->request_timeout * 1000)
			sk__conn_end(c, SK_CLOSE_DEADLINE);
	}
	/* Give back to the system what a burst of queued output took:
	 * glibc keeps freed heap otherwise. */
	if (s->queued == 0 && s->queued_peak > SK_TRIM_PEAK) {
		malloc_trim(0);
		s->queued_peak = 0;
	}
	if (++s->ticks >= s->cfg.log_interval) {
		s->ticks = 0;
		sk__summary(s, s->cfg.log_interval);
	}
}

static void sk__grace_over(uv_timer_t *t)
{
	struct sk_server *s = container_of(t, struct sk_server, grace);

	while (s->conns != NULL)
		sk__conn_close(s->conns, SK_CLOSE_SHUTDOWN);
}

/* Shutdown is over: close the server's own handles, so the loop ends. */
static void sk__last_close(struct sk_server *s)
{
	if (s->grace_on) {
		s->grace_on = 0;
		uv_close((uv_handle_t *)&s->grace, NULL);
	}
	if (s->running) {
		s->running = 0;
		uv_close((uv_handle_t *)&s->tick, NULL);
		uv_close((uv_handle_t *)&s->more, NULL);
		uv_close((uv_handle_t *)&s->turn, NULL);
	}
	/* The signal handles stay, unreferenced, until the loop is over
	 * (see sk_server_run), so a late signal cannot kill a daemon that is
	 * already exiting cleanly. */
	uv_unref((uv_handle_t *)&s->sigint);
	uv_unref((uv_handle_t *)&s->sigterm);
	uv_unref((uv_handle_t *)&s->sighup);
}

static void sk__grace_over(uv_timer_t *t);

static void sk__shutdown(struct sk_server *s, int say)
{
	struct sk_conn *c, *next;

	if (s->stopping) {
		/* A second signal: stop waiting for slow peers. */
		if (s->nconn > 0)
			sk__grace_over(&s->grace);
		return;
	}
	s->stopping = 1;
	if (say)
		sk_log_info("shutting down");
	for (size_t i = 0; i < s->natstop; i++)
		s->atstop[i].fn(s->atstop[i].arg);
	/* Worker threads stop first, so their last counts are summed. */
	for (size_t i = 0; i < s->nlis; i++) {
		if (s->lis[i]->batch != NULL) {
			sk_batch_stop(s->lis[i]->batch, &s->lis[i]->bstats);
			s->lis[i]->batch = NULL;
		}
	}
	sk__summary(s, s->ticks + 1);
	/* Services stop while their UDP sockets are still open: a goodbye
	 * to a UDP peer (a DTLS close_notify) can still go out. */
	for (size_t i = 0; i < s->nsvc; i++)
		if (s->svcs[i]->inited && s->svcs[i]->def->stop != NULL)
			s->svcs[i]->def->stop(s->svcs[i]);
	/* Bound listeners are freed after the loop ends: connections that
	 * are still finishing point at theirs. */
	for (size_t i = 0; i < s->nlis; i++) {
		if (!s->lis[i]->batched)
			uv_close(&s->lis[i]->u.h, NULL);
		if (s->lis[i]->path[0] != '\0')
			unlink(s->lis[i]->path);
	}
	/* Replies in flight are finished; new input is not read. */
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		sk__conn_end(c, SK_CLOSE_SHUTDOWN);
	}
	if (s->nconn == 0) {
		sk__last_close(s);
	} else {
		/* The grace period counts from now, not from the start of a
		 * long loop turn. */
		uv_update_time(&s->loop);
		if (uv_timer_init(&s->loop, &s->grace) == 0) {
			s->grace.data = s;
			s->grace_on = 1;
			uv_timer_start(&s->grace, sk__grace_over,
				       SK_SHUTDOWN_GRACE_MS, 0);
		} else {
			sk__grace_over(&s->grace);
		}
	}
}

static void sk__stop(uv_signal_t *sig, int signum)
{
	(void)signum;
	sk__shutdown(sig->data, 1);
}

void sk_server_stop(struct sk_server *s)
{
	sk__shutdown(s, 0);
}

/* ---- reload ---- */

static void sk__hup(uv_signal_t *sig, int signum)
{
	struct sk_server *s = sig->data;

	(void)signum;
	if (s->stopping)
		return;
	if (s->onhup != NULL)
		s->onhup(s->onhup_arg);
	else
		sk_log_info("SIGHUP: nothing to reload");
}

void sk_server_on_hup(struct sk_server *s, void (*fn)(void *), void *arg)
{
	s->onhup = fn;
	s->onhup_arg = arg;
}

void sk_server_set_cfg(struct sk_server *s, const struct sk_server_config *cfg)
{
	s->cfg.log_interval = cfg->log_interval;
	s->cfg.max_output = cfg->max_output;
}

struct sk_listener *sk_server_listener_find(struct sk_server *s,
					    const struct sk_svc *v,
					    unsigned transport,
					    const struct sockaddr *asked,
					    const char *path)
{
	for (size_t i = 0; i < s->nlis; i++) {
		struct sk_listener *l = s->lis[i];

		if (l->svc != v || l->transport != transport || l->handed)
			continue;
		if (transport == SK_UNIX) {
			if (path != NULL && strcmp(l->path, path) == 0)
				return l;
			continue;
		}
		if (asked != NULL && sk_sockaddr_same(
			    (const struct sockaddr *)&l->asked, asked))
			return l;
	}
	return NULL;
}

const char *sk_server_listener_name(const struct sk_listener *l)
{
	return l->name;
}

int sk_server_listener_handed(const struct sk_listener *l)
{
	return l->handed;
}

int sk_server_listener_takes(const struct sk_listener *l, unsigned transport,
			     const struct sockaddr *addr, const char *path)
{
	if (l->transport != transport)
		return 0;
	if (transport == SK_UNIX)
		return path != NULL && strcmp(l->path, path) == 0;
	return addr != NULL && l->port != 0 &&
	       htons(sk_sockaddr_port(addr)) == l->port;
}

struct sk_listener *sk_server_listener_at(struct sk_server *s, size_t i)
{
	return i < s->nlis ? s->lis[i] : NULL;
}

void sk_server_unlisten(struct sk_server *s, struct sk_listener *l)
{
	size_t i = 0;

	while (i < s->nlis && s->lis[i] != l)
		i++;
	if (i == s->nlis)
		return;
	memmove(&s->lis[i], &s->lis[i + 1],
		(s->nlis - i - 1) * sizeof(s->lis[0]));
	s->nlis--;
	/* An accept deferred to the next turn would find it closed. */
	if (l->deferred) {
		struct sk_listener **p = &s->dhead;

		while (*p != l)
			p = &(*p)->dnext;
		*p = l->dnext;
		l->deferred = 0;
	}
	if (l->batch != NULL) {
		sk_batch_stop(l->batch, &l->bstats);
		l->batch = NULL;
	} else {
		uv_close(&l->u.h, NULL);
	}
	if (l->path[0] != '\0')
		unlink(l->path);
	/* Its connections finish as they would have; their service and the
	 * services' UDP peers keep pointing at it, so it stays allocated. */
	l->rnext = s->retired;
	s->retired = l;
}

int sk_svc_reload_prepare(struct sk_svc *v, void *next, void **pending,
			  char *err, size_t cap)
{
	*pending = NULL;
	if (v->def->reload == NULL || next == NULL)
		return 0;
	return v->def->reload(v, next, pending, err, cap);
}

void sk_svc_reload_finish(struct sk_svc *v, const void *next,
			  const struct sk_svc_limits *lim, void *pending,
			  int commit)
{
	if (commit) {
		/* In place: the service's pointers to its settings stay
		 * good, and it runs on this thread only (batch workers
		 * get states of their own, below). */
		if (next != NULL && v->settings != NULL)
			memcpy(v->settings, next, v->def->settings_size);
		v->lim = *lim;
		v->rl->per_source = lim->rate;
		v->rl->global = lim->global;
		for (size_t i = 0; i < v->srv->nlis; i++) {
			struct sk_listener *l = v->srv->lis[i];

			if (l->svc == v && l->batch != NULL &&
			    sk_batch_reload(l->batch, v->settings) != 0)
				sk_log_warnx("%s: out of memory: its workers "
					     "keep the settings they had",
					     l->name);
		}
	}
	if (v->def->reloaded != NULL && next != NULL)
		v->def->reloaded(v, pending, commit);
}

static void sk__svc_free(struct sk_svc *v)
{
	if (v->inited && v->def->fini != NULL)
		v->def->fini(v);
	while (v->cache != NULL) {
		struct sk_conn *c = v->cache;

		v->cache = c->next;
		free(c);
	}
	while (v->inpool != NULL) {
		void *b = v->inpool;

		memcpy(&v->inpool, b, sizeof(void *));
		free(b);
	}
	sk_srcmap_fini(&v->src);
	free(v->rl);
	free(v->settings);
	free(v);
}

int sk_server_run(struct sk_server *s)
{
	sigset_t mask;
	int rc = 0;

	if (!s->stopping) {
		if (uv_timer_init(&s->loop, &s->tick) != 0 ||
		    uv_idle_init(&s->loop, &s->more) != 0 ||
		    uv_prepare_init(&s->loop, &s->turn) != 0) {
			sk_log_warnx("serve: cannot start the loop's timers");
			rc = -1;
		} else {
			s->tick.data = s->more.data = s->turn.data = s;
			s->running = 1;
			uv_timer_start(&s->tick, sk__tick, 1000, 1000);
			uv_prepare_start(&s->turn, sk__turn);
			if (s->dhead != NULL || s->nready > 0)
				sk__more_start(s);
		}
	}
	if (rc != 0)
		sk__shutdown(s, 0);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	/* Done: a SIGINT or SIGTERM from now on stays pending until we have
	 * exited, instead of killing us (closing libuv's last handle for a
	 * signal restores its default action). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	/* A worker loop of a batched service that would not close counts
	 * as a handle left open too. */
	if (uv_loop_close(&s->loop) != 0 || sk_batch_unclosed() != 0)
		rc = -1;
	for (size_t i = 0; i < s->nlis; i++) {
		free(s->lis[i]->spare);
		free(s->lis[i]);
	}
	while (s->retired != NULL) {
		struct sk_listener *l = s->retired;

		s->retired = l->rnext;
		free(l->spare);
		free(l);
	}
	for (size_t i = 0; i < s->nsvc; i++)
		sk__svc_free(s->svcs[i]);
	sk_idtab_fini(&s->ids);
	free(s);
	return rc;
}
