/* tls.c: TLS 1.3 with external PSKs as a connection filter (see tls.h). */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../proto/sk_limits.h"

/* The suites an external PSK of SHA-256 can use (see tls.h). */
#define SK__TLS_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

struct sk_tls {
	SSL_CTX *ctx;        /* shared by every connection */
	struct sk_keys keys; /* the identities we accept */
};

/* One connection's TLS state. */
struct sk__tls_conn {
	SSL *ssl;                 /* the session */
	BIO *rbio;                /* records in, from the socket */
	BIO *wbio;                /* records out: the session's end of a BIO
				   * pair (owned by ssl) */
	BIO *net;                 /* its other end, which we read from in
				   * place and hand to the socket */
	char id[SK_KEY_ID_MAX + 1]; /* the identity the client proved (a
				   * copy: a reload may replace the keys) */
	int done;                 /* handshake finished */
};

static int sk__ctx_index = -1; /* SSL_CTX ex data: struct sk_tls */
static int sk__ssl_index = -1; /* SSL ex data: struct sk__tls_conn */

/* The client named an identity: hand OpenSSL a session holding its key,
 * or none, which fails the handshake. */
static int sk__find_psk(SSL *ssl, const unsigned char *id, size_t idlen,
			SSL_SESSION **sess)
{
	static const unsigned char aes128gcm_sha256[] = { 0x13, 0x01 };
	struct sk_tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
					       sk__ctx_index);
	struct sk__tls_conn *tc = SSL_get_ex_data(ssl, sk__ssl_index);
	const struct sk_key *k = sk_keys_find(&t->keys, id, idlen);
	const SSL_CIPHER *cipher;
	SSL_SESSION *s;

	*sess = NULL;
	if (k == NULL)
		return 1; /* no such identity: no PSK, no handshake */
	cipher = SSL_CIPHER_find(ssl, aes128gcm_sha256);
	s = SSL_SESSION_new();
	if (cipher == NULL || s == NULL ||
	    !SSL_SESSION_set1_master_key(s, k->key, sizeof(k->key)) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return 0;
	}
	memcpy(tc->id, k->id, sizeof(tc->id));
	*sess = s;
	return 1;
}

int sk_tls_server_from(const struct sk_keys *keys, struct sk_tls **out)
{
	struct sk_tls *t;

	*out = NULL;
	if (sk__ctx_index < 0) {
		sk__ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
							 NULL);
		sk__ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		if (sk__ctx_index < 0 || sk__ssl_index < 0)
			return -ENOMEM;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->keys = *keys;
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (t->ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(t->ctx, SK__TLS_SUITES) ||
	    !SSL_CTX_set_num_tickets(t->ctx, 0) ||
	    !SSL_CTX_set_ex_data(t->ctx, sk__ctx_index, t)) {
		sk_tls_free(t);
		return -ENOMEM;
	}
	/* Resumption tickets would be a second way in; the PSK is the only
	 * one. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_psk_find_session_callback(t->ctx, sk__find_psk);
	*out = t;
	return 0;
}

int sk_keys_load(const char *path, struct sk_keys *keys, char *err,
		 size_t cap)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0, line;
	int fd = -1, rc;

	/* O_NONBLOCK: a FIFO must not hold the open until a writer comes;
	 * it is refused below, as anything but a regular file is. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(-rc));
		goto error;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(-rc));
		goto error;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, cap, "%s: not a regular file", path);
		goto error;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		snprintf(err, cap, "%s: mode %03o lets others read the keys; "
			 "use chmod 600", path, (unsigned)(st.st_mode & 0777));
		goto error;
	}
	if (st.st_size > SK_KEY_FILE_MAX) {
		rc = -EFBIG;
		snprintf(err, cap, "%s: larger than %d bytes", path,
			 SK_KEY_FILE_MAX);
		goto error;
	}
	buf = malloc(SK_KEY_FILE_MAX + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		snprintf(err, cap, "%s: out of memory", path);
		goto error;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, SK_KEY_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, cap, "%s: %s", path, strerror(-rc));
			goto error;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SK_KEY_FILE_MAX) {
			rc = -EFBIG;
			snprintf(err, cap, "%s: larger than %d bytes", path,
				 SK_KEY_FILE_MAX);
			goto error;
		}
	}
	rc = sk_keys_parse(buf, len, keys, &line);
	if (rc != 0) {
		snprintf(err, cap, "%s:%zu: %s", path, line,
			 sk_keys_strerror(rc));
		rc = -EINVAL;
		goto error;
	}
	if (keys->n == 0) {
		rc = -EINVAL;
		snprintf(err, cap, "%s: no keys", path);
		goto error;
	}
	rc = 0;
error:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, SK_KEY_FILE_MAX + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int sk_tls_server_new(const char *keyfile, struct sk_tls **out, char *err,
		      size_t cap)
{
	struct sk_keys *keys = malloc(sizeof(*keys));
	int rc;

	*out = NULL;
	if (keys == NULL) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	rc = sk_keys_load(keyfile, keys, err, cap);
	if (rc == 0 && (rc = sk_tls_server_from(keys, out)) != 0)
		snprintf(err, cap, "cannot set up TLS");
	OPENSSL_cleanse(keys, sizeof(*keys));
	free(keys);
	return rc;
}

void sk_tls_set_keys(struct sk_tls *t, const struct sk_keys *keys)
{
	OPENSSL_cleanse(&t->keys, sizeof(t->keys));
	t->keys = *keys;
}

void sk_tls_free(struct sk_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(&t->keys, sizeof(t->keys));
	free(t);
}

/* ---- the filter ---- */

/* Hand what OpenSSL wrote to the socket, straight from the pair's ring
 * (a memory BIO's reset would clear its whole buffer each time). */
static int sk__flush(struct sk_conn *c, struct sk__tls_conn *tc)
{
	for (;;) {
		char *p;
		int n = BIO_nread0(tc->net, &p);
		int rc;

		if (n <= 0)
			return 0;
		rc = sk_conn_write_raw(c, p, (size_t)n);
		(void)BIO_nread(tc->net, &p, n);
		if (rc != 0)
			return rc;
	}
}

static int sk__tls_in(struct sk_conn *c, void *st, const char *buf,
		      size_t len)
{
	struct sk__tls_conn *tc = st;
	char tmp[SK_CONN_INBUF];
	int rc;

	if (buf != NULL && len > 0 &&
	    BIO_write(tc->rbio, buf, (int)len) != (int)len)
		return -ENOMEM;
	if (!tc->done) {
		int r = SSL_do_handshake(tc->ssl);

		if ((rc = sk__flush(c, tc)) != 0)
			return rc;
		if (r != 1) {
			if (SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_READ)
				return 0;
			ERR_clear_error();
			return -EACCES; /* no such identity, or a wrong key */
		}
		tc->done = 1;
	}
	for (;;) {
		size_t room = sk_conn_inroom(c);
		int n, e;

		if (room == 0)
			break;
		n = SSL_read(tc->ssl, tmp,
			     (int)(room < sizeof(tmp) ? room : sizeof(tmp)));
		if (n > 0) {
			sk_conn_feed(c, tmp, (size_t)n);
			continue;
		}
		e = SSL_get_error(tc->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		ERR_clear_error();
		if (e == SSL_ERROR_ZERO_RETURN)
			return 1; /* close_notify: a clean end */
		return -EPROTO;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return sk__flush(c, tc);
}

static int sk__tls_out(struct sk_conn *c, void *st, const void *buf,
		       size_t len)
{
	struct sk__tls_conn *tc = st;
	const char *p = buf;

	/* Services speak after the client does, so after the handshake. */
	if (!tc->done)
		return -EAGAIN;
	while (len > 0) {
		int n = SSL_write(tc->ssl, p, (int)(len < 16384 ? len : 16384));
		int rc;

		if (n <= 0) {
			/* The ring is full: empty it into the socket's queue,
			 * and go on. */
			if (SSL_get_error(tc->ssl, n) == SSL_ERROR_WANT_WRITE &&
			    BIO_ctrl_pending(tc->net) > 0) {
				if ((rc = sk__flush(c, tc)) != 0)
					return rc;
				continue;
			}
			ERR_clear_error();
			return -EPROTO;
		}
		p += n;
		len -= (size_t)n;
	}
	return sk__flush(c, tc);
}

static void sk__tls_end(struct sk_conn *c, void *st)
{
	struct sk__tls_conn *tc = st;

	if (tc->done) {
		SSL_shutdown(tc->ssl); /* queues our close_notify */
		ERR_clear_error();
		sk__flush(c, tc);
	}
}

static void sk__tls_free(void *st)
{
	struct sk__tls_conn *tc = st;

	SSL_free(tc->ssl); /* and rbio, and wbio */
	BIO_free(tc->net);
	free(tc);
}

static const struct sk_filter sk__tls_filter = {
	.input = sk__tls_in,
	.output = sk__tls_out,
	.end = sk__tls_end,
	.free = sk__tls_free,
};

int sk_tls_accept(struct sk_conn *c, struct sk_tls *t)
{
	struct sk__tls_conn *tc = calloc(1, sizeof(*tc));

	if (tc == NULL)
		return -ENOMEM;
	tc->ssl = SSL_new(t->ctx);
	tc->rbio = BIO_new(BIO_s_mem());
	if (!BIO_new_bio_pair(&tc->wbio, SK_TLS_WRING, &tc->net, SK_TLS_WRING))
		tc->wbio = tc->net = NULL;
	if (tc->ssl == NULL || tc->rbio == NULL || tc->wbio == NULL ||
	    !SSL_set_ex_data(tc->ssl, sk__ssl_index, tc)) {
		BIO_free(tc->rbio);
		BIO_free(tc->wbio);
		BIO_free(tc->net);
		SSL_free(tc->ssl);
		free(tc);
		return -ENOMEM;
	}
	/* An empty read BIO says "try again", not EOF. */
	BIO_set_mem_eof_return(tc->rbio, -1);
	SSL_set_bio(tc->ssl, tc->rbio, tc->wbio);
	SSL_set_accept_state(tc->ssl);
	return sk_conn_filter(c, &sk__tls_filter, tc);
}

const char *sk_tls_identity(struct sk_conn *c)
{
	struct sk__tls_conn *tc = sk_conn_filter_state(c, &sk__tls_filter);

	return tc != NULL && tc->done && tc->id[0] != '\0' ? tc->id : NULL;
}

/* ---- the client side ---- */

static int sk__key_index = -1; /* SSL_CTX ex data: a client's struct sk_key */

/* SSL_CTX_free() frees the client's copy of its key. */
static void sk__key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			 long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL) {
		OPENSSL_cleanse(ptr, sizeof(struct sk_key));
		free(ptr);
	}
}

/* OpenSSL asks for the PSK to offer: a session holding the key, for the
 * AES-128-GCM-SHA256 suite, under the key's identity. */
static int sk__use_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id,
		       size_t *idlen, SSL_SESSION **sess)
{
	static const unsigned char aes128gcm_sha256[] = { 0x13, 0x01 };
	const struct sk_key *k = sk_tls_ctx_key(SSL_get_SSL_CTX(ssl));
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, aes128gcm_sha256);
	SSL_SESSION *s;

	*sess = NULL;
	/* After a HelloRetryRequest, md is the suite's hash; ours is
	 * SHA-256, the only one offered. */
	if (k == NULL || cipher == NULL ||
	    (md != NULL && EVP_MD_get_type(md) != NID_sha256))
		return 1; /* no PSK: the server will refuse us */
	s = SSL_SESSION_new();
	if (s == NULL || !SSL_SESSION_set1_master_key(s, k->key, sizeof(k->key)) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return 0;
	}
	*id = (const unsigned char *)k->id;
	*idlen = strlen(k->id);
	*sess = s;
	return 1;
}

int sk_tls_ctx_set_key(SSL_CTX *ctx, const struct sk_key *k)
{
	struct sk_key *copy;

	if (sk__key_index < 0) {
		sk__key_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
							 sk__key_free);
		if (sk__key_index < 0)
			return -1;
	}
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -1;
	*copy = *k;
	if (!SSL_CTX_set_ex_data(ctx, sk__key_index, copy)) {
		OPENSSL_cleanse(copy, sizeof(*copy));
		free(copy);
		return -1;
	}
	return 0; /* the context's now */
}

const struct sk_key *sk_tls_ctx_key(const SSL_CTX *ctx)
{
	return sk__key_index < 0 ? NULL
				 : SSL_CTX_get_ex_data(ctx, sk__key_index);
}

SSL_CTX *sk_tls_client_ctx(const struct sk_key *k, char *err, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, SK__TLS_SUITES) ||
	    sk_tls_ctx_set_key(ctx, k) != 0) {
		ERR_clear_error();
		snprintf(err, cap, "cannot set up TLS");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_psk_use_session_callback(ctx, sk__use_psk);
	return ctx;
}

/* ---- key files ---- */

int sk_keys_default_path(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/sockit/exec.keys", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, cap, "%s/.config/sockit/exec.keys", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Copy src into dst (cap bytes), each character an identity may not
 * hold replaced by '-'. */
static void sk__sanitise(char *dst, size_t cap, const char *src)
{
	size_t k = 0;

	for (; *src != '\0' && k + 1 < cap; src++)
		dst[k++] = sk_key_idchar(*src) ? *src : '-';
	dst[k] = '\0';
}

/* USER@HOSTNAME, in the identity's characters and length; the host's
 * short name when the full one does not fit. */
void sk_keys_default_id(char id[SK_KEY_ID_MAX + 1])
{
	const struct passwd *pw = getpwuid(getuid());
	char user[SK_KEY_ID_MAX + 1], host[256];
	size_t ulen;

	sk__sanitise(user, sizeof(user),
		     pw != NULL && pw->pw_name[0] != '\0' ? pw->pw_name : "user");
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	ulen = strlen(user);
	if (ulen + 1 + strlen(host) > SK_KEY_ID_MAX && strchr(host, '.'))
		*strchr(host, '.') = '\0';
	if (ulen + 1 >= SK_KEY_ID_MAX) {
		/* No room for a host: the user alone. */
		snprintf(id, SK_KEY_ID_MAX + 1, "%s", user);
		return;
	}
	memcpy(id, user, ulen);
	id[ulen] = '@';
	sk__sanitise(id + ulen + 1, SK_KEY_ID_MAX - ulen, host);
}

/* Make the directories leading to path, each mode 0700 when new. */
static int sk__mkdirs(const char *path)
{
	char dir[4096];
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int sk_keys_add(const char *path, const char *identity, char *err,
		size_t cap)
{
	struct sk_keys *keys = NULL;
	struct sk_key k;
	char line[SK_KEY_ID_MAX + 2 * SK_KEY_LEN + 4];
	size_t idlen = strlen(identity);
	int fd = -1, rc, n;

	memset(&k, 0, sizeof(k));
	/* The identity must be one the parser takes back. */
	if (!sk_key_id_ok(identity, idlen)) {
		snprintf(err, cap, "identity '%.80s': %s", identity,
			 sk_keys_strerror(SK_KEYS_E_ID));
		return -EINVAL;
	}
	memcpy(k.id, identity, idlen);
	if (RAND_priv_bytes(k.key, sizeof(k.key)) != 1) {
		snprintf(err, cap, "no random bytes");
		rc = -EIO;
		goto error;
	}
	n = sk_key_format(&k, line, sizeof(line));
	keys = malloc(sizeof(*keys));
	if (n < 0 || keys == NULL) {
		snprintf(err, cap, "out of memory");
		rc = -ENOMEM;
		goto error;
	}
	rc = sk__mkdirs(path);
	if (rc != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(-rc));
		goto error;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 && errno == EEXIST) {
		/* Add to a file that is already good and lacks the id. */
		rc = sk_keys_load(path, keys, err, cap);
		if (rc != 0)
			goto error;
		if (sk_keys_find(keys, identity, idlen) != NULL) {
			snprintf(err, cap, "%s: identity '%s' is already there",
				 path, identity);
			rc = -EEXIST;
			goto error;
		}
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(-rc));
		goto error;
	}
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, cap, "%s: %s", path, strerror(-rc));
		goto error;
	}
	rc = 0;
error:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(&k, sizeof(k));
	if (keys != NULL)
		OPENSSL_cleanse(keys, sizeof(*keys));
	free(keys);
	return rc;
}
