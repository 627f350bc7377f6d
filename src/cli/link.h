/*
 * link.h: an exec client's connection, shared by `sockit exec` and
 * `sockit bench exec`: a non-blocking socket with TLS 1.3 and an external
 * PSK on it (OpenSSL on our own socket), or plaintext frames; and the
 * queue of bytes waiting to go out on it.
 *
 * The functions that can fail write a message for people into err,
 * starting with the target's name where the target is at fault (as
 * `sockit exec` prints it after "sockit: exec: ").
 */
#ifndef SK_LINK_H
#define SK_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "../net/client.h"
#include "../proto/keys.h"

/* Bytes waiting to be written to one place, in order. */
struct sk_queue {
	uint8_t *buf; /* cap bytes, malloc'd */
	size_t cap;   /* its size */
	size_t head;  /* offset of the first byte not yet written */
	size_t len;   /* bytes waiting, from head */
};

/* Allocate cap bytes. Returns 0 or -ENOMEM. */
int sk_queue_init(struct sk_queue *q, size_t cap);
void sk_queue_fini(struct sk_queue *q);
/* Room for n more bytes at the tail, moving what waits to the front
 * when needed; returns the tail, or NULL if n bytes do not fit. The
 * caller adds what it wrote there to q->len. */
uint8_t *sk_queue_tail(struct sk_queue *q, size_t n);
/* Bytes that still fit. */
size_t sk_queue_free(const struct sk_queue *q);
/* n bytes at the head went out. */
void sk_queue_drop(struct sk_queue *q, size_t n);

/* The connection: a non-blocking socket, with TLS on it or not. */
struct sk_link {
	int fd;          /* the socket, or -1 */
	SSL_CTX *ctx;    /* TLS context; NULL in plaintext */
	SSL *ssl;        /* TLS over fd; NULL in plaintext */
	int write_stuck; /* SSL_write waits for input from the server */
	int wdead;       /* writing failed: the server is gone */
	int eof;         /* the server closed its side */
	int closing;     /* we sent our FIN; the rest is discarded */
	uint64_t hs_us;  /* DTLS: how long the handshake took, in us */
};

/* No socket yet: fd -1, everything else 0. */
void sk_link_init(struct sk_link *l);

/*
 * Read the key file (keys, or the default path when NULL) and copy the
 * identity named identity (NULL: the file's first) into *key, which the
 * caller wipes with OPENSSL_cleanse() when done. Returns 0, or -1 with a
 * message in err.
 */
int sk_link_key(const char *keys, const char *identity, struct sk_key *key,
		char *err, size_t cap);

/*
 * Connect to t and, when k is not NULL, do the TLS handshake with its
 * key, all within timeout_ms. Returns 0 with l->fd (and l->ssl) set, or
 * -1 with a message in err; what was set up stays in l for
 * sk_link_close().
 */
int sk_link_open(struct sk_link *l, const struct sk_target *t,
		 const struct sk_key *k, unsigned timeout_ms, char *err,
		 size_t cap);

/*
 * Read at most cap bytes from the server. Returns the bytes read, 0 when
 * there is nothing yet, or -1: the server closed (l->eof set, err
 * untouched) or the connection failed (a message, without the target's
 * name, in err).
 */
ssize_t sk_link_read(struct sk_link *l, void *buf, size_t cap, char *err,
		     size_t ecap);

/* Has TLS decrypted bytes the socket no longer shows? */
int sk_link_pending(const struct sk_link *l);

/*
 * Send what q holds, as far as the socket takes it; sets l->write_stuck
 * when TLS must read first. Returns 0, or a negative errno when the
 * connection is gone.
 */
int sk_link_flush(struct sk_link *l, struct sk_queue *q);

/*
 * Over UDP: a connected socket to t's first address and a DTLS 1.2
 * handshake with key k (dtls.h), within timeout_ms; a byte on sigfd (a
 * signal's self-pipe, or -1) meanwhile gives up. Returns 0 with l->fd
 * and l->ssl set; SK_LINK_SIGNAL (the byte is left to read); or -1 with
 * a message in err, starting with t's name: "connection refused (no exec
 * over UDP there)", "authentication failed (...)" (also when the server
 * answered our hello but never finished: a wrong key), or "no reply from
 * the server within S s". What was set up stays in l for
 * sk_link_close().
 */
#define SK_LINK_SIGNAL (-2)
int sk_link_open_dtls(struct sk_link *l, const struct sk_target *t,
		      const struct sk_key *k, unsigned timeout_ms, int sigfd,
		      char *err, size_t cap);

/*
 * The first wait for an answer to a request over l's DTLS session: three
 * handshakes' time (two round trips and the key exchange each), at
 * least SK_LINK_RETRY_MIN_US (a timer's granularity and a busy host's
 * delays), at most SK_RMSG_RETRY_US (the layer's default, for a path it
 * knows nothing of). A lost request then costs a few round trips, not
 * 250 ms; a repeat is safe, as a request runs once.
 */
#define SK_LINK_RETRY_MIN_US 10000u
uint64_t sk_link_retry_us(const struct sk_link *l);

/* Free TLS and close the socket (no close_notify, no FIN first). */
void sk_link_close(struct sk_link *l);

#endif
