/* dtls.c: DTLS 1.2 with PSKs over a service's UDP socket (see dtls.h). */
#include "dtls.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "../proto/sk_limits.h"
#include "../proto/ratelimit.h"
#include "sockaddr.h"
#include "tls.h"

/* The PSK suites offered: AEADs with SHA-256 (see dtls.h). */
#define SK__DTLS_SUITES "PSK-AES128-GCM-SHA256:PSK-CHACHA20-POLY1305"
/* Bytes of HMAC-SHA256 a cookie keeps: guessing 128 bits is hopeless. */
#define SK__COOKIE_LEN 16

/*
 * What a BIO of ours reads from and writes to: the server's service
 * socket (u, to peer; reads give the datagram being handled), or a
 * client's connected socket (fd). Records written are gathered into one
 * datagram, up to the path's size, until a flush: a handshake flight
 * (ServerHello and ServerHelloDone, or the client's key exchange, its
 * ChangeCipherSpec and Finished) crosses as one datagram, not three, so
 * a lossy path loses it whole or not at all, and less often.
 */
struct sk__dio {
	struct sk_udp *u;              /* server: the socket replies leave by */
	int fd;                        /* client: its socket; else -1 */
	struct sockaddr_storage peer;  /* server: to whom */
	const uint8_t *in;             /* server: the datagram being handled,
					* or NULL */
	size_t inlen;                  /* its size */
	int err;                       /* the last send's error, or 0 */
	int v6;                        /* the peer is IPv6 */
	size_t outlen;                 /* bytes gathered in out */
	uint8_t out[SK_RMSG_PATH_MTU]; /* records not yet sent */
};

struct sk_dtls_sess {
	struct sk_dtls *t;                  /* the server */
	struct sk_dtls_sess *hnext;         /* the hash chain */
	struct sk_dtls_sess *next, *prev;   /* every session */
	SSL *ssl;                           /* NULL once ended */
	struct sk__dio io;                  /* its BIO's */
	uv_timer_t timer;                   /* handshake, idle, wake */
	void *state;                        /* the service's, once open */
	char identity[SK_KEY_ID_MAX + 1];   /* once open (a copy: a reload
					     * may replace the keys) */
	int open;                           /* ops->open gave a state */
	int retransmitted;                  /* the handshake resent a flight */
	uint64_t born;                      /* when the cookie was proven */
	uint64_t last_in;                   /* the last datagram's time */
	uint64_t wake_at;                   /* ops->wake then, or UINT64_MAX */
	uint64_t rtt;                       /* the handshake's, or 0 */
};

struct sk_dtls {
	uv_loop_t *loop;                    /* for timers */
	SSL_CTX *ctx;                       /* the server context */
	struct sk_keys keys;                /* the identities we accept */
	struct sk_dtls_ops ops;             /* the service's */
	void *ctxp;                         /* their argument */
	struct sk_dtls_cfg cfg;             /* settings, defaults filled */
	SSL *lssl;                          /* for DTLSv1_listen */
	struct sk__dio lio;                 /* its BIO's */
	BIO_ADDR *laddr;                    /* DTLSv1_listen's out argument */
	struct sk_dtls_sess **bucket;       /* sessions by address */
	size_t nbucket;                     /* a power of two */
	uint64_t seed;                      /* the hash's */
	struct sk_dtls_sess *all;           /* every session */
	uint8_t secret[2][32];              /* cookie keys: now, before */
	uint64_t epoch;                     /* the period of secret[0] */
	int have_prev;                      /* secret[1] is one */
	int stopped;                        /* sk_dtls_stop() ran */
	struct sk_dtls_stats stats;         /* counters */
};

static BIO_METHOD *sk__meth;   /* our datagram BIO */
static int sk__ctx_index = -1; /* SSL_CTX ex data: struct sk_dtls */

uint64_t sk_dtls_now(void)
{
	return uv_hrtime() / 1000;
}

/* ---- the BIO ---- */

/* The most a datagram carries: the path's size less IP and UDP. */
static size_t sk__dgram_max(const struct sk__dio *io)
{
	return SK_RMSG_PATH_MTU - (io->v6 ? 48 : 28);
}

/* Send one datagram. A datagram the budget or the queue refuses is
 * lost, as on the path; DTLS and the service resend what matters. */
static void sk__io_send(struct sk__dio *io, const void *buf, size_t len)
{
	if (io->u != NULL)
		io->err = sk_udp_send(io->u, (const struct sockaddr *)&io->peer,
				      buf, len);
	else if (io->fd >= 0 && send(io->fd, buf, len, 0) < 0)
		io->err = -errno;
}

/* Send what was gathered. */
static void sk__io_flush(struct sk__dio *io)
{
	if (io->outlen > 0) {
		sk__io_send(io, io->out, io->outlen);
		io->outlen = 0;
	}
}

static int sk__bio_write(BIO *b, const char *buf, int len)
{
	struct sk__dio *io = BIO_get_data(b);

	if (io == NULL || len <= 0)
		return len;
	if (io->outlen + (size_t)len > sk__dgram_max(io))
		sk__io_flush(io);
	if ((size_t)len > sk__dgram_max(io)) {
		sk__io_send(io, buf, (size_t)len);
		return len;
	}
	memcpy(io->out + io->outlen, buf, (size_t)len);
	io->outlen += (size_t)len;
	return len;
}

static int sk__bio_read(BIO *b, char *buf, int cap)
{
	struct sk__dio *io = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (io != NULL && io->u == NULL && io->fd >= 0 && cap > 0) {
		ssize_t r = recv(io->fd, buf, (size_t)cap, 0);

		if (r >= 0)
			return (int)r;
		if (errno == EAGAIN || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	if (io == NULL || io->in == NULL || cap <= 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	/* One read, one datagram; past cap it is cut, as a UDP read is. */
	n = io->inlen < (size_t)cap ? io->inlen : (size_t)cap;
	memcpy(buf, io->in, n);
	io->in = NULL;
	return (int)n;
}

static long sk__bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct sk__dio *io = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		if (io != NULL)
			sk__io_flush(io);
		return 1;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return io != NULL && io->v6 ? 48 : 28;
	default:
		return 0; /* peers, timeouts, MTU queries: not ours to do */
	}
}

static int sk__bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	BIO_set_shutdown(b, 0);
	return 1;
}

/* A client's BIO owns its state; a server's points into its session. */
static int sk__bio_destroy(BIO *b)
{
	if (BIO_get_shutdown(b))
		free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO *sk__bio_new(struct sk__dio *io)
{
	BIO *b;

	if (sk__meth == NULL) {
		int type = BIO_get_new_index();

		if (type < 0)
			return NULL;
		sk__meth = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK,
					"sockit datagram");
		if (sk__meth == NULL ||
		    !BIO_meth_set_write(sk__meth, sk__bio_write) ||
		    !BIO_meth_set_read(sk__meth, sk__bio_read) ||
		    !BIO_meth_set_ctrl(sk__meth, sk__bio_ctrl) ||
		    !BIO_meth_set_create(sk__meth, sk__bio_create) ||
		    !BIO_meth_set_destroy(sk__meth, sk__bio_destroy)) {
			BIO_meth_free(sk__meth);
			sk__meth = NULL;
			return NULL;
		}
	}
	b = BIO_new(sk__meth);
	if (b != NULL)
		BIO_set_data(b, io);
	return b;
}

/*
 * The handshake's retransmission timer: RFC 6347 starts at 1 s, for
 * paths it knows nothing of. Ours are flights of one small datagram
 * each, which cost little to resend, and a lost one at 1 s, 2 s, 4 s...
 * makes a lossy path's handshake take many seconds: start at
 * SK_DTLS_TIMER_US, as the layer's first REQUEST retry, and double up to
 * SK_DTLS_TIMER_MAX_US.
 */
static unsigned sk__timer_cb(SSL *ssl, unsigned us)
{
	(void)ssl;
	if (us == 0)
		return SK_DTLS_TIMER_US;
	return us >= SK_DTLS_TIMER_MAX_US / 2 ? SK_DTLS_TIMER_MAX_US : 2 * us;
}

void sk_dtls_set_mtu(SSL *ssl, int v6)
{
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
	/* The datagram's size, IP and UDP headers excluded. */
	SSL_set_mtu(ssl, SK_RMSG_PATH_MTU - (v6 ? 48 : 28));
	DTLS_set_timer_cb(ssl, sk__timer_cb);
}

BIO *sk_dtls_client_bio(int fd, int v6)
{
	struct sk__dio *io = calloc(1, sizeof(*io));
	BIO *b;

	if (io == NULL)
		return NULL;
	io->fd = fd;
	io->v6 = v6;
	b = sk__bio_new(io);
	if (b == NULL) {
		free(io);
		return NULL;
	}
	BIO_set_shutdown(b, 1); /* frees io */
	return b;
}

/* ---- cookies ---- */

/* Keep the cookie keys current: a new one each period, the last one
 * still good. */
static void sk__secrets(struct sk_dtls *t)
{
	uint64_t epoch = uv_hrtime() / 1000000000ull / SK_DTLS_COOKIE_PERIOD_S;

	if (epoch == t->epoch)
		return;
	if (epoch == t->epoch + 1) {
		memcpy(t->secret[1], t->secret[0], sizeof(t->secret[0]));
		t->have_prev = 1;
	} else {
		t->have_prev = 0;
	}
	if (RAND_bytes(t->secret[0], sizeof(t->secret[0])) != 1)
		uv_random(NULL, NULL, t->secret[0], sizeof(t->secret[0]), 0,
			  NULL);
	t->epoch = epoch;
}

/* The cookie for the listener's current peer under key k. */
static void sk__cookie(const struct sk_dtls *t, const uint8_t *k,
		       uint8_t out[SK__COOKIE_LEN])
{
	uint8_t msg[1 + 16 + 2], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const struct sockaddr *sa = (const struct sockaddr *)&t->lio.peer;
	int v6;
	const uint8_t *a = sk_sockaddr_bytes(sa, &v6);
	uint16_t port = sk_sockaddr_port(sa);

	memset(msg, 0, sizeof(msg));
	msg[0] = (uint8_t)(v6 ? 6 : 4);
	memcpy(msg + 1, a, v6 ? 16 : 4);
	msg[17] = (uint8_t)(port >> 8);
	msg[18] = (uint8_t)port;
	HMAC(EVP_sha256(), k, 32, msg, sizeof(msg), md, &mdlen);
	memcpy(out, md, SK__COOKIE_LEN);
}

static int sk__cookie_make(SSL *ssl, unsigned char *cookie, unsigned *len)
{
	struct sk_dtls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
						sk__ctx_index);

	sk__secrets(t);
	sk__cookie(t, t->secret[0], cookie);
	*len = SK__COOKIE_LEN;
	t->stats.cookies++;
	return 1;
}

static int sk__cookie_check(SSL *ssl, const unsigned char *cookie,
			    unsigned len)
{
	struct sk_dtls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
						sk__ctx_index);
	uint8_t want[SK__COOKIE_LEN];

	if (len != SK__COOKIE_LEN)
		return 0;
	sk__secrets(t);
	sk__cookie(t, t->secret[0], want);
	if (CRYPTO_memcmp(want, cookie, SK__COOKIE_LEN) == 0)
		return 1;
	if (!t->have_prev)
		return 0;
	sk__cookie(t, t->secret[1], want);
	return CRYPTO_memcmp(want, cookie, SK__COOKIE_LEN) == 0;
}

/* ---- keys ---- */

static unsigned sk__psk_server(SSL *ssl, const char *identity,
			       unsigned char *psk, unsigned max)
{
	struct sk_dtls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
						sk__ctx_index);
	const struct sk_key *k;

	if (identity == NULL || max < SK_KEY_LEN)
		return 0;
	k = sk_keys_find(&t->keys, identity, strlen(identity));
	if (k == NULL)
		return 0; /* an unknown identity: the handshake fails */
	memcpy(psk, k->key, SK_KEY_LEN);
	return SK_KEY_LEN;
}

/* ---- sessions ---- */

static uint64_t sk__hash(const struct sk_dtls *t, const struct sk_udp *u,
			 const struct sockaddr *sa)
{
	int v6;
	const uint8_t *a = sk_sockaddr_bytes(sa, &v6);
	uint64_t h = t->seed ^ (uint64_t)(uintptr_t)u;

	for (int i = 0; i < (v6 ? 16 : 4); i++)
		h = (h ^ a[i]) * 0x100000001b3ull;
	h = (h ^ sk_sockaddr_port(sa)) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static int sk__same(const struct sockaddr *a, const struct sockaddr *b)
{
	int va, vb;
	const uint8_t *pa = sk_sockaddr_bytes(a, &va);
	const uint8_t *pb = sk_sockaddr_bytes(b, &vb);

	return va == vb && memcmp(pa, pb, va ? 16 : 4) == 0 &&
	       sk_sockaddr_port(a) == sk_sockaddr_port(b);
}

static struct sk_dtls_sess **sk__slot(struct sk_dtls *t,
				      const struct sk_udp *u,
				      const struct sockaddr *sa)
{
	struct sk_dtls_sess **pp =
		&t->bucket[sk__hash(t, u, sa) & (t->nbucket - 1)];

	while (*pp != NULL &&
	       ((*pp)->io.u != u ||
		!sk__same((const struct sockaddr *)&(*pp)->io.peer, sa)))
		pp = &(*pp)->hnext;
	return pp;
}

static void sk__freed(uv_handle_t *h)
{
	free(h->data);
}

static void sk__arm(struct sk_dtls_sess *d);

/* Take d out of every list and free it (its memory once the timer has
 * closed). Calls close() for an open session, with why. */
static void sk__drop(struct sk_dtls_sess *d, enum sk_dtls_why why, int notify)
{
	struct sk_dtls *t = d->t;
	struct sk_dtls_sess **pp;

	if (d->ssl == NULL)
		return;
	pp = sk__slot(t, d->io.u, (const struct sockaddr *)&d->io.peer);
	if (*pp == d)
		*pp = d->hnext;
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		t->all = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	t->stats.sessions--;
	if (notify) {
		ERR_clear_error();
		(void)SSL_shutdown(d->ssl);
		sk__io_flush(&d->io);
	}
	ERR_clear_error();
	SSL_free(d->ssl);
	d->ssl = NULL;
	if (d->open) {
		d->open = 0;
		t->ops.close(d, d->state, why);
	} else {
		t->stats.failed++;
	}
	uv_close((uv_handle_t *)&d->timer, sk__freed);
}

static void sk__timer(uv_timer_t *h)
{
	struct sk_dtls_sess *d = h->data;
	struct sk_dtls *t = d->t;
	uint64_t now = sk_dtls_now();

	if (d->ssl == NULL)
		return;
	if (!d->open) {
		if (now >= d->born + (uint64_t)t->cfg.handshake_ms * 1000) {
			sk__drop(d, SK_DTLS_ERROR, 0);
			return;
		}
		if (DTLSv1_handle_timeout(d->ssl) > 0)
			d->retransmitted = 1;
		ERR_clear_error();
		sk__io_flush(&d->io);
	} else if (now >= d->last_in + (uint64_t)t->cfg.idle_ms * 1000) {
		sk__drop(d, SK_DTLS_IDLE, 1);
		return;
	} else if (now >= d->wake_at) {
		d->wake_at = UINT64_MAX;
		t->ops.wake(d, d->state);
		if (d->ssl == NULL)
			return;
	}
	sk__arm(d);
}

/* Set d's timer for the first thing due. */
static void sk__arm(struct sk_dtls_sess *d)
{
	const struct sk_dtls *t = d->t;
	uint64_t now = sk_dtls_now(), due;

	if (!d->open) {
		struct timeval tv;

		due = d->born + (uint64_t)t->cfg.handshake_ms * 1000;
		if (DTLSv1_get_timeout(d->ssl, &tv) > 0) {
			uint64_t at = now + (uint64_t)tv.tv_sec * 1000000 +
				      (uint64_t)tv.tv_usec;

			if (at < due)
				due = at;
		}
	} else {
		due = d->last_in + (uint64_t)t->cfg.idle_ms * 1000;
		if (d->wake_at < due)
			due = d->wake_at;
	}
	/* libuv's timers count whole ms: round up, so nothing fires early. */
	uv_timer_start(&d->timer, sk__timer,
		       due > now ? (due - now + 999) / 1000 : 0, 0);
}

void sk_dtls_wake(struct sk_dtls_sess *d, uint64_t at_us)
{
	if (d->ssl == NULL || at_us == d->wake_at)
		return;
	d->wake_at = at_us;
	sk__arm(d);
}

/* The handshake may have moved on: finish it, or fail. Returns 0 while
 * d lives, -1 once it was dropped. */
static int sk__handshake(struct sk_dtls_sess *d, uint64_t now)
{
	struct sk_dtls *t = d->t;
	const struct sk_key *k;
	const char *id;
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(d->ssl);
	sk__io_flush(&d->io);
	if (rc != 1) {
		int e = SSL_get_error(d->ssl, rc);

		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		sk__drop(d, SK_DTLS_ERROR, 0);
		return -1;
	}
	id = SSL_get_psk_identity(d->ssl);
	k = id != NULL ? sk_keys_find(&t->keys, id, strlen(id)) : NULL;
	if (k == NULL) {
		sk__drop(d, SK_DTLS_ERROR, 1);
		return -1;
	}
	memcpy(d->identity, k->id, sizeof(d->identity));
	d->rtt = d->retransmitted ? 0 : now - d->born;
	d->open = 1;
	d->state = t->ops.open(d);
	if (d->state == NULL) {
		d->open = 0;
		sk__drop(d, SK_DTLS_DONE, 1);
		t->stats.failed--; /* refused by the service, not failed */
		return -1;
	}
	t->stats.handshakes++;
	return 0;
}

/* A datagram for d. */
static void sk__sess_input(struct sk_dtls_sess *d, const void *buf,
			   size_t len, uint64_t now)
{
	static uint8_t plain[SK_UDP_BUF];
	struct sk_dtls *t = d->t;

	d->io.in = buf;
	d->io.inlen = len;
	d->last_in = now;
	if (!d->open && sk__handshake(d, now) != 0)
		return;
	/* Every record the datagram holds; the first read takes it. */
	while (d->open) {
		int n, e;

		ERR_clear_error();
		n = SSL_read(d->ssl, plain, sizeof(plain));
		sk__io_flush(&d->io); /* a resent flight, for one */
		if (n > 0) {
			t->ops.recv(d, d->state, plain, (size_t)n);
			if (d->ssl == NULL)
				return;
			continue;
		}
		e = SSL_get_error(d->ssl, n);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		sk__drop(d, e == SSL_ERROR_ZERO_RETURN ? SK_DTLS_PEER
						       : SK_DTLS_ERROR,
			 0);
		return;
	}
	if (d->ssl != NULL) {
		d->io.in = NULL;
		sk__arm(d);
	}
}

/* A fresh SSL for DTLSv1_listen, on the listener's BIO. */
static SSL *sk__listener(struct sk_dtls *t)
{
	SSL *ssl = SSL_new(t->ctx);
	BIO *b;

	if (ssl == NULL)
		return NULL;
	b = sk__bio_new(&t->lio);
	if (b == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_bio(ssl, b, b);
	SSL_set_accept_state(ssl);
	return ssl;
}

/* Sessions (handshakes included) from sa's source: its IPv4 address or
 * IPv6 /64, as the rate limiter counts sources. */
static unsigned sk__from_source(const struct sk_dtls *t,
				const struct sockaddr *sa)
{
	struct sk_rl_key a, b;
	unsigned n = 0;
	int v6;
	const uint8_t *p = sk_sockaddr_bytes(sa, &v6);

	sk_rl_key_make(&a, p, v6);
	for (const struct sk_dtls_sess *d = t->all; d != NULL; d = d->next) {
		p = sk_sockaddr_bytes((const struct sockaddr *)&d->io.peer, &v6);
		sk_rl_key_make(&b, p, v6);
		n += memcmp(&a, &b, sizeof(a)) == 0;
	}
	return n;
}

/* A datagram from an address with no session: the cookie exchange. */
static void sk__listen(struct sk_dtls *t, struct sk_udp *u,
		       const struct sockaddr *from, const void *buf,
		       size_t len, uint64_t now)
{
	struct sk_dtls_sess *d;
	int rc;

	if (t->lssl == NULL && (t->lssl = sk__listener(t)) == NULL)
		return;
	t->lio.u = u;
	memset(&t->lio.peer, 0, sizeof(t->lio.peer));
	memcpy(&t->lio.peer, from, sk_sockaddr_len(from));
	t->lio.v6 = from->sa_family == AF_INET6;
	t->lio.in = buf;
	t->lio.inlen = len;
	sk_dtls_set_mtu(t->lssl, t->lio.v6);
	ERR_clear_error();
	rc = DTLSv1_listen(t->lssl, t->laddr);
	ERR_clear_error();
	sk__io_flush(&t->lio);
	t->lio.in = NULL;
	if (rc <= 0) {
		if (rc < 0)
			t->stats.dropped++;
		return; /* a HelloVerifyRequest went out, or nothing */
	}
	/* The address is proven. An old session of the same address goes;
	 * the listener's SSL holds the hello: it becomes the session's, on
	 * a BIO of the session's own. */
	if ((d = *sk__slot(t, u, from)) != NULL)
		sk__drop(d, SK_DTLS_PEER, 0);
	/* One source (with many ports) may not fill the table. */
	if (t->stats.sessions >= t->cfg.max_sessions ||
	    sk__from_source(t, from) >= SK_DTLS_PER_SOURCE ||
	    (d = calloc(1, sizeof(*d))) == NULL) {
		t->stats.full++;
		SSL_free(t->lssl);
		t->lssl = NULL;
		return;
	}
	d->t = t;
	d->ssl = t->lssl;
	t->lssl = NULL;
	d->io = t->lio;
	{
		BIO *b = sk__bio_new(&d->io);

		if (b == NULL) {
			SSL_free(d->ssl);
			free(d);
			return;
		}
		SSL_set_bio(d->ssl, b, b);
	}
	d->born = now;
	d->last_in = now;
	d->wake_at = UINT64_MAX;
	uv_timer_init(t->loop, &d->timer);
	d->timer.data = d;
	d->next = t->all;
	if (t->all != NULL)
		t->all->prev = d;
	t->all = d;
	*sk__slot(t, u, from) = d;
	t->stats.sessions++;
	/* The hello is buffered in the SSL: answer it now. */
	d->io.in = NULL;
	if (sk__handshake(d, now) == 0)
		sk__arm(d);
}

/* Is buf a ClientHello in epoch 0 (a new handshake)? */
static int sk__client_hello(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len > 13 && p[0] == 22 && p[3] == 0 && p[4] == 0 && p[13] == 1;
}

int sk_dtls_is_record(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* change_cipher_spec, alert, handshake, application_data,
	 * heartbeat, tls12_cid; then DTLS's major version, 0xFE. */
	return len >= 13 && p[0] >= 20 && p[0] <= 25 && p[1] == 0xfe;
}

int sk_dtls_input(struct sk_dtls *t, struct sk_udp *u,
		  const struct sockaddr *from, const void *buf, size_t len)
{
	struct sk_dtls_sess *d;
	uint64_t now;

	if (!sk_dtls_is_record(buf, len))
		return -1;
	if (t->stopped)
		return 0;
	now = sk_dtls_now();
	d = *sk__slot(t, u, from);
	/* A ClientHello where a session is open: the client started again
	 * from the same address and port (RFC 6347, 4.2.8). It goes through
	 * the cookie exchange like any other; a proven one replaces the
	 * session, so a restarted client does not wait for the idle
	 * timeout. */
	if (d != NULL && !(d->open && sk__client_hello(buf, len)))
		sk__sess_input(d, buf, len, now);
	else
		sk__listen(t, u, from, buf, len, now);
	return 0;
}

int sk_dtls_send(struct sk_dtls_sess *d, const void *buf, size_t len)
{
	int n;

	if (d->ssl == NULL || !d->open)
		return -EPIPE;
	if (len == 0 || len > SK_DTLS_MAX_PLAIN)
		return -EMSGSIZE;
	d->io.err = 0;
	ERR_clear_error();
	n = SSL_write(d->ssl, buf, (int)len);
	ERR_clear_error();
	sk__io_flush(&d->io);
	if (n <= 0)
		return -EIO;
	return d->io.err;
}

void sk_dtls_end(struct sk_dtls_sess *d)
{
	sk__drop(d, SK_DTLS_DONE, 1);
}

void *sk_dtls_ctx(const struct sk_dtls_sess *d)
{
	return d->t->ctxp;
}

const char *sk_dtls_identity(const struct sk_dtls_sess *d)
{
	return d->identity[0] != '\0' ? d->identity : NULL;
}

void sk_dtls_reconfigure(struct sk_dtls *t, const struct sk_keys *keys,
			 const struct sk_dtls_cfg *cfg)
{
	OPENSSL_cleanse(&t->keys, sizeof(t->keys));
	t->keys = *keys;
	/* The hash table keeps its size: more sessions only make its
	 * chains longer. */
	if (cfg->max_sessions != 0)
		t->cfg.max_sessions = cfg->max_sessions;
	if (cfg->idle_ms != 0)
		t->cfg.idle_ms = cfg->idle_ms;
}

const struct sockaddr *sk_dtls_peer(const struct sk_dtls_sess *d)
{
	return (const struct sockaddr *)&d->io.peer;
}

uint64_t sk_dtls_rtt(const struct sk_dtls_sess *d)
{
	return d->rtt;
}

const struct sk_dtls_stats *sk_dtls_stats(const struct sk_dtls *t)
{
	return &t->stats;
}

/* ---- the server ---- */

int sk_dtls_server_new(struct uv_loop_s *loop, const struct sk_keys *keys,
		       const struct sk_dtls_cfg *cfg,
		       const struct sk_dtls_ops *ops, void *ctx,
		       struct sk_dtls **out)
{
	struct sk_dtls *t;

	*out = NULL;
	if (sk__ctx_index < 0) {
		sk__ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
							 NULL);
		if (sk__ctx_index < 0)
			return -ENOMEM;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->loop = loop;
	t->keys = *keys;
	t->ops = *ops;
	t->ctxp = ctx;
	if (cfg != NULL)
		t->cfg = *cfg;
	if (t->cfg.max_sessions == 0)
		t->cfg.max_sessions = SK_DTLS_SESSIONS_DEFAULT;
	if (t->cfg.idle_ms == 0)
		t->cfg.idle_ms = SK_DTLS_IDLE_MS_DEFAULT;
	if (t->cfg.handshake_ms == 0)
		t->cfg.handshake_ms = SK_DTLS_HANDSHAKE_MS_DEFAULT;
	t->nbucket = 64;
	while (t->nbucket < 2 * (size_t)t->cfg.max_sessions)
		t->nbucket *= 2;
	t->bucket = calloc(t->nbucket, sizeof(*t->bucket));
	t->laddr = BIO_ADDR_new();
	t->epoch = UINT64_MAX;
	t->lio.fd = -1;
	uv_random(NULL, NULL, &t->seed, sizeof(t->seed), 0, NULL);
	t->ctx = SSL_CTX_new(DTLS_server_method());
	if (t->bucket == NULL || t->laddr == NULL || t->ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(t->ctx, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(t->ctx, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(t->ctx, SK__DTLS_SUITES) ||
	    !SSL_CTX_set_ex_data(t->ctx, sk__ctx_index, t))
		goto error;
	/* The PSK is the only way in: no tickets, no cached sessions to
	 * resume, no renegotiation. */
	/* Our order, AES-GCM first (AES-NI makes it the cheaper one where
	 * it exists), not the client's. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
					    SSL_OP_COOKIE_EXCHANGE |
					    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_psk_server_callback(t->ctx, sk__psk_server);
	SSL_CTX_set_cookie_generate_cb(t->ctx, sk__cookie_make);
	SSL_CTX_set_cookie_verify_cb(t->ctx, sk__cookie_check);
	*out = t;
	return 0;
error:
	ERR_clear_error();
	sk_dtls_free(t);
	return -ENOMEM;
}

void sk_dtls_stop(struct sk_dtls *t)
{
	t->stopped = 1;
	while (t->all != NULL)
		sk__drop(t->all, SK_DTLS_SHUTDOWN, 1);
	SSL_free(t->lssl);
	t->lssl = NULL;
}

void sk_dtls_free(struct sk_dtls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->lssl);
	SSL_CTX_free(t->ctx);
	BIO_ADDR_free(t->laddr);
	free(t->bucket);
	OPENSSL_cleanse(&t->keys, sizeof(t->keys));
	OPENSSL_cleanse(t->secret, sizeof(t->secret));
	free(t);
}

/* ---- the client side ---- */

static unsigned sk__psk_client(SSL *ssl, const char *hint, char *identity,
			       unsigned max_id, unsigned char *psk,
			       unsigned max_psk)
{
	const struct sk_key *k = sk_tls_ctx_key(SSL_get_SSL_CTX(ssl));
	size_t n;

	(void)hint;
	if (k == NULL)
		return 0;
	n = strlen(k->id);
	if (n + 1 > max_id || max_psk < SK_KEY_LEN)
		return 0;
	memcpy(identity, k->id, n + 1);
	memcpy(psk, k->key, SK_KEY_LEN);
	return SK_KEY_LEN;
}

SSL_CTX *sk_dtls_client_ctx(const struct sk_key *k, char *err, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());

	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, SK__DTLS_SUITES) ||
	    sk_tls_ctx_set_key(ctx, k) != 0) {
		ERR_clear_error();
		snprintf(err, cap, "cannot set up DTLS");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_psk_client_callback(ctx, sk__psk_client);
	return ctx;
}
