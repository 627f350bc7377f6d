/*
 * service.h: what a service module exports, and the daemon's settings.
 *
 * Each service lives in one file of src/svc and exports one const table.
 * The server (src/net/server.c) owns sockets and connections and calls a
 * service only through its table.
 */
#ifndef SK_SERVICE_H
#define SK_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../proto/acl.h"
#include "../proto/addr.h"
#include "../proto/ratelimit.h"
#include "../proto/sk_limits.h"

struct sk_conn;
struct sk_listener;
struct sk_batch_ops;

struct sk_service {
	const char *name;     /* as in /etc/services where one exists */
	unsigned transports;  /* SK_TCP, SK_UDP or both */
	uint16_t port;        /* default port */
	const char *summary;  /* one line for `sockit help serve` */

	/* TCP: a client connected. Queue output with sk_conn_write(); call
	 * sk_conn_end() to close once the output is sent. */
	void (*tcp_accept)(struct sk_conn *c);

	/* TCP: handle input; return the bytes used. Handle at most
	 * SK_CONN_LINES_PER_TURN requests per call, and stop early when
	 * sk_conn_paused(); the server calls again with the rest on a later
	 * loop turn. NULL: the service never reads (send and close). */
	size_t (*tcp_read)(struct sk_conn *c, const char *buf, size_t len);

	/* UDP: a datagram of len bytes passed the rate limit. Write the reply
	 * into out (cap bytes) and return its length, or return -1 to drop
	 * the datagram as malformed. */
	int (*udp_reply)(const struct sk_listener *l, const char *in,
			 size_t len, char *out, size_t cap);

	/* UDP: longer datagrams are malformed and dropped before the rate
	 * limit is charged (STYLE 11: length first). 0: any length. */
	size_t udp_max_in;

	/* UDP served in batches on worker threads instead (src/net/batch.h);
	 * udp_reply is then unused. */
	const struct sk_batch_ops *udp_batch;
};

/* NTP settings (chrony's names where chrony has the setting). */
struct sk_ntp_config {
	unsigned threads;       /* worker loops per address; 0: one per CPU */
	unsigned busy_poll;     /* us a worker keeps polling; 0: sleep */
	int ratelimit;          /* 1: limit each client's rate */
	int interval;           /* log2 s between replies to one client */
	unsigned burst;         /* replies a client may get back to back */
	unsigned leak;          /* 1 in 2^leak refused requests gets KoD RATE */
	unsigned local_stratum; /* when the kernel clock is unsynchronised,
				 * serve as this stratum; 0: say unsynced */
	unsigned stratum;       /* stratum when the kernel says synchronised */
	struct sk_acl allow;    /* who may ask; empty: everyone */
};

/* The daemon's settings: embedded defaults, then the config file, then
 * the command line. */
struct sk_config {
	char banner[SK_BANNER_MAX]; /* compiled welcome template */
	size_t banner_len;          /* its length */
	struct sk_rate udp_rate;    /* per-source limit for UDP services */
	struct sk_rate udp_global;  /* limit for all UDP sources together */
	unsigned log_interval;      /* seconds between drop summaries */
	unsigned max_conn;          /* concurrent TCP connections */
	unsigned idle_timeout;      /* seconds before an idle TCP peer goes */
	char user[64];              /* drop privileges to this user, or "" */
	struct sk_ntp_config ntp;   /* the ntp service */
};

/* Every service, in help order, NULL-terminated. */
extern const struct sk_service *const sk_services[];

/* The service called name, or NULL. */
const struct sk_service *sk_service_find(const char *name);

/* The listener's settings (never NULL). */
const struct sk_config *sk_listener_config(const struct sk_listener *l);

#endif
