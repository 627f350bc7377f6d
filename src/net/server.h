/*
 * server.h: the daemon's event loop: services, listeners, connections,
 * UDP sockets, limits, timeouts and graceful shutdown.
 *
 * One sk_server runs one libuv loop; everything it owns belongs to that
 * loop's thread. Services plug in through service.h; this header is for
 * whoever assembles a daemon (src/cli/serve.c) and names no service.
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "service.h"

/* The daemon-wide settings. */
struct sk_server_config {
	unsigned log_interval;  /* seconds between drop summaries */
	unsigned max_conn;      /* TCP connections in all: the open-file
				 * limit's share */
	unsigned max_output;    /* bytes queued for all TCP peers together */
};

struct sk_server;

/* Create a server for cfg (copied). Returns NULL on allocation
 * failure. */
struct sk_server *sk_server_new(const struct sk_server_config *cfg);

/*
 * Add a service with its settings (settings_size bytes, which the server
 * takes and frees) and limits, and run its init. Returns the instance,
 * or NULL with a negative errno in *err.
 */
struct sk_svc *sk_server_add(struct sk_server *s,
			     const struct sk_service *svc, void *settings,
			     const struct sk_svc_limits *lim, int *err);

/* The instance of svc already added, or NULL. */
struct sk_svc *sk_server_svc(struct sk_server *s, const struct sk_service *svc);

/*
 * Bind one listener for svc over transport (SK_TCP or SK_UDP) on addr.
 * Prints nothing; on failure returns a negative libuv error code and the
 * caller reports it. The bound address (with the real port when port 0
 * was asked for) is written to *bound when bound is not NULL.
 */
int sk_server_listen(struct sk_server *s, struct sk_svc *svc,
		     unsigned transport, const struct sockaddr *addr,
		     struct sockaddr_storage *bound);

/* Listen for svc's stream protocol on a unix socket at path (created;
 * an existing socket file is replaced). Returns 0 or a libuv error. */
int sk_server_listen_unix(struct sk_server *s, struct sk_svc *svc,
			  const char *path);

/*
 * Serve svc over transport (SK_TCP, SK_UDP or SK_UNIX) on fd, a socket
 * bound elsewhere (handed to the daemon by systemd): a listening stream
 * socket, or a bound datagram one, whose type the caller has checked. It
 * becomes a listener like those sk_server_listen() binds, with the same
 * limits, counters and name. fd is the server's from then on, closed
 * on failure too; a unix socket's file is never removed. Returns 0 or a
 * libuv error; *bound, when not NULL, gets the socket's address.
 */
int sk_server_adopt(struct sk_server *s, struct sk_svc *svc,
		    unsigned transport, int fd, struct sockaddr_storage *bound);


/* Bytes one connection of s takes in our memory (the kernel's socket
 * buffers not counted). */
size_t sk_svc_conn_bytes(const struct sk_svc *s);

/* What a listener has done since the start, for `sockit status`. */
struct sk_listener_totals {
	const char *name;     /* "daytime/udp 127.0.0.1:10013" */
	const char *service;  /* "daytime" */
	unsigned transport;   /* SK_TCP, SK_UDP or SK_UNIX */
	uint64_t in;          /* UDP: datagrams received; TCP and unix:
			       * connections accepted */
	uint64_t requests;    /* TCP and unix: requests handled */
	uint64_t out;         /* UDP: datagrams sent */
	uint64_t closed[SK_CLOSE_SHUTDOWN + 1]; /* TCP and unix: connections
			       * closed, by enum sk_close_reason */
	uint64_t drop_rate;   /* UDP: over the rate limit */
	uint64_t drop_bad;    /* UDP: malformed, or not sendable */
	uint64_t drop_loop;   /* UDP: from a loop-prone port */
	uint64_t drop_out;    /* UDP: over the outbound budget */
	uint64_t drop_conn;   /* TCP: refused, over max_conn */
	uint64_t drop_src;    /* TCP: refused, over the per-source cap */
	uint64_t drop_mem;    /* TCP: refused, out of memory */
	uint64_t accept_err;  /* TCP: failed accepts */
	uint64_t denied;      /* batched (NTP): refused by access control */
	uint64_t kod;         /* batched: answered with KoD RATE */
	uint64_t unsent;      /* batched: replies the kernel refused */
	unsigned open;        /* TCP and unix: connections open now */
};

/* Listener i's totals (0 <= i < sk_server_listeners()); returns 0, or -1
 * past the last. Names point into s. */
int sk_server_totals(struct sk_server *s, size_t i,
		     struct sk_listener_totals *t);

/* Service i of s, or NULL past the last; and a service's table. */
struct sk_svc *sk_server_svc_at(struct sk_server *s, size_t i);
const struct sk_service *sk_svc_def(const struct sk_svc *v);

/* Milliseconds since s was made. */
uint64_t sk_server_uptime_ms(const struct sk_server *s);

/* s's loop (a uv_loop_t), and its settings. */
struct uv_loop_s *sk_server_loop(struct sk_server *s);
const struct sk_server_config *sk_server_cfg(const struct sk_server *s);

/* Most sk_server_atstop() callbacks of one server. */
#define SK_SERVER_ATSTOP_MAX 4

/* Call fn(arg) once, when shutdown begins (before services stop): the
 * place for a module on s's loop to close its handles, or to say that
 * the daemon is stopping. Callbacks run in the order given. Returns 0,
 * or -ENOBUFS past SK_SERVER_ATSTOP_MAX. */
int sk_server_atstop(struct sk_server *s, void (*fn)(void *), void *arg);

/* ---- reload ---- */

struct sk_listener;

/* Call fn(arg) on s's loop when SIGHUP arrives, unless s is stopping.
 * Without one, SIGHUP is logged and ignored (never the end of the
 * daemon). */
void sk_server_on_hup(struct sk_server *s, void (*fn)(void *), void *arg);

/* The daemon-wide settings a reload may change: log_interval and
 * max_output (max_conn follows the open-file limit, fixed at start). */
void sk_server_set_cfg(struct sk_server *s, const struct sk_server_config *cfg);

/* Listener i (0 <= i < sk_server_listeners()), or NULL past the last;
 * its name; and whether it is a socket handed over (sk_server_adopt). */
struct sk_listener *sk_server_listener_at(struct sk_server *s, size_t i);
const char *sk_server_listener_name(const struct sk_listener *l);
int sk_server_listener_handed(const struct sk_listener *l);
/* Might l hold what a bind of transport at addr (or at a unix path)
 * needs: the same transport and port, or the same path? */
int sk_server_listener_takes(const struct sk_listener *l, unsigned transport,
			     const struct sockaddr *addr, const char *path);

/* The listener sk_server_listen() bound for v over transport at asked
 * (the address it was given, port 0 included), or that
 * sk_server_listen_unix() bound at path; NULL if none. Sockets handed
 * over are never found. */
struct sk_listener *sk_server_listener_find(struct sk_server *s,
					    const struct sk_svc *v,
					    unsigned transport,
					    const struct sockaddr *asked,
					    const char *path);

/* Close listener l (its unix socket file is removed): nothing more is
 * accepted or read there; connections it accepted finish as they would
 * have. The listeners after it move down one place. */
void sk_server_unlisten(struct sk_server *s, struct sk_listener *l);

/* Reload one service, in two steps (service.h's reload and reloaded):
 * prepare with next, its new settings (NULL for a service that has
 * none), which the service may amend; returns 0, or -1 with a message in
 * err, and then nothing has changed. After every service prepared,
 * finish each that returned 0: with commit, next and lim take effect
 * (batched workers get new states); without, the prepared state is
 * freed. next stays the caller's. */
int sk_svc_reload_prepare(struct sk_svc *v, void *next, void **pending,
			  char *err, size_t cap);
void sk_svc_reload_finish(struct sk_svc *v, const void *next,
			  const struct sk_svc_limits *lim, void *pending,
			  int commit);

/* Number of listeners bound so far. */
size_t sk_server_listeners(const struct sk_server *s);

/* Stop before the loop has run (a listener failed to bind): the same
 * clean shutdown as SIGTERM, without its log line. */
void sk_server_stop(struct sk_server *s);

/* Run until SIGINT or SIGTERM, then shut down gracefully. Returns 0 when
 * every handle closed cleanly. Frees the server. It returns with SIGINT
 * and SIGTERM blocked in the calling thread, so that one arriving while
 * the process exits cannot kill it; a caller that goes on running may
 * take any pending one with sigtimedwait() and unblock them. */
int sk_server_run(struct sk_server *s);

#endif
