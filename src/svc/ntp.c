/*
 * ntp.c: an NTP server (RFC 5905, server mode only) on batched workers.
 *
 * Each request goes through chrony's order: length (and a well-formed
 * trailer), version and mode, access control, rate limit, reply. Control
 * (6) and private (7) modes are never answered. Replies are 48 bytes, so
 * never longer than a request.
 *
 * What the header says about our clock, refreshed once a second:
 *  - the kernel clock is synchronised (ntp_adjtime(): no STA_UNSYNC,
 *    maxerror under 16 s): leap from the kernel's state, the configured
 *    stratum (default 2), root dispersion = the kernel's maxerror, root
 *    delay 0, reference ID 127.127.0.1 (above stratum 1 a reference ID
 *    is the upstream's IPv4 address, which the kernel does not tell; an
 *    address in 127/8 is no client's, so it never trips loop detection);
 *  - else, with a local stratum configured: leap 0, that stratum, root
 *    delay and dispersion 0, reference ID 127.127.1.1 (as chrony's
 *    `local`);
 *  - else: leap 3 (unsynchronised), stratum 0, reference ID 0.
 */
#include "svc_ntp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "../net/batch.h"
#include "../net/log.h"
#include "../net/sockaddr.h"
#include "../proto/acl.h"
#include "../proto/ntp.h"
#include "../proto/ratelimit.h"

/* Worst error we still call synchronised; NTP's MAXDISP. */
#define SK__MAXERR_US 16000000L

/* The ntp service's settings (chrony's names where chrony has one). */
struct sk__ntp_cfg {
	unsigned threads;       /* worker loops per address; 0: one per CPU */
	unsigned busy_poll;     /* us a worker keeps polling; 0: sleep */
	unsigned ratelimit;     /* 1: limit each client's rate */
	int interval;           /* log2 s between replies to one client */
	unsigned burst;         /* replies a client may get back to back */
	unsigned leak;          /* 1 in 2^leak refused requests gets KoD RATE */
	unsigned local_stratum; /* when the kernel clock is unsynchronised,
				 * serve as this stratum; 0: say unsynced */
	unsigned stratum;       /* stratum when the kernel says synchronised */
	struct sk_acl allow;    /* who may ask; empty: everyone */
};

static int sk__allow_add(void *settings, const char *val, char *err,
			 size_t cap)
{
	struct sk__ntp_cfg *nc = settings;
	struct sk_cidr c;

	if (sk_cidr_parse(val, &c) != 0) {
		snprintf(err, cap, "'%s' is not ADDR or ADDR/BITS", val);
		return -1;
	}
	if (sk_acl_add(&nc->allow, &c) != 0) {
		snprintf(err, cap, "more than %d entries", SK_ACL_MAX);
		return -1;
	}
	return 0;
}

#define SK__NTP(f) offsetof(struct sk__ntp_cfg, f)

static const struct sk_opt sk__ntp_opts[] = {
	SK_OPT_NUM(SK_OPT_UINT, "threads", SK__NTP(threads), 0, 64, NULL, "N",
		   "worker loops per address (default: one per CPU)"),
	SK_OPT_NUM(SK_OPT_UINT, "busy-poll", SK__NTP(busy_poll), 0, 1000000, "0", "US",
		   "keep polling US microseconds after a request\n"
		   "instead of sleeping: lower latency, busy CPU"),
	SK_OPT_NUM(SK_OPT_UINT, "ratelimit", SK__NTP(ratelimit), 0, 1, "1", "0|1",
		   "limit each client's rate, as chrony's 'ratelimit'"),
	SK_OPT_NUM(SK_OPT_INT, "interval", SK__NTP(interval), -19, 12, "3", "L",
		   "log2 seconds between replies to a client\n"
		   "(3 = 8 s)"),
	SK_OPT_NUM(SK_OPT_UINT, "burst", SK__NTP(burst), 1, 255, "8", "N",
		   "replies a client may get back to back"),
	SK_OPT_NUM(SK_OPT_UINT, "leak", SK__NTP(leak), 1, 4, "2", "L",
		   "1 in 2^L refused requests gets a KoD RATE reply,\n"
		   "the rest are dropped"),
	SK_OPT_NUM(SK_OPT_UINT, "local-stratum", SK__NTP(local_stratum), 0, 15, "0", "N",
		   "serve as stratum N when the kernel clock is not\n"
		   "synchronised (0: say unsynchronised)"),
	SK_OPT_NUM(SK_OPT_UINT, "stratum", SK__NTP(stratum), 1, 15, "2", "N",
		   "stratum to claim when the kernel says the clock\n"
		   "is synchronised"),
	{ .name = "allow", .type = SK_OPT_FUNC, .arg = "CIDR",
	  .help = "allow only these clients (repeatable;\n"
		  "default all)",
	  .parse = sk__allow_add, .flags = SK_OPT_REPEAT },
	SK_OPT_END,
};

struct sk__ntp {
	struct sk__ntp_cfg cfg;      /* settings, this worker's copy: a
				      * reload replaces the whole state */
	struct sk_ntp_clock clk;     /* what replies say; refreshed 1/s */
	struct sk_rl rl;             /* per-client limiter, this worker's */
	uint64_t rng;                /* xorshift64 state for the leak */
};

/* log2 of the time it takes to read the clock, as NTP's precision. */
static int sk__precision(void)
{
	struct timespec a, b;
	int64_t best = 1000000000;

	for (int i = 0; i < 64; i++) {
		clock_gettime(CLOCK_REALTIME, &a);
		clock_gettime(CLOCK_REALTIME, &b);
		int64_t d = (b.tv_sec - a.tv_sec) * 1000000000 +
			    (b.tv_nsec - a.tv_nsec);
		if (d > 0 && d < best)
			best = d;
	}
	return (int)ceil(log2((double)best / 1e9));
}

static void sk__ntp_params(const void *settings, unsigned *threads,
			   unsigned *spin_us)
{
	const struct sk__ntp_cfg *nc = settings;
	unsigned n = nc->threads;

	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
		if (n > 64)
			n = 64; /* as --ntp-threads allows */
	}
	*threads = n;
	*spin_us = nc->busy_poll;
}

static void *sk__ntp_new(const void *settings)
{
	const struct sk__ntp_cfg *cfg = settings;
	struct sk__ntp *n = calloc(1, sizeof(*n));
	struct sk_rate per = { 0, 1, 0 }, all = { 0, 1, 0 };
	uint64_t seed[2];

	if (n == NULL)
		return NULL;
	n->cfg = *cfg;
	if (cfg->ratelimit) {
		/* chrony's interval is log2 seconds: -19 .. 12. */
		double iv = ldexp(1.0, cfg->interval);

		per.interval_ns = (uint64_t)(iv * 1e9);
		per.burst = cfg->burst;
	}
	if (uv_random(NULL, NULL, seed, sizeof(seed), 0, NULL) != 0) {
		seed[0] = uv_hrtime();
		seed[1] = (uint64_t)(uintptr_t)n;
	}
	sk_rl_init(&n->rl, &per, &all, seed);
	n->rng = seed[0] ^ seed[1] ^ 0x9e3779b97f4a7c15ull;
	if (n->rng == 0)
		n->rng = 1;
	n->clk.precision = sk__precision();
	return n;
}

static void sk__ntp_free(void *w)
{
	free(w);
}

static void sk__ntp_tick(void *w)
{
	struct sk__ntp *n = w;
	struct sk_ntp_clock *c = &n->clk;
	struct timespec now;
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = ntp_adjtime(&tx);
	clock_gettime(CLOCK_REALTIME, &now);
	/* ntp_adjtime() fails (-1) where a sandbox forbids it: then nothing
	 * is known, and nothing is claimed. */
	if (state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC) &&
	    tx.maxerror < SK__MAXERR_US) {
		c->leap = state == TIME_INS   ? SK_NTP_LEAP_INSERT
			  : state == TIME_DEL ? SK_NTP_LEAP_DELETE
					      : SK_NTP_LEAP_NONE;
		c->stratum = n->cfg.stratum;
		c->refid = 0x7f7f0001; /* 127.127.0.1 */
		c->root_delay = 0;
		c->root_disp = sk_ntp_short_from_ns((uint64_t)tx.maxerror * 1000);
	} else if (n->cfg.local_stratum != 0) {
		c->leap = SK_NTP_LEAP_NONE;
		c->stratum = n->cfg.local_stratum;
		c->refid = 0x7f7f0101; /* 127.127.1.1 */
		c->root_delay = 0;
		c->root_disp = 0;
	} else {
		c->leap = SK_NTP_LEAP_UNSYNC;
		c->stratum = 0;
		c->refid = 0;
		c->root_delay = 0;
		c->root_disp = 0;
		memset(&c->ref, 0, sizeof(c->ref));
		return;
	}
	/* The clock is being kept: say it was set this second. */
	c->ref = sk_ntp_ts_from_ns((int64_t)now.tv_sec * 1000000000);
}

static uint64_t sk__rand(struct sk__ntp *n)
{
	uint64_t x = n->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return n->rng = x;
}

static void sk__ntp_handle(void *w, struct sk_dgram *d, size_t n,
			   struct sk_batch_stats *st)
{
	struct sk__ntp *s = w;
	const struct sk__ntp_cfg *nc = &s->cfg;
	/* The limiter runs on the monotonic clock: a step of the wall clock
	 * must not lock clients out or let them burst. */
	uint64_t mono = uv_hrtime();

	for (size_t i = 0; i < n; i++) {
		struct sk_ntp_pkt req;
		struct sk_rl_key key;
		const uint8_t *a;
		int mode, v6;

		/* 1. length and trailer, 2. version and mode */
		if (d[i].truncated || sk_ntp_decode(d[i].in, d[i].len, &req) ||
		    (mode = sk_ntp_check_request(&req)) < 0) {
			st->bad++;
			continue;
		}
		/* 3. access */
		a = sk_sockaddr_bytes((const struct sockaddr *)&d[i].peer, &v6);
		if (!sk_acl_allows(&nc->allow, a, v6)) {
			st->denied++;
			continue;
		}
		/* 4. rate */
		sk_rl_key_make(&key, a, v6);
		switch (sk_rl_check(&s->rl, &key, mono)) {
		case SK_RL_OK:
			break;
		case SK_RL_SOURCE:
			/* 1 in 2^leak gets told to slow down. */
			if ((sk__rand(s) & ((1u << nc->leak) - 1)) == 0) {
				d[i].outlen = sk_ntp_kod(&req, mode, "RATE",
							 d[i].out);
				st->kod++;
			} else {
				st->limited++;
			}
			continue;
		default:
			st->limited++;
			continue;
		}
		/* 5. reply */
		d[i].outlen = sk_ntp_reply(&req, mode, &s->clk,
					   sk_ntp_ts_from_ns(d[i].rx_ns),
					   d[i].out);
	}
}

static void sk__ntp_stamp(void *w, struct sk_dgram *const *r, size_t n,
			  int64_t now_ns)
{
	struct sk_ntp_ts tx = sk_ntp_ts_from_ns(now_ns);

	(void)w;
	for (size_t i = 0; i < n; i++)
		sk_ntp_stamp_tx(r[i]->out, tx);
}

/* The worker threads and their busy-polling are set up at start: a
 * reload keeps them, and says so. The rest is in each worker's state,
 * which the platform replaces (sk_batch_reload). */
static int sk__ntp_reload(struct sk_svc *s, void *next, void **pending,
			  char *err, size_t cap)
{
	const struct sk__ntp_cfg *cur = sk_svc_settings(s);
	struct sk__ntp_cfg *nc = next;

	(void)pending;
	(void)err;
	(void)cap;
	if (nc->threads != cur->threads || nc->busy_poll != cur->busy_poll) {
		sk_log_warnx("ntp: threads and busy-poll take a restart; "
			     "keeping %u and %u", cur->threads, cur->busy_poll);
		nc->threads = cur->threads;
		nc->busy_poll = cur->busy_poll;
	}
	return 0;
}

static const struct sk_batch_ops sk__ntp_ops = {
	.name = "ntp",
	.params = sk__ntp_params,
	.worker_new = sk__ntp_new,
	.worker_free = sk__ntp_free,
	.worker_tick = sk__ntp_tick,
	.handle = sk__ntp_handle,
	.stamp = sk__ntp_stamp,
};

const struct sk_service sk_ntp = {
	.name = "ntp",
	.transports = SK_UDP,
	.port = 10123,
	.summary = "NTP server (RFC 5905)",
	.opts = sk__ntp_opts,
	.settings_size = sizeof(struct sk__ntp_cfg),
	.reload = sk__ntp_reload,
	.udp_batch = &sk__ntp_ops,
};
