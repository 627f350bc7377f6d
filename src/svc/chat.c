/*
 * chat.c: the chat room (docs/PROTOCOL.md, "chat"). The tutorial's TCP
 * "phone call", grown into a room: every line a member says goes at once
 * to every other member, attributed line by line, in plain lines any nc
 * can read. The line protocol (splitting, sanitising, commands, output
 * forms) is the pure core in proto/chat.h; this file is the room.
 *
 * Members. A TCP connection joins the room, with a default nick
 * ("guestN") it may change with /nick; nicks are unique, ASCII case
 * ignored, in a hash table. With --chat-console the daemon's own
 * terminal is a member too (the tutorial's operator). Past max-members,
 * callers wait in a hold queue, in order, told their place; their input
 * is not read (as the tutorial's backlog), and each place that frees
 * lets the first one in. Past max-held, a caller is told the room is
 * full and closed.
 *
 * Fan-out. A line is formatted once into a shared buffer and queued by
 * reference for every other member (STYLE 24). A member whose queue goes
 * over max-output is disconnected by the platform (one log line), and
 * the room is told; nobody waits on anyone.
 *
 * Floods. Each member has a token bucket of lines (line-rate,
 * line-burst); a line over it is dropped, and the member told, at most
 * once a second.
 *
 * Lines without LF. The tutorial's client sends its line with no LF and
 * waits for an answer. A partial line that sees no new byte for
 * SK_CHAT_PARTIAL_MS is taken as whole: one room timer scans the members
 * that have one, and sk_conn_kick() hands their input back with "flush".
 *
 * The greeting. A member is not sent anything at join: the tutorial's
 * client reads one reply per line it sends, and a greeting would be read
 * in place of the first answer. The greeting goes out in the same write
 * as the first line the member receives (or answers its first command).
 */
#include "svc_chat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "../net/console.h"
#include "../net/log.h"
#include "../net/sockaddr.h"
#include "../proto/chat.h"
#include "../proto/ratelimit.h"

/* The chat service's settings. */
struct sk__chat_cfg {
	unsigned console;        /* the daemon's terminal is a member */
	char console_nick[SK_CHAT_NICK_MAX + 1]; /* its nick */
	unsigned max_members;    /* members at once, the console not counted */
	unsigned max_held;       /* callers waiting for a place */
	unsigned line_rate;      /* lines per second per member */
	unsigned line_burst;     /* lines at once per member */
	unsigned udp_expire;     /* s a UDP peer stays after its last datagram */
	unsigned udp_max_peers;  /* UDP peers at once */
	unsigned udp_trust_loopback; /* loopback peers need not prove their
				      * address (nobody can spoof it) */
};

static int sk__console_nick_set(void *settings, const char *val, char *err,
			size_t cap)
{
	struct sk__chat_cfg *cfg = settings;
	size_t n = strlen(val);

	if (!sk_chat_nick_valid(val, n)) {
		snprintf(err, cap, "'%s' is not a nick (1 to %d letters, digits, "
			 "'-', '_' or '.', starting with a letter)", val,
			 SK_CHAT_NICK_MAX);
		return -1;
	}
	memcpy(cfg->console_nick, val, n + 1);
	return 0;
}

#define SK__OFF(f) offsetof(struct sk__chat_cfg, f)
static const struct sk_opt sk__chat_opts[] = {
	SK_OPT_NUM(SK_OPT_UINT, "console", SK__OFF(console), 0, 1, "0", "0|1",
		   "the daemon's terminal is a member: its lines\n"
		   "are said to the room, the room's are printed"),
	{ .name = "console-nick", .type = SK_OPT_FUNC, .def = "operator",
	  .arg = "NICK", .help = "the console's nick", .parse = sk__console_nick_set },
	SK_OPT_NUM(SK_OPT_UINT, "max-members", SK__OFF(max_members), 1,
		   SK_CHAT_MEMBERS_MAX, "10000", "N",
		   "members at once (the console not counted); later\n"
		   "callers wait on hold, in order; 1 is the\n"
		   "tutorial's one caller at a time"),
	SK_OPT_NUM(SK_OPT_UINT, "max-held", SK__OFF(max_held), 0,
		   SK_CHAT_HELD_MAX, "100", "N",
		   "callers waiting for a place; more are turned away"),
	SK_OPT_NUM(SK_OPT_UINT, "line-rate", SK__OFF(line_rate), 1, 1000000,
		   "10", "N", "lines a member may say per second"),
	SK_OPT_NUM(SK_OPT_UINT, "line-burst", SK__OFF(line_burst), 1, 1000000,
		   "20", "N", "lines a member may say at once"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-expire", SK__OFF(udp_expire), 1, 86400,
		   "60", "S", "a UDP peer leaves this long after its last\n"
		   "datagram"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-max-peers", SK__OFF(udp_max_peers), 1,
		   SK_CHAT_UDP_PEERS_MAX, "256", "N",
		   "UDP peers in the room at once; a datagram\n"
		   "from one more is dropped"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-trust-loopback", SK__OFF(udp_trust_loopback),
		   0, 1, "1", "0|1",
		   "UDP peers on loopback need not prove their\n"
		   "address (/hello, /ack) to get every line"),
	SK_OPT_END,
};

static const struct sk_svc_limits sk__chat_limits = {
	.max_conn = SK_CHAT_CONN_DEFAULT,
	.max_conn_source = SK_CONN_PER_SOURCE_DEFAULT,
	/* Members may be quiet for long; an hour with no byte either way
	 * ends a half-open connection. */
	.idle_timeout = 3600,
	.request_timeout = SK_CONN_REQUEST_DEFAULT,
	.max_output = SK_CHAT_OUTPUT_DEFAULT,
	.pause_output = SK_CHAT_OUTPUT_DEFAULT / 2,
	/* A member that reads slowly costs the kernel this much, not the
	 * megabytes tcp_wmem would let its buffer grow to. */
	.sndbuf = SK_CHAT_SNDBUF_DEFAULT,
	.rate = { 20, 40, 0 },
	.global = { 10000, 10000, 0 },
	.out = { 100000, 100000, 0 },
};

enum sk__state {
	SK__NEW = 0,    /* accepted, neither in the room nor held */
	SK__JOINED = 1, /* in the room */
	SK__HELD = 2,   /* waiting for a place */
	SK__GONE = 3,   /* left; its connection is closing */
};

/* A member: a connection's state (conn_size), or the console. */
struct sk__member {
	struct sk__member *prev, *next;   /* the room's list, or the hold
					   * queue */
	struct sk__member *hnext;         /* the nick table's chain */
	struct sk__member *pprev, *pnext; /* members with a partial line */
	struct sk_conn *c;                /* a TCP member's; else NULL */
	struct sk__peer *up;              /* a UDP peer's; else NULL */
	uint64_t partial_at;              /* loop ms the partial line was
					   * first seen; 0: none */
	uint64_t told_flood;              /* loop ms of the last "slow down" */
	struct sk_bucket flood;           /* lines said */
	struct sk_chat_in in;             /* the splitter */
	uint8_t state;                    /* enum sk__state */
	uint8_t greeted;                  /* the greeting went out */
	uint8_t flush;                    /* next read: a partial line is
					   * whole */
	uint8_t onpartial;                /* on the partial list */
	uint8_t nicklen;                  /* bytes in nick */
	char nick[SK_CHAT_NICK_MAX + 1];  /* NUL-terminated too */
};

/*
 * A UDP peer: a member known by its address. Until it proves that
 * address (it sends back the cookie of the greeting it asked for with
 * /hello, or it is on loopback and udp-trust-loopback is on), it is sent
 * at most SK_CHAT_UDP_CREDIT datagrams per datagram it sent, each at
 * most SK_CHAT_UDP_GROWTH times the size of its last: a spoofed source
 * cannot make the room a reflector.
 */
struct sk__peer {
	struct sk__member m;           /* first: the member */
	struct sk__peer *anext;        /* the address table's chain */
	struct sk_udp *u;              /* the socket it talks to */
	struct sockaddr_storage addr;  /* its address */
	uint64_t seen;                 /* loop ms of its last datagram */
	uint64_t cookie;               /* what /ack must send back */
	uint32_t credit;               /* datagrams it may still be sent */
	uint32_t credit_bytes;         /* the most bytes in one of them */
	uint8_t proven;                /* its address is proven */
	uint8_t cookied;               /* it was sent its cookie */
};

/* A list of members: the room, or the hold queue. */
struct sk__list {
	struct sk__member *head, *tail; /* ends */
	unsigned n;                     /* length */
};

/* The room, one per server. */
struct sk__room {
	struct sk_svc *svc;            /* the service */
	const struct sk__chat_cfg *cfg; /* its settings */
	struct sk__list room;          /* members in the room */
	struct sk__list held;          /* callers waiting, first first */
	struct sk__member *partial;    /* members with a partial line */
	struct sk__member **nicks;     /* the nick table */
	uint32_t nmask;                /* its size - 1 (a power of two) */
	uint32_t nseed;                /* mixed into its bucket index */
	uint64_t guests;               /* the last guestN handed out */
	struct sk_rate flood;          /* line-rate, line-burst */
	struct sk__member console;     /* the console member, when on */
	struct sk_console *con;        /* its terminal, when on */
	uv_timer_t timer;              /* the partial-line scan */
	int timer_on;                  /* it runs */
	struct sk__peer **peers;       /* UDP peers by address */
	unsigned npeers;               /* how many */
	uint32_t aseed;                /* mixed into the address hash */
	uv_timer_t expire;             /* the UDP peers' expiry scan */
	int expire_on;                 /* it runs */
	unsigned long udp_unsent;      /* lines an unproven peer was not
					* sent (over its credit) */
	unsigned long udp_refused;     /* datagrams from one peer too many */
	struct sk_bucket comings;      /* joins and leaves told one by one */
	unsigned long joined_untold;   /* past it, counted for the summary */
	unsigned long left_untold;
	uv_timer_t summary;            /* tells the counts, once a second */
	int summary_on;                /* it is armed */
	int stopping;                  /* shutdown began: no more notices */
	unsigned long lines;           /* lines said */
	unsigned long dropped_flood;   /* lines over a flood limit */
};

#define SK__ROOM(s) ((struct sk__room *)sk_svc_data(s))

static const struct sk_rate sk__comings_rate = {
	SK_CHAT_NOTICE_RATE, SK_CHAT_NOTICE_BURST, 0
};

static void sk__summary(uv_timer_t *t);

/* ---- small things ---- */

static uint64_t sk__now_ms(const struct sk__room *r)
{
	return uv_now(sk_svc_loop(r->svc));
}

static void sk__list_add(struct sk__list *l, struct sk__member *m)
{
	m->next = NULL;
	m->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->n++;
}

static void sk__list_del(struct sk__list *l, struct sk__member *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	m->prev = m->next = NULL;
	l->n--;
}

/* ---- nicks ---- */

/* The bucket of a nick: FNV-1a over its lower-case bytes, from a secret
 * of this run's, so strangers cannot pick nicks that all share one chain
 * (the core's sk_chat_nick_hash() has no key). */
static struct sk__member **sk__slot(struct sk__room *r, const char *p,
				    size_t n)
{
	uint32_t h = r->nseed;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		h ^= ch >= 'A' && ch <= 'Z' ? ch + 32u : ch;
		h *= 16777619u;
	}
	h ^= h >> 15;
	h *= 2654435761u;
	return &r->nicks[(h ^ h >> 13) & r->nmask];
}

static struct sk__member *sk__nick_find(struct sk__room *r, const char *p,
					size_t n)
{
	struct sk__member *m;

	for (m = *sk__slot(r, p, n); m != NULL; m = m->hnext)
		if (sk_chat_nick_eq(m->nick, m->nicklen, p, n))
			return m;
	return NULL;
}

static void sk__nick_add(struct sk__room *r, struct sk__member *m)
{
	struct sk__member **s = sk__slot(r, m->nick, m->nicklen);

	m->hnext = *s;
	*s = m;
}

static void sk__nick_del(struct sk__room *r, struct sk__member *m)
{
	struct sk__member **s = sk__slot(r, m->nick, m->nicklen);

	while (*s != NULL && *s != m)
		s = &(*s)->hnext;
	if (*s == m)
		*s = m->hnext;
	m->hnext = NULL;
}

static void sk__nick_set(struct sk__member *m, const char *p, size_t n)
{
	memcpy(m->nick, p, n);
	m->nick[n] = '\0';
	m->nicklen = (uint8_t)n;
}

/* A free default nick: guestN, N counting up. */
static void sk__guest(struct sk__room *r, struct sk__member *m)
{
	char nick[SK_CHAT_NICK_MAX + 1];
	int n;

	do {
		n = snprintf(nick, sizeof(nick), "guest%llu",
			     (unsigned long long)++r->guests);
	} while (sk__nick_find(r, nick, (size_t)n) != NULL);
	sk__nick_set(m, nick, (size_t)n);
	sk__nick_add(r, m);
}

/* ---- output ---- */

/* The greeting, which goes before the first line a member receives, in
 * the same write (the tutorial's client reads once per line it sends).
 * Returns its length in out (SK_CHAT_OUT_MAX bytes). */
static size_t sk__greeting(const struct sk__room *r,
			   const struct sk__member *m, char *out)
{
	char text[160];
	int n = snprintf(text, sizeof(text), "welcome, you are %s; %u here; "
			 "/help for commands", m->nick, r->room.n);

	return sk_chat_format(out, SK_CHAT_OUT_NOTICE, NULL, 0, text,
			      n > 0 ? (size_t)n : 0);
}

/* One datagram to a UDP peer, within its credit while it is unproven. */
static void sk__udp_put(struct sk__room *r, struct sk__peer *p, const char *s,
			size_t n)
{
	if (!p->proven) {
		if (p->credit == 0 || n > p->credit_bytes) {
			r->udp_unsent++;
			return;
		}
		p->credit--;
	}
	(void)sk_udp_send(p->u, (const struct sockaddr *)&p->addr, s, n);
}

/* Send one formatted line to one member (the console or a connection). */
static void sk__put(struct sk__room *r, struct sk__member *m, const char *s,
		    size_t n)
{
	char both[2 * SK_CHAT_OUT_MAX];
	size_t k;

	if (m->c == NULL && m->up == NULL) {
		if (r->con != NULL)
			(void)sk_console_write(r->con, s, n);
		return;
	}
	if (!m->greeted && m->state == SK__JOINED) {
		m->greeted = 1;
		k = sk__greeting(r, m, both);
		memcpy(both + k, s, n);
		s = both;
		n += k;
	}
	if (m->up != NULL)
		sk__udp_put(r, m->up, s, n);
	else
		(void)sk_conn_write(m->c, s, n);
}

/* A notice line, printf-style, into out (SK_CHAT_OUT_MAX bytes); its
 * length. A text over SK_CHAT_LINE_MAX bytes is cut. */
__attribute__((format(printf, 2, 0)))
static size_t sk__notice_v(char *out, const char *fmt, va_list ap)
{
	char text[SK_CHAT_LINE_MAX];
	int n = vsnprintf(text, sizeof(text), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	return sk_chat_format(out, SK_CHAT_OUT_NOTICE, NULL, 0, text,
			      (size_t)n);
}

/* A notice to one member. */
__attribute__((format(printf, 3, 4)))
static void sk__tell(struct sk__room *r, struct sk__member *m,
		     const char *fmt, ...)
{
	char out[SK_CHAT_OUT_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = sk__notice_v(out, fmt, ap);
	va_end(ap);
	sk__put(r, m, out, n);
}

/*
 * A line for everyone in the room but `from` (which may be NULL): stored
 * once, queued by reference. A member the write overflows is closed by
 * the platform, which tells us from its close callback later, so the
 * list holds still while we walk it.
 */
static void sk__broadcast(struct sk__room *r, const struct sk__member *from,
			  const char *s, size_t n)
{
	struct sk_buf *b = NULL;

	for (struct sk__member *m = r->room.head; m != NULL; m = m->next) {
		if (m == from)
			continue;
		if (m->c == NULL || !m->greeted) {
			sk__put(r, m, s, n);
			continue;
		}
		if (b == NULL && (b = sk_buf_copy(s, n)) == NULL)
			return;
		(void)sk_conn_send(m->c, b, 0, n);
	}
	sk_buf_unref(b);
}

/* A notice for everyone in the room but `from`. */
__attribute__((format(printf, 3, 4)))
static void sk__announce(struct sk__room *r, const struct sk__member *from,
			 const char *fmt, ...)
{
	char out[SK_CHAT_OUT_MAX];
	va_list ap;
	size_t n;

	if (r->stopping)
		return;
	va_start(ap, fmt);
	n = sk__notice_v(out, fmt, ap);
	va_end(ap);
	sk__broadcast(r, from, out, n);
}

/* ---- the hold queue ---- */

static void sk__places(struct sk__room *r)
{
	unsigned place = 0;

	for (struct sk__member *m = r->held.head; m != NULL; m = m->next)
		sk__tell(r, m, "the room is full: you are on hold, place %u "
			 "in the queue", ++place);
}

/*
 * Joins and leaves are told one by one while they are few. Each one goes
 * to every member, so a crowd arriving (or a client opening a thousand
 * connections and closing them) would cost members squared: past
 * SK_CHAT_NOTICE_RATE a second the room is told once a second how many
 * came and went instead.
 */
static int sk__comings(struct sk__room *r, int join)
{
	if (sk_bucket_take(&r->comings, &sk__comings_rate, uv_hrtime()))
		return 1;
	if (join)
		r->joined_untold++;
	else
		r->left_untold++;
	if (!r->summary_on) {
		r->summary_on = 1;
		uv_timer_start(&r->summary, sk__summary, 1000, 0);
	}
	return 0;
}

static void sk__summary(uv_timer_t *t)
{
	struct sk__room *r = t->data;

	r->summary_on = 0;
	if (r->joined_untold + r->left_untold == 0)
		return;
	sk__announce(r, NULL, "%lu joined and %lu left in the last second "
		     "(too many to name)", r->joined_untold, r->left_untold);
	r->joined_untold = r->left_untold = 0;
}

static void sk__join(struct sk__room *r, struct sk__member *m)
{
	m->state = SK__JOINED;
	sk__list_add(&r->room, m);
	if (sk__comings(r, 1))
		sk__announce(r, m, "%s joined", m->nick);
}

/* Let the first caller on hold in, while there is a place. */
static void sk__admit(struct sk__room *r)
{
	int moved = 0;

	while (r->held.head != NULL && r->room.n - (r->con != NULL) <
					       r->cfg->max_members) {
		struct sk__member *m = r->held.head;

		sk__list_del(&r->held, m);
		m->greeted = 0;
		sk__join(r, m);
		sk__tell(r, m, "your turn: you are in the room");
		sk_conn_hold(m->c, 0);
		moved = 1;
	}
	if (moved)
		sk__places(r);
}

/* ---- leaving ---- */

static void sk__partial_del(struct sk__room *r, struct sk__member *m)
{
	if (!m->onpartial)
		return;
	if (m->pprev != NULL)
		m->pprev->pnext = m->pnext;
	else
		r->partial = m->pnext;
	if (m->pnext != NULL)
		m->pnext->pprev = m->pprev;
	m->pprev = m->pnext = NULL;
	m->onpartial = 0;
	m->partial_at = 0;
}

/* m leaves, for the reason given (NULL: none said). */
static void sk__leave(struct sk__room *r, struct sk__member *m,
		      const char *why)
{
	int was = m->state;

	if (was == SK__GONE || was == SK__NEW) {
		m->state = SK__GONE;
		return;
	}
	m->state = SK__GONE;
	sk__partial_del(r, m);
	sk__nick_del(r, m);
	if (was == SK__HELD) {
		sk__list_del(&r->held, m);
		sk__places(r);
		return;
	}
	sk__list_del(&r->room, m);
	if (r->stopping || !sk__comings(r, 0))
		;
	else if (why != NULL && why[0] != '\0')
		sk__announce(r, NULL, "%s left (%s)", m->nick, why);
	else
		sk__announce(r, NULL, "%s left", m->nick);
	sk__admit(r);
}

/* ---- UDP peers ---- */

static struct sk__peer **sk__aslot(struct sk__room *r,
				   const struct sockaddr *sa)
{
	int v6;
	const uint8_t *a = sk_sockaddr_bytes(sa, &v6);
	uint32_t h = r->aseed ^ sk_sockaddr_port(sa);

	for (int i = 0; i < (v6 ? 16 : 4); i++) {
		h ^= a[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	h *= 2654435761u;
	return &r->peers[(h ^ h >> 13) & (2 * SK_CHAT_UDP_PEERS_MAX - 1)];
}

static int sk__same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	int v6a, v6b;
	const uint8_t *x = sk_sockaddr_bytes(a, &v6a);
	const uint8_t *y = sk_sockaddr_bytes(b, &v6b);

	return v6a == v6b && sk_sockaddr_port(a) == sk_sockaddr_port(b) &&
	       memcmp(x, y, v6a ? 16 : 4) == 0;
}

static struct sk__peer *sk__peer_find(struct sk__room *r,
				      const struct sockaddr *sa)
{
	struct sk__peer *p;

	for (p = *sk__aslot(r, sa); p != NULL; p = p->anext)
		if (sk__same_addr((const struct sockaddr *)&p->addr, sa))
			return p;
	return NULL;
}

/* p leaves the room (why: NULL or a reason) and is freed. */
static void sk__peer_drop(struct sk__room *r, struct sk__peer *p,
			  const char *why)
{
	struct sk__peer **s = sk__aslot(r, (const struct sockaddr *)&p->addr);

	while (*s != NULL && *s != p)
		s = &(*s)->anext;
	if (*s == p)
		*s = p->anext;
	r->npeers--;
	sk__leave(r, &p->m, why);
	free(p);
}

static void sk__expire(uv_timer_t *t)
{
	struct sk__room *r = t->data;
	uint64_t now = sk__now_ms(r), ttl = (uint64_t)r->cfg->udp_expire * 1000;
	char why[64];

	snprintf(why, sizeof(why), "silent for %u s", r->cfg->udp_expire);
	for (struct sk__member *m = r->room.head, *next; m != NULL; m = next) {
		next = m->next;
		/* next may be a peer dropped below: only ever drop m. */
		if (m->up != NULL && now - m->up->seen >= ttl)
			sk__peer_drop(r, m->up, why);
	}
	if (r->npeers == 0) {
		uv_timer_stop(&r->expire);
		r->expire_on = 0;
	}
}

/* A new peer joins, if there is a place. */
static struct sk__peer *sk__peer_new(struct sk__room *r, struct sk_udp *u,
				     const struct sockaddr *from)
{
	struct sk__peer *p, **s;

	if (r->npeers >= r->cfg->udp_max_peers ||
	    r->room.n - (r->con != NULL) >= r->cfg->max_members)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->m.up = p;
	sk_chat_in_init(&p->m.in);
	p->u = u;
	memcpy(&p->addr, from, sk_sockaddr_len(from));
	uv_random(NULL, NULL, &p->cookie, sizeof(p->cookie), 0, NULL);
	p->proven = r->cfg->udp_trust_loopback && sk_sockaddr_is_loopback(from);
	s = sk__aslot(r, from);
	p->anext = *s;
	*s = p;
	r->npeers++;
	if (!r->expire_on) {
		r->expire_on = 1;
		uv_timer_start(&r->expire, sk__expire, 1000, 1000);
	}
	sk__guest(r, &p->m);
	sk__join(r, &p->m);
	return p;
}

/* ---- what members say ---- */

static void sk__help(struct sk__room *r, struct sk__member *m)
{
	static const char *const lines[] = {
		"commands: /nick NAME, /who, /me ACTION, /quit [REASON], /help",
		("a line starting with / is a command; // says a line "
		 "starting with /"),
		"lines from the server start with ***",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		sk__tell(r, m, "%s", lines[i]);
}

/* The members' nicks, as many as fit one line. */
static void sk__who(struct sk__room *r, struct sk__member *m)
{
	char text[SK_CHAT_LINE_MAX];
	unsigned shown = 0;
	size_t k;
	int n;

	n = snprintf(text, sizeof(text), "%u here:", r->room.n);
	k = n > 0 ? (size_t)n : 0;
	for (struct sk__member *p = r->room.head; p != NULL; p = p->next) {
		/* Room left for this nick and for "and N more". */
		if (k + 1 + p->nicklen + 32 >= sizeof(text))
			break;
		text[k++] = ' ';
		memcpy(text + k, p->nick, p->nicklen);
		k += p->nicklen;
		shown++;
	}
	if (shown < r->room.n)
		k += (size_t)snprintf(text + k, sizeof(text) - k,
				      " and %u more", r->room.n - shown);
	text[k] = '\0';
	sk__tell(r, m, "%s", text);
}

static void sk__nick(struct sk__room *r, struct sk__member *m,
		     const struct sk_chat_cmd *cmd)
{
	char old[SK_CHAT_NICK_MAX + 1];
	struct sk__member *other;

	if (!sk_chat_nick_valid(cmd->arg, cmd->arglen)) {
		sk__tell(r, m, "error: '%.*s' is not a nick: 1 to %d letters, "
			 "digits, '-', '_' or '.', starting with a letter",
			 (int)(cmd->arglen < 64 ? cmd->arglen : 64), cmd->arg,
			 SK_CHAT_NICK_MAX);
		return;
	}
	other = sk__nick_find(r, cmd->arg, cmd->arglen);
	if (other == m && cmd->arglen == m->nicklen &&
	    memcmp(cmd->arg, m->nick, m->nicklen) == 0)
		return; /* the same nick, the same case */
	if (other != NULL && other != m) {
		sk__tell(r, m, "error: the nick %.*s is taken",
			 (int)cmd->arglen, cmd->arg);
		return;
	}
	memcpy(old, m->nick, (size_t)m->nicklen + 1);
	sk__nick_del(r, m);
	sk__nick_set(m, cmd->arg, cmd->arglen);
	sk__nick_add(r, m);
	sk__announce(r, m, "%s is now %s", old, m->nick);
	sk__tell(r, m, "you are now %s", m->nick);
}

/* /ack COOKIE: a UDP peer proves its address. */
static void sk__ack(struct sk__room *r, struct sk__member *m,
		    const struct sk_chat_cmd *cmd)
{
	char hex[17];

	if (m->up == NULL) {
		sk__tell(r, m, "error: /ack is for UDP peers");
		return;
	}
	if (m->up->proven)
		return;
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)m->up->cookie);
	if (!m->up->cookied || cmd->arglen != 16 ||
	    strncasecmp(cmd->arg, hex, 16) != 0) {
		sk__tell(r, m, "error: wrong cookie (send /hello for one)");
		return;
	}
	m->up->proven = 1;
	sk__tell(r, m, "your address is proven: every line comes to you now");
}

/* One line from m. Returns 1 when m has left (/quit). */
static int sk__line(struct sk__room *r, struct sk__member *m,
		    const char *line, size_t len)
{
	struct sk_chat_cmd cmd;
	char out[SK_CHAT_OUT_MAX];
	uint64_t now;

	sk_chat_parse(line, len, &cmd);
	if (cmd.kind == SK_CHAT_EMPTY)
		return 0;
	switch (cmd.kind) {
	case SK_CHAT_SAY:
	case SK_CHAT_ME:
		now = uv_hrtime();
		if (m != &r->console &&
		    !sk_bucket_take(&m->flood, &r->flood, now)) {
			r->dropped_flood++;
			if (now - m->told_flood >= 1000000000ull) {
				m->told_flood = now;
				sk__tell(r, m, "slow down: lines over %u a "
					 "second are dropped; this one was",
					 r->flood.rate);
			}
			return 0;
		}
		r->lines++;
		sk__broadcast(r, m, out,
			      sk_chat_format(out, cmd.kind == SK_CHAT_SAY
							  ? SK_CHAT_OUT_SAY
							  : SK_CHAT_OUT_ME,
					     m->nick, m->nicklen, cmd.arg,
					     cmd.arglen));
		return 0;
	case SK_CHAT_NICK:
		sk__nick(r, m, &cmd);
		return 0;
	case SK_CHAT_WHO:
		sk__who(r, m);
		return 0;
	case SK_CHAT_HELP:
		sk__help(r, m);
		return 0;
	case SK_CHAT_QUIT:
		if (m == &r->console) {
			sk__tell(r, m, "the console stays in the room; stop "
				 "the daemon to end it");
			return 0;
		}
		sk__tell(r, m, "bye");
		{
			char why[SK_CHAT_CLEAN_MAX(200) + 1];
			size_t n = sk_chat_clean(cmd.arg, cmd.arglen < 200
						 ? cmd.arglen : 200, why);

			why[n] = '\0';
			if (m->up != NULL) {
				sk__peer_drop(r, m->up, why);
				return 1;
			}
			sk__leave(r, m, why);
		}
		sk_conn_end(m->c);
		return 1;
	case SK_CHAT_HELLO:
		if (m->up == NULL)
			sk__tell(r, m, "hello %s: nothing to prove here", m->nick);
		else if (m->up->proven)
			sk__tell(r, m, "hello %s: your address is proven", m->nick);
		else {
			m->up->cookied = 1;
			sk__tell(r, m, "cookie %016llx: send /ack %016llx to be "
				 "sent every line",
				 (unsigned long long)m->up->cookie,
				 (unsigned long long)m->up->cookie);
		}
		return 0;
	case SK_CHAT_ACK:
		sk__ack(r, m, &cmd);
		return 0;
	case SK_CHAT_BADARG:
		sk__tell(r, m, "error: /%.*s needs %s", (int)cmd.arglen,
			 cmd.arg, cmd.arglen == 4 ? "a NAME" : "an ACTION");
		return 0;
	case SK_CHAT_UNKNOWN:
	default:
		sk__tell(r, m, "error: unknown command /%.*s (try /help)",
			 (int)cmd.arglen, cmd.arg);
		return 0;
	}
}

/* ---- partial lines ---- */

static void sk__scan(uv_timer_t *t)
{
	struct sk__room *r = t->data;
	uint64_t now = sk__now_ms(r);

	for (struct sk__member *m = r->partial, *next; m != NULL; m = next) {
		next = m->pnext;
		if (now - m->partial_at < SK_CHAT_PARTIAL_MS)
			continue;
		sk__partial_del(r, m);
		m->flush = 1;
		sk_conn_kick(m->c);
	}
	if (r->partial == NULL) {
		uv_timer_stop(&r->timer);
		r->timer_on = 0;
	}
}

static void sk__partial_add(struct sk__room *r, struct sk__member *m)
{
	if (m->onpartial)
		return;
	m->onpartial = 1;
	m->partial_at = sk__now_ms(r);
	m->pprev = NULL;
	m->pnext = r->partial;
	if (r->partial != NULL)
		r->partial->pprev = m;
	r->partial = m;
	if (!r->timer_on) {
		r->timer_on = 1;
		uv_timer_start(&r->timer, sk__scan, SK_CHAT_PARTIAL_MS / 2,
			       SK_CHAT_PARTIAL_MS / 2);
	}
}

/* ---- connections ---- */

static void sk__chat_accept(struct sk_conn *c)
{
	struct sk__room *r = SK__ROOM(sk_conn_svc(c));
	struct sk__member *m = sk_conn_data(c);

	m->c = c;
	sk_chat_in_init(&m->in);
	if (r->room.n - (r->con != NULL) < r->cfg->max_members &&
	    r->held.head == NULL) {
		sk__guest(r, m);
		sk__join(r, m);
		return;
	}
	if (r->held.n >= r->cfg->max_held) {
		char out[SK_CHAT_OUT_MAX];
		static const char full[] = "the room is full and so is its "
					   "queue; try again later";

		(void)sk_conn_write(c, out, sk_chat_format(out,
							   SK_CHAT_OUT_NOTICE,
							   NULL, 0, full,
							   sizeof(full) - 1));
		sk_conn_end(c);
		return;
	}
	sk__guest(r, m);
	m->state = SK__HELD;
	sk__list_add(&r->held, m);
	sk_conn_hold(c, 1);
	sk__tell(r, m, "the room is full: you are on hold, place %u in the "
		 "queue", r->held.n);
}

static size_t sk__chat_read(struct sk_conn *c, const char *buf, size_t len)
{
	struct sk__room *r = SK__ROOM(sk_conn_svc(c));
	struct sk__member *m = sk_conn_data(c);
	size_t used = 0;
	int lines = 0;

	if (m->state != SK__JOINED)
		return len;
	while (used < len && lines < SK_CHAT_LINES_PER_TURN &&
	       !sk_conn_paused(c)) {
		const char *line;
		size_t n, ll;
		int rc = sk_chat_in_next(&m->in, buf + used, len - used,
					 m->flush, &n, &line, &ll);

		used += n;
		if (rc == SK_CHAT_PARTIAL)
			break;
		lines++;
		sk_conn_progress(c);
		if (rc == SK_CHAT_TOOLONG) {
			sk__tell(r, m, "error: a line over %d bytes was not "
				 "sent", SK_CHAT_LINE_MAX);
			continue;
		}
		if (sk__line(r, m, line, ll))
			return len;
	}
	m->flush = 0;
	if (used < len)
		sk__partial_add(r, m);
	else
		sk__partial_del(r, m);
	return used;
}

static void sk__chat_close(struct sk_conn *c, enum sk_close_reason why)
{
	struct sk__room *r = SK__ROOM(sk_conn_svc(c));
	struct sk__member *m = sk_conn_data(c);
	const char *text = NULL;

	switch (why) {
	case SK_CLOSE_RESET: text = "connection lost"; break;
	case SK_CLOSE_IDLE: text = "idle for too long"; break;
	case SK_CLOSE_DEADLINE: text = "a line took too long"; break;
	case SK_CLOSE_OVERFLOW: text = "too slow to read: disconnected"; break;
	case SK_CLOSE_NOMEM: text = "out of memory"; break;
	case SK_CLOSE_SHUTDOWN: r->stopping = 1; break;
	default: break;
	}
	sk__leave(r, m, text);
}

/* ---- the console ---- */

static void sk__console_line(void *arg, const char *line, size_t len)
{
	struct sk__room *r = arg;

	if (line == NULL) {
		/* Its stdin ended: the operator hung up. */
		sk_console_close(r->con);
		r->con = NULL;
		sk__leave(r, &r->console, NULL);
		sk_log_info("chat: the console's input ended; it left the "
			    "room");
		return;
	}
	(void)sk__line(r, &r->console, line, len);
}

/* ---- datagrams ---- */

/*
 * One datagram: each of its lines is said by its peer (a datagram with
 * no LF is one line). A source the room keeps no state for is never
 * answered with more bytes than it sent (STYLE 11).
 */
static void sk__chat_udp(struct sk_udp *u, const struct sockaddr *from,
			 const char *in, size_t len)
{
	struct sk__room *r = SK__ROOM(sk_udp_svc(u));
	struct sk__peer *p = sk__peer_find(r, from);
	struct sk_chat_in st;
	size_t off = 0;

	if (p == NULL && (p = sk__peer_new(r, u, from)) == NULL) {
		static const char full[] = "*** the room is full\n";

		r->udp_refused++;
		if (len >= sizeof(full) - 1)
			(void)sk_udp_send(u, from, full, sizeof(full) - 1);
		return;
	}
	p->seen = sk__now_ms(r);
	p->credit = p->credit + SK_CHAT_UDP_CREDIT > SK_CHAT_UDP_CREDIT_MAX
			    ? SK_CHAT_UDP_CREDIT_MAX
			    : p->credit + SK_CHAT_UDP_CREDIT;
	p->credit_bytes = (uint32_t)len * SK_CHAT_UDP_GROWTH;
	sk_chat_in_init(&st);
	while (off < len) {
		const char *line;
		size_t n, ll;
		int rc = sk_chat_in_next(&st, in + off, len - off, 1, &n, &line,
					 &ll);

		off += n;
		if (rc == SK_CHAT_PARTIAL)
			break;
		if (rc == SK_CHAT_TOOLONG) {
			sk__tell(r, &p->m, "error: a line over %d bytes was "
				 "not sent", SK_CHAT_LINE_MAX);
			continue;
		}
		if (sk__line(r, &p->m, line, ll))
			return; /* it left, and is gone */
	}
}

/* ---- the service ---- */

/* Buckets of the nick table for cfg: a power of two, at least one per
 * member and caller that may wait. */
static uint32_t sk__nick_buckets(const struct sk__chat_cfg *cfg)
{
	uint32_t size = 1024;

	while (size < cfg->max_members + cfg->max_held)
		size <<= 1;
	return size;
}

static int sk__chat_init(struct sk_svc *s)
{
	const struct sk__chat_cfg *cfg = sk_svc_settings(s);
	struct sk__room *r = calloc(1, sizeof(*r));
	uint32_t size = sk__nick_buckets(cfg);

	if (r == NULL)
		return -ENOMEM;
	r->nicks = calloc(size, sizeof(*r->nicks));
	if (r->nicks == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->nmask = size - 1;
	uv_random(NULL, NULL, &r->nseed, sizeof(r->nseed), 0, NULL);
	r->svc = s;
	r->cfg = cfg;
	r->flood.rate = cfg->line_rate;
	r->flood.burst = cfg->line_burst;
	uv_timer_init(sk_svc_loop(s), &r->timer);
	r->timer.data = r;
	uv_timer_init(sk_svc_loop(s), &r->expire);
	r->expire.data = r;
	uv_timer_init(sk_svc_loop(s), &r->summary);
	r->summary.data = r;
	r->peers = calloc(2 * SK_CHAT_UDP_PEERS_MAX, sizeof(*r->peers));
	if (r->peers == NULL) {
		uv_close((uv_handle_t *)&r->timer, NULL);
		uv_close((uv_handle_t *)&r->expire, NULL);
		uv_close((uv_handle_t *)&r->summary, NULL);
		free(r->nicks);
		free(r);
		return -ENOMEM;
	}
	uv_random(NULL, NULL, &r->aseed, sizeof(r->aseed), 0, NULL);
	sk_svc_set_data(s, r);
	if (cfg->console) {
		size_t n = strlen(cfg->console_nick);

		r->con = sk_console_open(sk_svc_loop(s), sk__console_line, r);
		if (r->con == NULL)
			return -ENOMEM;
		sk__nick_set(&r->console, cfg->console_nick, n);
		sk__nick_add(r, &r->console);
		r->console.state = SK__JOINED;
		r->console.greeted = 1;
		sk__list_add(&r->room, &r->console);
	}
	return 0;
}

/* The room for more members and callers that a reload gives: a larger
 * nick table, filled in reloaded. */
struct sk__chat_reload {
	struct sk__member **nicks; /* the new table, or NULL: keep */
	uint32_t size;             /* its buckets */
};

/* The console is the daemon's terminal, opened at start: a reload keeps
 * it as it is, and says so. */
static int sk__chat_reload(struct sk_svc *s, void *next, void **pending,
			   char *err, size_t cap)
{
	const struct sk__chat_cfg *cur = sk_svc_settings(s);
	struct sk__chat_cfg *nc = next;
	struct sk__room *r = SK__ROOM(s);
	struct sk__chat_reload *p;
	uint32_t size = sk__nick_buckets(nc);

	if (nc->console != cur->console ||
	    strcmp(nc->console_nick, cur->console_nick) != 0) {
		sk_log_warnx("chat: console and console-nick take a restart; "
			     "keeping them");
		nc->console = cur->console;
		memcpy(nc->console_nick, cur->console_nick,
		       sizeof(nc->console_nick));
	}
	if (size <= r->nmask + 1)
		return 0;
	p = calloc(1, sizeof(*p));
	if (p != NULL)
		p->nicks = calloc(size, sizeof(*p->nicks));
	if (p == NULL || p->nicks == NULL) {
		free(p);
		snprintf(err, cap, "out of memory for %u members", nc->max_members);
		return -1;
	}
	p->size = size;
	*pending = p;
	return 0;
}

static void sk__chat_reloaded(struct sk_svc *s, void *pending, int commit)
{
	const struct sk__chat_cfg *cfg = sk_svc_settings(s);
	struct sk__room *r = SK__ROOM(s);
	struct sk__chat_reload *p = pending;

	if (commit) {
		r->flood.rate = cfg->line_rate;
		r->flood.burst = cfg->line_burst;
	}
	if (commit && p != NULL) {
		struct sk__member **old = r->nicks;
		uint32_t n = r->nmask + 1;

		r->nicks = p->nicks;
		r->nmask = p->size - 1;
		p->nicks = old;
		for (uint32_t i = 0; i < n; i++) {
			while (old[i] != NULL) {
				struct sk__member *m = old[i];

				old[i] = m->hnext;
				sk__nick_add(r, m);
			}
		}
	}
	if (p != NULL)
		free(p->nicks);
	free(p);
}

static void sk__chat_stop(struct sk_svc *s)
{
	struct sk__room *r = SK__ROOM(s);

	if (r == NULL)
		return;
	r->stopping = 1;
	uv_close((uv_handle_t *)&r->timer, NULL);
	uv_close((uv_handle_t *)&r->expire, NULL);
	uv_close((uv_handle_t *)&r->summary, NULL);
	if (r->con != NULL) {
		sk_console_close(r->con);
		r->con = NULL;
	}
}

static void sk__chat_fini(struct sk_svc *s)
{
	struct sk__room *r = SK__ROOM(s);

	if (r == NULL)
		return;
	if (r->lines > 0 || r->dropped_flood > 0)
		sk_log_info("chat: %lu lines said, %lu dropped as floods",
			    r->lines, r->dropped_flood);
	while (r->room.head != NULL) {
		struct sk__member *m = r->room.head;

		sk__list_del(&r->room, m);
		if (m->up != NULL)
			free(m->up);
	}
	free(r->peers);
	free(r->nicks);
	free(r);
}

const struct sk_service sk_chat = {
	.name = "chat",
	.transports = SK_TCP | SK_UDP,
	.port = 8081,
	.summary = "a chat room in plain lines (the tutorial's phone call)",
	.opts = sk__chat_opts,
	.settings_size = sizeof(struct sk__chat_cfg),
	.limits = &sk__chat_limits,
	.init = sk__chat_init,
	.stop = sk__chat_stop,
	.fini = sk__chat_fini,
	.reload = sk__chat_reload,
	.reloaded = sk__chat_reloaded,
	.conn_size = sizeof(struct sk__member),
	.in_size = SK_CHAT_INBUF,
	.defer_writes = 1,
	.tcp_accept = sk__chat_accept,
	.tcp_read = sk__chat_read,
	.tcp_close = sk__chat_close,
	.udp_max_in = SK_CHAT_INBUF,
	.udp_recv = sk__chat_udp,
};
