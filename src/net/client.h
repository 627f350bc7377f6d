/*
 * client.h: one-shot client exchanges for the `sockit` client commands.
 *
 * These are blocking, with poll() timeouts: a client makes one exchange
 * and exits, so an event loop would add code and no concurrency.
 * Errors are negative errno values; -ETIMEDOUT means no reply.
 */
#ifndef SK_CLIENT_H
#define SK_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Where a client talks to, as the user wrote it and as resolved. */
struct sk_target {
	char name[300];                   /* "HOST:PORT" for messages */
	struct sockaddr_storage addr[8];  /* resolved addresses */
	int naddr;                        /* how many */
};

/*
 * Resolve "HOST[:PORT]" (PORT defaults to defport) for socktype, or, for
 * SOCK_STREAM, "unix:PATH", a unix stream socket. On failure returns -1
 * and writes the reason to err.
 */
int sk_target_resolve(struct sk_target *t, const char *hostport,
		      uint16_t defport, int socktype, char *err, size_t errcap);

/*
 * TCP or unix stream: connect to the target's addresses in turn, each
 * within timeout_ms. Returns a connected, non-blocking, close-on-exec
 * socket, or the last address's negative errno (-ETIMEDOUT when it did
 * not answer in time).
 */
int sk_stream_connect(const struct sk_target *t, unsigned timeout_ms);

/*
 * UDP: send req and wait for one reply from the target, trying `tries`
 * times with timeout_ms each. Each resolved address is tried in turn.
 * Returns the reply length, -ETIMEDOUT, or another negative errno.
 * When sent_ns/recv_ns are not NULL they get CLOCK_REALTIME stamps (ns)
 * of the last send and of the reply.
 */
ssize_t sk_udp_exchange(const struct sk_target *t, const void *req,
			size_t len, void *resp, size_t cap, unsigned tries,
			unsigned timeout_ms, int64_t *sent_ns, int64_t *recv_ns);

/*
 * TCP: connect, send req (may be empty), half-close when shut is set, and
 * read until EOF, cap bytes, or timeout_ms of silence. Returns the bytes
 * read or a negative errno.
 */
ssize_t sk_tcp_exchange(const struct sk_target *t, const void *req,
			size_t len, int shut, void *resp, size_t cap,
			unsigned timeout_ms, int64_t *sent_ns, int64_t *recv_ns);

/* CLOCK_REALTIME in ns. */
int64_t sk_realtime_ns(void);

#endif
