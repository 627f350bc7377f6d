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

/* Bytes one connection of s takes in our memory (the kernel's socket
 * buffers not counted). */
size_t sk_svc_conn_bytes(const struct sk_svc *s);

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
