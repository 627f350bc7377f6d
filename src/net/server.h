/*
 * server.h: the daemon's event loop: listeners, TCP connections, UDP
 * sockets, rate limiting, idle timeouts and graceful shutdown.
 *
 * One sk_server runs one libuv loop; everything it owns belongs to that
 * loop's thread.
 */
#ifndef SK_SERVER_H
#define SK_SERVER_H

#include <stddef.h>
#include <sys/socket.h>

#include "../svc/service.h"

struct sk_server;

/* Create a server for cfg (which must outlive it). Returns NULL on
 * allocation failure. */
struct sk_server *sk_server_new(const struct sk_config *cfg);

/*
 * Bind one listener for svc over transport (SK_TCP or SK_UDP) on addr.
 * Prints nothing; on failure returns a negative libuv error code and the
 * caller reports it. The bound address (with the real port when port 0
 * was asked for) is written to *bound when bound is not NULL.
 */
int sk_server_listen(struct sk_server *s, const struct sk_service *svc,
		     unsigned transport, const struct sockaddr *addr,
		     struct sockaddr_storage *bound);

/* Number of listeners bound so far. */
size_t sk_server_listeners(const struct sk_server *s);

/* Run until SIGINT or SIGTERM, then shut down gracefully. Returns 0 when
 * every handle closed cleanly. Frees the server. */
int sk_server_run(struct sk_server *s);

/* A connection's view, for services. sk_conn_write() copies buf; it
 * returns 0 or a negative libuv error (the connection is then closing). */
int sk_conn_write(struct sk_conn *c, const char *buf, size_t len);
/* True when the service should stop handling input for now: too much
 * output is queued, or the connection is ending. */
int sk_conn_paused(const struct sk_conn *c);
void sk_conn_end(struct sk_conn *c);
const struct sockaddr *sk_conn_peer(struct sk_conn *c);
const struct sockaddr *sk_conn_local(struct sk_conn *c);
const struct sk_config *sk_conn_config(const struct sk_conn *c);
/* Per-connection line framer, for line protocols. */
struct sk_line *sk_conn_line(struct sk_conn *c);

#endif
