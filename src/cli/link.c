/* link.c: an exec client's connection and its send queue (link.h). */
#include "link.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../net/dtls.h"
#include "../net/sockaddr.h"
#include "../net/tls.h"
#include "../proto/rmsg.h"

/* ---- the queue ---- */

int sk_queue_init(struct sk_queue *q, size_t cap)
{
	q->buf = malloc(cap);
	q->cap = cap;
	q->head = 0;
	q->len = 0;
	return q->buf != NULL ? 0 : -ENOMEM;
}

void sk_queue_fini(struct sk_queue *q)
{
	free(q->buf);
	q->buf = NULL;
}

uint8_t *sk_queue_tail(struct sk_queue *q, size_t n)
{
	if (q->cap - q->len < n)
		return NULL;
	if (q->cap - q->head - q->len < n) {
		memmove(q->buf, q->buf + q->head, q->len);
		q->head = 0;
	}
	return q->buf + q->head + q->len;
}

size_t sk_queue_free(const struct sk_queue *q)
{
	return q->cap - q->len;
}

void sk_queue_drop(struct sk_queue *q, size_t n)
{
	q->head += n;
	q->len -= n;
	if (q->len == 0)
		q->head = 0;
}

/* ---- the connection ---- */

static int64_t sk__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sk_link_init(struct sk_link *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

int sk_link_key(const char *keys, const char *identity, struct sk_key *key,
		char *err, size_t cap)
{
	struct sk_keys *all = NULL;
	const struct sk_key *k;
	char path[4096], msg[600];
	int rc;

	if (keys != NULL)
		snprintf(path, sizeof(path), "%s", keys);
	else if (sk_keys_default_path(path, sizeof(path)) != 0) {
		snprintf(err, cap, "no key file: neither XDG_CONFIG_HOME nor "
			 "HOME is set; give -k FILE");
		return -1;
	}
	all = malloc(sizeof(*all));
	if (all == NULL) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	rc = sk_keys_load(path, all, msg, sizeof(msg));
	if (rc == -ENOENT) {
		snprintf(err, cap, "%s (make one with sockit keygen)", msg);
		goto error;
	}
	if (rc != 0) {
		snprintf(err, cap, "%s", msg);
		goto error;
	}
	k = identity == NULL ? &all->k[0]
			     : sk_keys_find(all, identity, strlen(identity));
	if (k == NULL) {
		snprintf(err, cap, "%s: no identity '%s'", path, identity);
		rc = -1;
		goto error;
	}
	*key = *k;
	rc = 0;
error:
	OPENSSL_cleanse(all, sizeof(*all));
	free(all);
	return rc != 0 ? -1 : 0;
}

/* A TLS failure: did the server answer with an alert? That is how it
 * refuses an unknown identity or a wrong key. */
static int sk__alert_received(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
}

/* Is the SSL error an end of the connection without close_notify? */
static int sk__ssl_eof(int e)
{
	unsigned long last = ERR_peek_last_error();

	if (e == SSL_ERROR_SYSCALL && last == 0 && errno == 0)
		return 1;
	return e == SSL_ERROR_SSL && ERR_GET_LIB(last) == ERR_LIB_SSL &&
	       ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* The TLS handshake, by deadline (monotonic ms). */
static int sk__handshake(struct sk_link *l, const struct sk_target *t,
			 const struct sk_key *k, int64_t deadline,
			 unsigned timeout_ms, char *err, size_t cap)
{
	char why[256];

	l->ctx = sk_tls_client_ctx(k, why, sizeof(why));
	if (l->ctx != NULL)
		l->ssl = SSL_new(l->ctx);
	if (l->ssl == NULL || !SSL_set_fd(l->ssl, l->fd)) {
		snprintf(err, cap, "cannot set up TLS");
		return -1;
	}
	SSL_set_mode(l->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(l->ssl);
	for (;;) {
		struct pollfd p = { l->fd, 0, 0 };
		int64_t left;
		int r, e;

		ERR_clear_error();
		errno = 0;
		r = SSL_do_handshake(l->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(l->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			p.events = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			p.events = POLLOUT;
		else if (sk__alert_received(ERR_peek_last_error())) {
			snprintf(err, cap, "%s: authentication failed "
				 "(identity %s)", t->name, k->id);
			return -1;
		} else if (sk__ssl_eof(e)) {
			snprintf(err, cap, "%s: the server closed the "
				 "connection during the TLS handshake", t->name);
			return -1;
		} else {
			unsigned long last = ERR_peek_last_error();

			snprintf(err, cap, "%s: TLS handshake failed: %s",
				 t->name,
				 last != 0 ? ERR_reason_error_string(last) != NULL
						     ? ERR_reason_error_string(last)
						     : "unknown reason"
					   : strerror(errno != 0 ? errno : EPROTO));
			return -1;
		}
		left = deadline - sk__now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			snprintf(err, cap, "%s: no TLS handshake within %.3g s",
				 t->name, timeout_ms / 1000.0);
			return -1;
		}
	}
}

int sk_link_open(struct sk_link *l, const struct sk_target *t,
		 const struct sk_key *k, unsigned timeout_ms, char *err,
		 size_t cap)
{
	int64_t deadline = sk__now_ms() + timeout_ms;
	int rc = sk_stream_connect(t, timeout_ms);

	if (rc < 0) {
		if (rc == -ECONNREFUSED)
			snprintf(err, cap, "%s: connection refused", t->name);
		else if (rc == -ETIMEDOUT)
			snprintf(err, cap, "%s: no connection within %.3g s",
				 t->name, timeout_ms / 1000.0);
		else if (rc == -ENOENT)
			snprintf(err, cap, "%s: no such socket", t->name);
		else
			snprintf(err, cap, "%s: %s", t->name, strerror(-rc));
		return -1;
	}
	l->fd = rc;
	/* Frames go out as they are made, not after Nagle's delay: the TLS
	 * handshake's last flight and the first frames are two small
	 * writes, and the second waited for the server's delayed ACK, 40 ms
	 * of every command run one connection each. */
	if (t->addr[0].ss_family != AF_UNIX)
		setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			   sizeof(int));
	if (k == NULL)
		return 0;
	return sk__handshake(l, t, k, deadline, timeout_ms, err, cap);
}

ssize_t sk_link_read(struct sk_link *l, void *buf, size_t cap, char *err,
		     size_t ecap)
{
	ssize_t n;

	if (l->ssl != NULL) {
		int e;

		ERR_clear_error();
		errno = 0;
		n = SSL_read(l->ssl, buf, (int)(cap < INT_MAX ? cap : INT_MAX));
		if (n > 0)
			return n;
		e = SSL_get_error(l->ssl, (int)n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_ZERO_RETURN || sk__ssl_eof(e)) {
			l->eof = 1;
			return -1;
		}
		snprintf(err, ecap, "%s",
			 e == SSL_ERROR_SYSCALL && errno != 0 ? strerror(errno)
							      : "TLS error");
		return -1;
	}
	n = recv(l->fd, buf, cap, 0);
	if (n > 0)
		return n;
	if (n == 0) {
		l->eof = 1;
		return -1;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	snprintf(err, ecap, "%s", strerror(errno));
	return -1;
}

int sk_link_pending(const struct sk_link *l)
{
	return l->ssl != NULL && SSL_has_pending(l->ssl);
}

int sk_link_flush(struct sk_link *l, struct sk_queue *q)
{
	l->write_stuck = 0;
	while (q->len > 0) {
		ssize_t n;

		if (l->ssl != NULL) {
			int e;

			ERR_clear_error();
			errno = 0;
			n = SSL_write(l->ssl, q->buf + q->head,
				      (int)(q->len < 16384 ? q->len : 16384));
			if (n <= 0) {
				e = SSL_get_error(l->ssl, (int)n);
				if (e == SSL_ERROR_WANT_WRITE)
					return 0;
				if (e == SSL_ERROR_WANT_READ) {
					l->write_stuck = 1;
					return 0;
				}
				return errno != 0 ? -errno : -EPIPE;
			}
		} else {
			n = send(l->fd, q->buf + q->head, q->len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0)
				return -errno;
		}
		sk_queue_drop(q, (size_t)n);
	}
	return 0;
}

void sk_link_close(struct sk_link *l)
{
	SSL_free(l->ssl);
	l->ssl = NULL;
	SSL_CTX_free(l->ctx);
	l->ctx = NULL;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* ---- DTLS ---- */

/* The handshake's progress: the server's hello says it is there. (Not
 * a message callback: with one set, OpenSSL 3.0's DTLS client computes
 * a Finished the server refuses.) */
static void sk__hs_info(const SSL *ssl, int where, int ret)
{
	int *heard = SSL_get_app_data(ssl);

	(void)ret;
	if ((where & SSL_CB_LOOP) && SSL_get_state(ssl) == TLS_ST_CR_SRVR_HELLO)
		*heard = 1;
}

/* What a failed DTLS handshake means, for a message. */
static void sk__dtls_error(const struct sk_target *t, int e, char *err,
			   size_t cap)
{
	unsigned long code = ERR_peek_error();
	const char *why = code != 0 ? ERR_reason_error_string(code) : NULL;

	if (e == SSL_ERROR_SYSCALL && (errno == ECONNREFUSED || code == 0))
		snprintf(err, cap, "%s: connection refused (no exec over UDP "
			 "there)", t->name);
	else if (ERR_GET_REASON(code) == SSL_R_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY)
		snprintf(err, cap, "%s: authentication failed (the server does "
			 "not know our identity)", t->name);
	else
		snprintf(err, cap, "%s: authentication failed (%s)", t->name,
			 why != NULL ? why : "DTLS error");
	ERR_clear_error();
}

static int64_t sk__ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket connected to t and a DTLS client session on it, in l. Returns
 * 0, or -1 with a message in err. */
static int sk__dtls_new(struct sk_link *l, const struct sk_target *t,
			int *heard, char *err, size_t cap)
{
	const struct sockaddr *sa = (const struct sockaddr *)&t->addr[0];
	int v6 = sa->sa_family == AF_INET6;
	BIO *b;

	l->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0 || connect(l->fd, sa, sk_sockaddr_len(sa)) != 0) {
		snprintf(err, cap, "%s: %s", t->name, strerror(errno));
		return -1;
	}
	l->ssl = SSL_new(l->ctx);
	b = sk_dtls_client_bio(l->fd, v6);
	if (l->ssl == NULL || b == NULL) {
		BIO_free(b);
		ERR_clear_error();
		snprintf(err, cap, "cannot set up DTLS");
		return -1;
	}
	SSL_set_bio(l->ssl, b, b);
	sk_dtls_set_mtu(l->ssl, v6);
	SSL_set_app_data(l->ssl, heard);
	SSL_set_info_callback(l->ssl, sk__hs_info);
	SSL_set_connect_state(l->ssl);
	return 0;
}

/* Drive l's handshake until it is done (0), fails (-1, with a message
 * in err), a signal comes (SK_LINK_SIGNAL) or until passes (1). */
static int sk__dtls_shake(struct sk_link *l, const struct sk_target *t,
			  int64_t until, int sigfd, char *err, size_t cap)
{
	BIO *b = SSL_get_wbio(l->ssl);

	for (;;) {
		struct pollfd p[2] = { { l->fd, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		struct timeval tv;
		int64_t now = sk__ms();
		int rc, e, wait;

		ERR_clear_error();
		rc = SSL_do_handshake(l->ssl);
		(void)BIO_flush(b);
		if (rc == 1)
			return 0;
		e = SSL_get_error(l->ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			sk__dtls_error(t, e, err, cap);
			return -1;
		}
		if (now >= until) {
			ERR_clear_error();
			return 1;
		}
		wait = (int)(until - now);
		if (DTLSv1_get_timeout(l->ssl, &tv) > 0 &&
		    tv.tv_sec * 1000 + tv.tv_usec / 1000 < wait)
			wait = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
		rc = poll(p, sigfd >= 0 ? 2 : 1, wait);
		if (rc > 0 && sigfd >= 0 && (p[1].revents & POLLIN))
			return SK_LINK_SIGNAL;
		if (rc == 0) {
			DTLSv1_handle_timeout(l->ssl);
			(void)BIO_flush(b);
		}
	}
}

/*
 * A server forgets a handshake that has not finished within
 * SK_DTLS_HANDSHAKE_MS_DEFAULT, and a client still resending its last
 * flight to it would never finish (lost flights at 30% loss can take
 * that long): so a handshake that has run that long starts over, from a
 * new port (a fresh session at the server, not the forgotten one's),
 * until timeout_ms.
 */
int sk_link_open_dtls(struct sk_link *l, const struct sk_target *t,
		      const struct sk_key *k, unsigned timeout_ms, int sigfd,
		      char *err, size_t cap)
{
	int64_t deadline = sk__ms() + timeout_ms, begun;
	int heard = 0, rc;

	l->ctx = sk_dtls_client_ctx(k, err, cap);
	if (l->ctx == NULL)
		return -1;
	for (;;) {
		int64_t until;

		begun = sk__ms();
		until = begun + SK_DTLS_HANDSHAKE_MS_DEFAULT;
		if (until > deadline)
			until = deadline;
		if (sk__dtls_new(l, t, &heard, err, cap) != 0)
			return -1;
		rc = sk__dtls_shake(l, t, until, sigfd, err, cap);
		SSL_set_info_callback(l->ssl, NULL);
		SSL_set_app_data(l->ssl, NULL);
		if (rc != 1 || sk__ms() >= deadline)
			break;
		SSL_free(l->ssl); /* and its BIO */
		l->ssl = NULL;
		close(l->fd);
		l->fd = -1;
	}
	if (rc == 1) {
		if (heard)
			snprintf(err, cap, "%s: authentication failed (the "
				 "server did not finish the handshake: is the "
				 "key for our identity right?)", t->name);
		else
			snprintf(err, cap, "%s: no reply from the server "
				 "within %.3g s", t->name, timeout_ms / 1000.0);
		return -1;
	}
	if (rc == 0)
		l->hs_us = (uint64_t)(sk__ms() - begun) * 1000;
	return rc;
}

uint64_t sk_link_retry_us(const struct sk_link *l)
{
	uint64_t us = 3 * l->hs_us;

	if (us < SK_LINK_RETRY_MIN_US)
		us = SK_LINK_RETRY_MIN_US;
	return us < SK_RMSG_RETRY_US ? us : SK_RMSG_RETRY_US;
}
