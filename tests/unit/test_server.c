/*
 * test_server.c: the platform (src/net/server.c) with a service of the
 * test's own, in-process, on loopback.
 *
 * The server's loop runs on the main thread, as in the daemon; each test
 * drives it from a client thread with blocking sockets and ends it with
 * SIGTERM, and the loop must then close every handle (STYLE 18).
 *
 * Covers: weak references (an id names nothing once its connection is
 * gone, even after the same memory serves a new peer); the close reason
 * on each path (peer, shutdown, output overflow, the service's own end);
 * one shared buffer fanned out to several peers, released when all have
 * it; the hard output cap closing only the peer that does not read; a
 * filter between socket and service; the spare connection when
 * allocation fails (malloc is wrapped at link time), after which the
 * listener still accepts; TLS 1.3 with a PSK as that filter, against
 * OpenSSL's own client: the right key gets through and names its
 * identity, a wrong key or an unknown identity never reaches the
 * service, and the end is a close_notify; and the client context of
 * sk_tls_client_ctx() against it: TLS 1.3 with the PSK on AES-128-GCM,
 * and an alert from the server for a wrong key or an unknown identity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server.h"
#include "tls.h"

/* ---- malloc that fails on demand ---- */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
/* Allocations of this size fail while it is not 0. */
static _Atomic size_t fail_size;

void *__wrap_malloc(size_t size)
{
	if (size != 0 && size == atomic_load(&fail_size))
		return NULL;
	return __real_malloc(size);
}

/* ---- the test service ---- */

#define MAXC 16

/* What the service saw, for the client thread to check. */
static struct {
	_Atomic uint64_t id[MAXC];      /* ids, in accept order */
	struct sk_conn *_Atomic ptr[MAXC]; /* their memory */
	_Atomic int reason[MAXC];       /* close reasons, -1 until closed */
	_Atomic int naccept;            /* accepted so far */
	_Atomic int stale_found;        /* lookups of gone ids that found one */
	_Atomic int lookups;            /* lookups of gone ids made */
	_Atomic int shared_refs;        /* refs of the fan-out buffer at close */
	_Atomic int use_filter;         /* install the XOR filter */
	_Atomic int use_tls;            /* install TLS */
	_Atomic int reads;              /* tcp_read calls */
	char identity[SK_KEY_ID_MAX + 1]; /* what TLS proved, at first read */
	_Atomic int stops;              /* stop() calls */
} seen;

/* Per-connection state. */
struct tconn {
	int idx; /* accept order */
};

static struct sk_svc *the_svc;
static struct sk_tls *the_tls;
static struct sk_buf *fan; /* the fan-out buffer */

/* A filter that XORs every byte with 0x20 both ways. */
static int x_in(struct sk_conn *c, void *st, const char *buf, size_t len)
{
	char tmp[SK_CONN_INBUF];
	size_t *pending = st;

	(void)pending;
	if (buf == NULL)
		return 0;
	for (size_t i = 0; i < len; i++)
		tmp[i] = (char)(buf[i] ^ 0x20);
	/* The test sends little; all of it fits. */
	return sk_conn_feed(c, tmp, len) == len ? 0 : -ENOBUFS;
}

static int x_out(struct sk_conn *c, void *st, const void *buf, size_t len)
{
	char tmp[256];
	const char *p = buf;

	(void)st;
	if (len > sizeof(tmp))
		return -EMSGSIZE;
	for (size_t i = 0; i < len; i++)
		tmp[i] = (char)(p[i] ^ 0x20);
	return sk_conn_write_raw(c, tmp, len);
}

static void x_free(void *st)
{
	free(st);
}

static const struct sk_filter xor_filter = {
	.input = x_in, .output = x_out, .free = x_free,
};

static void t_accept(struct sk_conn *c)
{
	struct tconn *t = sk_conn_data(c);
	int i = atomic_fetch_add(&seen.naccept, 1);

	assert_true(i < MAXC);
	t->idx = i;
	atomic_store(&seen.ptr[i], c);
	atomic_store(&seen.reason[i], -1);
	atomic_store(&seen.id[i], sk_conn_id_of(c));
	if (atomic_load(&seen.use_filter))
		assert_int_equal(sk_conn_filter(c, &xor_filter, malloc(8)), 0);
	if (atomic_load(&seen.use_tls))
		assert_int_equal(sk_tls_accept(c, the_tls), 0);
	/* Every id handed out before must find nothing now, or this one. */
	for (int k = 0; k < i; k++) {
		struct sk_conn *o = sk_conn_get(the_svc, atomic_load(&seen.id[k]));

		if (atomic_load(&seen.reason[k]) != -1) {
			atomic_fetch_add(&seen.lookups, 1);
			if (o != NULL)
				atomic_fetch_add(&seen.stale_found, 1);
		}
	}
	assert_ptr_equal(sk_conn_get(the_svc, sk_conn_id_of(c)), c);
}

/* Lines: "echo X" echoes, "fan" sends the shared buffer to everyone
 * open, "big" queues 2 MB, "end" ends. */
static size_t t_read(struct sk_conn *c, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - buf) + 1;
	if (atomic_fetch_add(&seen.reads, 1) == 0 && sk_tls_identity(c))
		snprintf(seen.identity, sizeof(seen.identity), "%s",
			 sk_tls_identity(c));
	sk_conn_progress(c);
	if (n > 5 && memcmp(buf, "echo ", 5) == 0) {
		sk_conn_write(c, buf + 5, n - 5);
	} else if (n == 4 && memcmp(buf, "fan", 3) == 0) {
		for (int k = 0; k < atomic_load(&seen.naccept); k++) {
			struct sk_conn *o =
				sk_conn_get(the_svc, atomic_load(&seen.id[k]));

			if (o != NULL)
				assert_int_equal(sk_conn_send(o, fan, 0, fan->len), 0);
		}
	} else if (n == 4 && memcmp(buf, "big", 3) == 0) {
		static char chunk[65536];
		int rc = 0;

		memset(chunk, 'b', sizeof(chunk));
		/* Far more than the cap and the kernel's buffers together. */
		for (int k = 0; k < 512 && rc == 0; k++)
			rc = sk_conn_write(c, chunk, sizeof(chunk));
		assert_int_equal(rc, -ENOBUFS);
		return len; /* c is closing */
	} else if (n == 4 && memcmp(buf, "end", 3) == 0) {
		sk_conn_write(c, "bye\n", 4);
		sk_conn_end(c);
		return len;
	}
	return n;
}

static void t_close(struct sk_conn *c, enum sk_close_reason why)
{
	struct tconn *t = sk_conn_data(c);

	atomic_store(&seen.reason[t->idx], (int)why);
	/* From now on its id finds nothing. */
	assert_null(sk_conn_get(the_svc, atomic_load(&seen.id[t->idx])));
}

static void t_stop(struct sk_svc *s)
{
	(void)s;
	atomic_fetch_add(&seen.stops, 1);
}

static const struct sk_svc_limits t_limits = {
	.max_conn = 64, .max_conn_source = 0, .idle_timeout = 0,
	.request_timeout = 0, .max_output = 256 * 1024,
	.pause_output = 64 * 1024, .rate = { 0, 1, 0 }, .global = { 0, 1, 0 },
	.out = { 0, 1, 0 },
};

static const struct sk_service t_service = {
	.name = "test",
	.transports = SK_TCP,
	.conn_size = sizeof(struct tconn),
	.limits = &t_limits,
	.stop = t_stop,
	.tcp_accept = t_accept,
	.tcp_read = t_read,
	.tcp_close = t_close,
};

/* ---- the client side ---- */

static struct sockaddr_in where;
/* The first failed check of the client thread (cmocka's asserts must
 * run on the test's own thread), 0 when none. */
static _Atomic int client_failed_line;

static void stop_server(void);

/* In the client thread: on failure, note the line, stop the server and
 * end the thread; the test's thread then fails. */
#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "client check failed: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);                 \
			atomic_store(&client_failed_line, __LINE__);       \
			stop_server();                                      \
			return NULL;                                        \
		}                                                           \
	} while (0)

/* A connected socket, or -1. */
static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 5, 0 };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&where, sizeof(where)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send all of s; 1 on success. */
static int say(int fd, const char *s)
{
	return send(fd, s, strlen(s), 0) == (ssize_t)strlen(s);
}

/* Read exactly n bytes (or fewer at EOF); returns how many. */
static size_t hear(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Wait until the service has seen connection i close. */
static int closed_reason(int i)
{
	for (int k = 0; k < 500; k++) {
		int r = atomic_load(&seen.reason[i]);

		if (atomic_load(&seen.naccept) > i && r != -1)
			return r;
		usleep(10000);
	}
	return -1;
}

/* 1 when the service has accepted n connections. */
static int wait_accepts(int n)
{
	for (int k = 0; k < 500 && atomic_load(&seen.naccept) < n; k++)
		usleep(10000);
	return atomic_load(&seen.naccept) == n;
}

/* ---- running one scenario ---- */

static void *(*scenario)(void *);

static void run(void *(*client)(void *), const struct sk_svc_limits *lim)
{
	struct sk_server_config cfg = { 10, 1000, 8 * 1024 * 1024 };
	struct sockaddr_storage bound;
	struct sk_server *s;
	pthread_t t;
	int err = 0;

	memset(&seen, 0, sizeof(seen));
	atomic_store(&client_failed_line, 0);
	for (int i = 0; i < MAXC; i++)
		atomic_store(&seen.reason[i], -1);
	fan = sk_buf_copy("to all\n", 7);
	s = sk_server_new(&cfg);
	assert_non_null(s);
	the_svc = sk_server_add(s, &t_service, NULL, lim ? lim : &t_limits,
				&err);
	assert_non_null(the_svc);
	memset(&where, 0, sizeof(where));
	where.sin_family = AF_INET;
	where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sk_server_listen(s, the_svc, SK_TCP,
					  (struct sockaddr *)&where, &bound), 0);
	where.sin_port = ((struct sockaddr_in *)&bound)->sin_port;
	scenario = client;
	assert_int_equal(pthread_create(&t, NULL, client, NULL), 0);
	/* Returns once the client thread sends SIGTERM and all is closed:
	 * 0 means no handle was left open. */
	assert_int_equal(sk_server_run(s), 0);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&client_failed_line), 0);
	/* The next scenario needs SIGTERM again (see server.h). */
	{
		sigset_t mask;
		struct timespec zero = { 0, 0 };

		sigemptyset(&mask);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
		while (sigtimedwait(&mask, NULL, &zero) > 0)
			;
		pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	}
	assert_int_equal(atomic_load(&seen.stops), 1);
	/* Every queue has let the fan-out buffer go. */
	assert_int_equal(fan->refs, 1);
	sk_buf_unref(fan);
}

static void stop_server(void)
{
	kill(getpid(), SIGTERM);
}

/* ---- scenarios ---- */

static void *c_weak_refs(void *arg)
{
	char buf[64];
	int a, b, c;

	(void)arg;
	a = dial();
	CHECK(a >= 0);
	CHECK(say(a, "echo one\n"));
	CHECK(hear(a, buf, 4) == 4);
	CHECK(memcmp(buf, "one\n", 4) == 0);
	close(a);
	CHECK(closed_reason(0) == SK_CLOSE_PEER);
	/* The same memory serves the next peer (the server recycles), and
	 * the old id must not find it. */
	b = dial();
	CHECK(b >= 0);
	CHECK(wait_accepts(2));
	CHECK(atomic_load(&seen.ptr[1]) == atomic_load(&seen.ptr[0]));
	c = dial();
	CHECK(c >= 0);
	CHECK(wait_accepts(3));
	CHECK(atomic_load(&seen.stale_found) == 0);
	CHECK(atomic_load(&seen.lookups) >= 2);
	/* "fan" reaches exactly the two open peers, from one buffer. */
	CHECK(say(b, "fan\n"));
	CHECK(hear(b, buf, 7) == 7);
	CHECK(memcmp(buf, "to all\n", 7) == 0);
	CHECK(hear(c, buf, 7) == 7);
	CHECK(memcmp(buf, "to all\n", 7) == 0);
	/* The service ends one: its bytes arrive, then EOF. */
	CHECK(say(c, "end\n"));
	CHECK(hear(c, buf, sizeof(buf)) == 4);
	CHECK(memcmp(buf, "bye\n", 4) == 0);
	CHECK(closed_reason(2) == SK_CLOSE_DONE);
	close(c);
	stop_server();
	CHECK(hear(b, buf, sizeof(buf)) == 0); /* FIN at shutdown */
	CHECK(closed_reason(1) == SK_CLOSE_SHUTDOWN);
	close(b);
	return NULL;
}

static void test_weak_refs_fanout_and_reasons(void **st)
{
	(void)st;
	run(c_weak_refs, NULL);
}

static void *c_overflow(void *arg)
{
	char buf[64];
	int hog, good;
	int small = 4096;

	(void)arg;
	hog = dial();
	CHECK(hog >= 0);
	setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	good = dial();
	CHECK(good >= 0);
	CHECK(say(hog, "big\n"));
	CHECK(closed_reason(0) == SK_CLOSE_OVERFLOW);
	/* The other peer is served all along. */
	CHECK(say(good, "echo still\n"));
	CHECK(hear(good, buf, 6) == 6);
	CHECK(memcmp(buf, "still\n", 6) == 0);
	close(hog);
	close(good);
	CHECK(closed_reason(1) == SK_CLOSE_PEER);
	stop_server();
	return NULL;
}

static void test_output_cap_closes_only_that_peer(void **st)
{
	(void)st;
	run(c_overflow, NULL);
}

static void *c_filter(void *arg)
{
	char buf[64], wire[16];
	const char *msg = "echo Hi\n";
	int fd;

	(void)arg;
	atomic_store(&seen.use_filter, 1);
	fd = dial();
	CHECK(fd >= 0);
	for (size_t i = 0; i < strlen(msg); i++)
		wire[i] = (char)(msg[i] ^ 0x20);
	CHECK(send(fd, wire, strlen(msg), 0) == (ssize_t)strlen(msg));
	CHECK(hear(fd, buf, 3) == 3);
	/* On the wire: "Hi\n" XOR 0x20. */
	CHECK(buf[0] == ('H' ^ 0x20));
	CHECK(buf[1] == ('i' ^ 0x20));
	CHECK(buf[2] == ('\n' ^ 0x20));
	close(fd);
	CHECK(closed_reason(0) == SK_CLOSE_PEER);
	stop_server();
	return NULL;
}

static void test_filter_sits_between_socket_and_service(void **st)
{
	(void)st;
	run(c_filter, NULL);
}

static void *c_spare(void *arg)
{
	char buf[16];
	int fd;

	(void)arg;
	/* No memory for a connection: the spare takes it and closes it. */
	atomic_store(&fail_size, sk_svc_conn_bytes(the_svc));
	fd = dial();
	CHECK(fd >= 0);
	CHECK(hear(fd, buf, sizeof(buf)) == 0);
	close(fd);
	atomic_store(&fail_size, 0);
	CHECK(atomic_load(&seen.naccept) == 0);
	/* Memory is back: the listener still accepts. */
	fd = dial();
	CHECK(fd >= 0);
	CHECK(say(fd, "echo ok\n"));
	CHECK(hear(fd, buf, 3) == 3);
	CHECK(memcmp(buf, "ok\n", 3) == 0);
	close(fd);
	stop_server();
	return NULL;
}

static void test_spare_connection_when_malloc_fails(void **st)
{
	(void)st;
	run(c_spare, NULL);
}

/* ---- TLS ---- */

static const uint8_t alice_key[SK_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* The client's half: what the client thread offers. */
static const char *psk_id;
static uint8_t psk_key[SK_KEY_LEN];

static int use_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id,
		   size_t *idlen, SSL_SESSION **sess)
{
	static const unsigned char suite[] = { 0x13, 0x01 };
	SSL_SESSION *s = SSL_SESSION_new();

	(void)md;
	if (s == NULL ||
	    !SSL_SESSION_set1_master_key(s, psk_key, sizeof(psk_key)) ||
	    !SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, suite)) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return 0;
	}
	*id = (const unsigned char *)psk_id;
	*idlen = strlen(psk_id);
	*sess = s;
	return 1;
}

/* A TLS client on fd offering psk_id and psk_key; NULL if the handshake
 * fails. */
static SSL *tls_dial(int fd, SSL_CTX **ctxp)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	*ctxp = ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
	SSL_CTX_set_psk_use_session_callback(ctx, use_psk);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void *c_tls(void *arg)
{
	char buf[64];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, n;

	(void)arg;
	atomic_store(&seen.use_tls, 1);
	/* The right key. */
	psk_id = "alice";
	memcpy(psk_key, alice_key, sizeof(psk_key));
	fd = dial();
	CHECK(fd >= 0);
	ssl = tls_dial(fd, &ctx);
	CHECK(ssl != NULL);
	CHECK(SSL_write(ssl, "echo secret\n", 12) == 12);
	CHECK(SSL_read(ssl, buf, sizeof(buf)) == 7);
	CHECK(memcmp(buf, "secret\n", 7) == 0);
	CHECK(strcmp(seen.identity, "alice") == 0);
	/* The service ends it: its bytes, then a close_notify. */
	CHECK(SSL_write(ssl, "end\n", 4) == 4);
	CHECK(SSL_read(ssl, buf, sizeof(buf)) == 4);
	CHECK(memcmp(buf, "bye\n", 4) == 0);
	n = SSL_read(ssl, buf, sizeof(buf));
	CHECK(n == 0 && SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	CHECK(closed_reason(0) == SK_CLOSE_DONE);
	/* A wrong key, then an unknown identity: no handshake, and the
	 * service never reads a byte. */
	psk_key[0] ^= 1;
	fd = dial();
	CHECK(fd >= 0);
	CHECK(tls_dial(fd, &ctx) == NULL);
	SSL_CTX_free(ctx);
	close(fd);
	CHECK(closed_reason(1) == SK_CLOSE_RESET);
	psk_key[0] ^= 1;
	psk_id = "mallory";
	fd = dial();
	CHECK(fd >= 0);
	CHECK(tls_dial(fd, &ctx) == NULL);
	SSL_CTX_free(ctx);
	close(fd);
	CHECK(closed_reason(2) == SK_CLOSE_RESET);
	CHECK(atomic_load(&seen.reads) == 2);
	stop_server();
	return NULL;
}

/* The server's TLS context for alice's key; text gets her key line. */
static void alice_server(char *text, size_t cap)
{
	struct sk_keys keys;
	struct sk_key k;
	size_t line;

	memset(&k, 0, sizeof(k));
	memcpy(k.id, "alice", 6);
	memcpy(k.key, alice_key, sizeof(k.key));
	assert_true(sk_key_format(&k, text, cap) > 0);
	assert_int_equal(sk_keys_parse(text, strlen(text), &keys, &line), 0);
	assert_int_equal(sk_tls_server_from(&keys, &the_tls), 0);
}

static void test_tls_psk(void **st)
{
	struct sk_keys keys;
	char text[256];

	(void)st;
	alice_server(text, sizeof(text));
	run(c_tls, NULL);
	/* Key files that others may read, or that are not regular files,
	 * are refused, with the reason. */
	{
		char path[] = "/tmp/sk_keys_XXXXXX", err[256];
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, strlen(text)),
				 (ssize_t)strlen(text));
		close(fd);
		assert_int_equal(sk_keys_load(path, &keys, err, sizeof(err)), 0);
		assert_int_equal(keys.n, 1);
		assert_int_equal(chmod(path, 0640), 0);
		assert_int_equal(sk_keys_load(path, &keys, err, sizeof(err)),
				 -EPERM);
		assert_non_null(strstr(err, ": mode 640 lets others read the "
				       "keys; use chmod 600"));
		unlink(path);
		assert_int_equal(sk_keys_load("/dev/null", &keys, err,
					      sizeof(err)), -EINVAL);
		assert_string_equal(err, "/dev/null: not a regular file");
	}
	sk_tls_free(the_tls);
	the_tls = NULL;
}

/* sk_tls_client_ctx(), the client side that `sockit exec` uses, against
 * the filter: the right key gets through as its identity; a wrong key
 * or an unknown identity fails the handshake with an alert from the
 * server, which is how the client tells "authentication failed" apart
 * from a server that just closes. */
static struct sk_key client_key;

/* A handshake from sk_tls_client_ctx(client_key) on a new connection;
 * the SSL on success, else NULL with *alert set when the server sent
 * an alert. */
static SSL *ctx_dial(int *fdp, SSL_CTX **ctxp, int *alert)
{
	char err[64];
	SSL *ssl;

	*alert = 0;
	*ctxp = sk_tls_client_ctx(&client_key, err, sizeof(err));
	*fdp = dial();
	if (*ctxp == NULL || *fdp < 0)
		return NULL;
	ssl = SSL_new(*ctxp);
	SSL_set_fd(ssl, *fdp);
	if (SSL_connect(ssl) != 1) {
		unsigned long e = ERR_peek_last_error();

		*alert = ERR_GET_LIB(e) == ERR_LIB_SSL &&
			 ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void *c_tls_client_ctx(void *arg)
{
	char buf[64];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, alert;

	(void)arg;
	atomic_store(&seen.use_tls, 1);
	memset(&client_key, 0, sizeof(client_key));
	memcpy(client_key.id, "alice", 6);
	memcpy(client_key.key, alice_key, sizeof(client_key.key));
	ssl = ctx_dial(&fd, &ctx, &alert);
	CHECK(ssl != NULL);
	CHECK(SSL_version(ssl) == TLS1_3_VERSION);
	CHECK(strcmp(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
		     "TLS_AES_128_GCM_SHA256") == 0);
	CHECK(SSL_session_reused(ssl) == 1); /* the PSK was used */
	CHECK(SSL_write(ssl, "echo psk\n", 9) == 9);
	CHECK(SSL_read(ssl, buf, sizeof(buf)) == 4);
	CHECK(memcmp(buf, "psk\n", 4) == 0);
	CHECK(strcmp(seen.identity, "alice") == 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	/* A wrong key: refused with an alert, and the service reads none. */
	client_key.key[31] ^= 0x80;
	CHECK(ctx_dial(&fd, &ctx, &alert) == NULL);
	CHECK(alert == 1);
	SSL_CTX_free(ctx);
	close(fd);
	CHECK(closed_reason(1) == SK_CLOSE_RESET);
	/* An identity the server does not know: the same. */
	client_key.key[31] ^= 0x80;
	memcpy(client_key.id, "bob", 4);
	CHECK(ctx_dial(&fd, &ctx, &alert) == NULL);
	CHECK(alert == 1);
	SSL_CTX_free(ctx);
	close(fd);
	CHECK(closed_reason(2) == SK_CLOSE_RESET);
	CHECK(atomic_load(&seen.reads) == 1);
	stop_server();
	return NULL;
}

static void test_tls_client_ctx(void **st)
{
	char text[256];

	(void)st;
	alice_server(text, sizeof(text));
	run(c_tls_client_ctx, NULL);
	sk_tls_free(the_tls);
	the_tls = NULL;
}

int main(void)
{
	cmocka_set_test_filter(getenv("TF") ? getenv("TF") : "*");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weak_refs_fanout_and_reasons),
		cmocka_unit_test(test_output_cap_closes_only_that_peer),
		cmocka_unit_test(test_filter_sits_between_socket_and_service),
		cmocka_unit_test(test_spare_connection_when_malloc_fails),
		cmocka_unit_test(test_tls_psk),
		cmocka_unit_test(test_tls_client_ctx),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
