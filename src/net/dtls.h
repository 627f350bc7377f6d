/*
 * dtls.h: DTLS 1.2 with pre-shared keys over a service's UDP socket, for
 * services that keep sessions with their peers (exec over UDP).
 *
 * A service makes one sk_dtls at init from its keys, and hands it every
 * datagram its udp_recv gets. A datagram from an address without a
 * session goes through DTLSv1_listen(): a ClientHello without a valid
 * cookie gets a HelloVerifyRequest, which is smaller than the hello, and
 * nothing is kept; any other datagram is dropped. A hello with a valid
 * cookie (the client's address is proven: it received the cookie) opens
 * a session. The service hears of it only when the handshake is done and
 * the peer has proven its key, and from then on reads and writes
 * plaintext datagrams, one DTLS record each.
 *
 * The design: one socket, sessions found by the peer's address.
 * OpenSSL 3.0 has no datagram pair BIO, and the usual way around that is
 * a connected UDP socket per session, bound to the service's port with
 * SO_REUSEPORT after the cookie exchange. That costs a descriptor and a
 * poll handle per session, leaves a window in which the session's
 * datagrams still reach the listening socket (and are lost), and takes
 * the session's traffic out of the platform's counters and rate limits.
 * Here instead a BIO of our own (a few lines: read gives the one datagram
 * being handled, write sends one with sk_udp_send()) sits under each
 * session's SSL, and a hash table maps addresses to sessions. Every
 * datagram still passes the platform's length, mode and rate checks, and
 * every reply its outbound budget.
 *
 * Each session has one timer, for the handshake's retransmissions, its
 * idle timeout and the service's own wake-ups (sk_dtls_wake()).
 *
 * Only the DTLS 1.2 PSK suites with AES-GCM and ChaCha20-Poly1305 are
 * offered; a client names its identity (a key file's, as TLS exec's) and
 * an unknown one gets an alert. A wrong key for a known identity cannot
 * be told apart from a lost record: DTLS drops records that do not
 * authenticate, so that handshake never finishes and times out.
 */
#ifndef SK_DTLS_H
#define SK_DTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/types.h>

#include "../proto/keys.h"
#include "service.h"

struct sk_dtls;
struct sk_dtls_sess;
struct uv_loop_s;

/* Why a session ended. */
enum sk_dtls_why {
	SK_DTLS_DONE = 0,     /* the service ended it (sk_dtls_end) */
	SK_DTLS_PEER = 1,     /* the peer sent close_notify or an alert */
	SK_DTLS_IDLE = 2,     /* nothing came for the idle time */
	SK_DTLS_SHUTDOWN = 3, /* the daemon is stopping */
	SK_DTLS_ERROR = 4,    /* a fatal DTLS error, or out of memory */
};

/* What the service does with sessions. */
struct sk_dtls_ops {
	/* d's handshake is done: return the service's state for it, or
	 * NULL to end it at once (without a close()). */
	void *(*open)(struct sk_dtls_sess *d);
	/* One datagram of plaintext from d's peer (a record's). */
	void (*recv)(struct sk_dtls_sess *d, void *state, const uint8_t *buf,
		     size_t len);
	/* The time given to sk_dtls_wake() has come. */
	void (*wake)(struct sk_dtls_sess *d, void *state);
	/* d is ending, for why; free state. d may not be used after. */
	void (*close)(struct sk_dtls_sess *d, void *state, enum sk_dtls_why why);
};

/* Settings; a 0 takes the default. */
struct sk_dtls_cfg {
	unsigned max_sessions; /* at once; 0: SK_DTLS_SESSIONS_DEFAULT */
	unsigned idle_ms;      /* a session with no datagram for this long
				* ends; 0: SK_DTLS_IDLE_MS_DEFAULT */
	unsigned handshake_ms; /* a handshake must end within this; 0:
				* SK_DTLS_HANDSHAKE_MS_DEFAULT */
};

/* What the layer did, for logs and `status`. */
struct sk_dtls_stats {
	uint64_t cookies;     /* HelloVerifyRequests sent */
	uint64_t handshakes;  /* sessions opened (handshake done) */
	uint64_t failed;      /* handshakes that failed or timed out */
	uint64_t full;        /* hellos dropped: max_sessions reached */
	uint64_t dropped;     /* datagrams DTLS would not take */
	uint64_t sessions;    /* sessions now, handshakes included */
};

/*
 * Make a DTLS server on loop for the identities in keys (copied), with
 * ops (their ctx: sk_dtls_ctx()) and cfg (NULL: defaults). Returns 0,
 * or -ENOMEM.
 */
int sk_dtls_server_new(struct uv_loop_s *loop, const struct sk_keys *keys,
		       const struct sk_dtls_cfg *cfg,
		       const struct sk_dtls_ops *ops, void *ctx,
		       struct sk_dtls **out);

/* A reload: accept the identities in keys (copied) from now on, and take
 * cfg's session limit and idle time (0: keep). Sessions already open
 * keep theirs; a handshake that has begun is not affected. */
void sk_dtls_reconfigure(struct sk_dtls *t, const struct sk_keys *keys,
			 const struct sk_dtls_cfg *cfg);

/* The ctx given to sk_dtls_server_new() for d's server. */
void *sk_dtls_ctx(const struct sk_dtls_sess *d);

/* End every session (close() with SK_DTLS_SHUTDOWN, a close_notify to
 * each peer) and close the timers: from the service's stop. */
void sk_dtls_stop(struct sk_dtls *t);

/* Free it, after sk_dtls_stop() and the loop's end: from fini. */
void sk_dtls_free(struct sk_dtls *t);

/* Is buf[0..len) a DTLS record, by its first bytes (a content type of
 * 20-25 and the version's 0xFE)? Cheap: for a udp_check or for telling
 * DTLS from another protocol on the same port. */
int sk_dtls_is_record(const void *buf, size_t len);

/*
 * A datagram from `from` on u: take it (a session's, or one for
 * DTLSv1_listen). Returns 0, or -1 when it is not a DTLS record (by
 * sk_dtls_is_record()): the caller may take it as something else.
 */
int sk_dtls_input(struct sk_dtls *t, struct sk_udp *u,
		  const struct sockaddr *from, const void *buf, size_t len);

/* Send one datagram of plaintext (at most SK_DTLS_MAX_PLAIN bytes) to
 * d's peer, as one record. Returns 0 or a negative errno (-ENOBUFS when
 * the outbound budget or the queue is full: treat it as lost). */
int sk_dtls_send(struct sk_dtls_sess *d, const void *buf, size_t len);

/* Call ops->wake at monotonic time at_us (sk_dtls_now()), or never
 * (UINT64_MAX). Replaces the previous wake-up. */
void sk_dtls_wake(struct sk_dtls_sess *d, uint64_t at_us);

/* End d now with a close_notify; close() is called before this
 * returns. */
void sk_dtls_end(struct sk_dtls_sess *d);

/* The identity d's peer proved; its peer's address; the handshake's
 * round trip in us (its last flight), a hint for RTT estimates. */
const char *sk_dtls_identity(const struct sk_dtls_sess *d);
const struct sockaddr *sk_dtls_peer(const struct sk_dtls_sess *d);
uint64_t sk_dtls_rtt(const struct sk_dtls_sess *d);

/* The clock sessions use: monotonic microseconds. */
uint64_t sk_dtls_now(void);

/* The layer's counters. */
const struct sk_dtls_stats *sk_dtls_stats(const struct sk_dtls *t);

/*
 * A client context for DTLS 1.2 with the key k, as the server expects:
 * DTLS 1.2 only, the PSK suites above, k's identity offered. The context
 * keeps its own copy of k (wiped and freed by SSL_CTX_free()). Returns
 * it, or NULL with a message in err.
 */
SSL_CTX *sk_dtls_client_ctx(const struct sk_key *k, char *err, size_t cap);

/* Set ssl (a DTLS client or server) up for the path: SK_RMSG_PATH_MTU,
 * no MTU discovery, and the handshake's timer (SK_DTLS_TIMER_US). */
void sk_dtls_set_mtu(SSL *ssl, int v6);

/*
 * A BIO for a client's connected, non-blocking UDP socket fd (not
 * closed with the BIO): reads are one datagram each; records written
 * are gathered into one datagram until BIO_flush(), which the client
 * calls after each SSL call that may write (OpenSSL flushes at the end
 * of each handshake flight, but not after a retransmission or an
 * SSL_write). Returns it, or NULL.
 */
BIO *sk_dtls_client_bio(int fd, int v6);

#endif
