/*
 * tls.h: TLS 1.3 with external pre-shared keys, as a connection filter
 * (service.h), on OpenSSL 3 memory BIOs.
 *
 * A service that wants TLS makes one sk_tls from a key file at init and
 * calls sk_tls_accept() in tcp_accept; from then on it reads and writes
 * plaintext, and the platform moves the records. Only the TLS 1.3 suites
 * with SHA-256 are offered: an external PSK is bound to one hash, and
 * OpenSSL 3.0 fails the handshake when a SHA-384 suite is picked for a
 * SHA-256 key. There are no certificates: a client proves itself by
 * knowing the key of the identity it names, and an unknown identity or a
 * wrong key fails the handshake before the service sees a byte.
 *
 * The client side is a plain SSL_CTX (sk_tls_client_ctx()), for clients
 * that drive OpenSSL on their own socket.
 */
#ifndef SK_TLS_H
#define SK_TLS_H

#include <stddef.h>

#include <openssl/types.h>

#include "../proto/keys.h"
#include "service.h"

struct sk_tls;

/*
 * Read a key file and make a server context for its identities. A key
 * file that group or others may read, or that is not a regular file, is
 * refused, as ssh refuses loose private keys. Returns 0, or a negative
 * errno with a message in err (naming the file, and the line at fault).
 */
int sk_tls_server_new(const char *keyfile, struct sk_tls **out, char *err,
		      size_t cap);
/* The same from keys already parsed (copied). */
int sk_tls_server_from(const struct sk_keys *keys, struct sk_tls **out);
/* Accept these identities (copied) from now on: a handshake that has
 * begun, and a connection already open, are not affected. */
void sk_tls_set_keys(struct sk_tls *t, const struct sk_keys *keys);
void sk_tls_free(struct sk_tls *t);

/* Put TLS between c's socket and its service; from tcp_accept. Returns 0
 * or -ENOMEM (c is then closed by the caller's return). */
int sk_tls_accept(struct sk_conn *c, struct sk_tls *t);

/* The identity c's client proved, once the handshake is done; NULL
 * before, or when c has no TLS. */
const char *sk_tls_identity(struct sk_conn *c);

/*
 * A client context for TLS 1.3 with the external PSK k, as the server
 * expects it: TLS 1.3 only, the SHA-256 suites only, no tickets, and a
 * PSK session built from k's key for the AES-128-GCM suite, offered
 * under k's identity. The context holds its own copy of k, which
 * SSL_CTX_free() wipes and frees. There are no certificates to verify:
 * a server that completes the handshake knows the key. Returns the
 * context (the caller frees it with SSL_CTX_free()), or NULL with a
 * message in err.
 */
SSL_CTX *sk_tls_client_ctx(const struct sk_key *k, char *err, size_t cap);

/* Give a client context ctx its own copy of k, which SSL_CTX_free()
 * wipes and frees (sk_tls_client_ctx() and DTLS's client use it).
 * Returns 0 or -1. */
int sk_tls_ctx_set_key(SSL_CTX *ctx, const struct sk_key *k);
/* The key ctx holds, or NULL. */
const struct sk_key *sk_tls_ctx_key(const SSL_CTX *ctx);

/* Read a key file into keys, with the same checks as
 * sk_tls_server_new(). */
int sk_keys_load(const char *path, struct sk_keys *keys, char *err,
		 size_t cap);

/* The default key file, shared by `sockit serve` and the exec client:
 * $XDG_CONFIG_HOME/sockit/exec.keys, or ~/.config/sockit/exec.keys.
 * Returns 0, or -ENOENT when neither variable is set, or -ENAMETOOLONG. */
int sk_keys_default_path(char *buf, size_t cap);

/* The default identity, USER@HOSTNAME, in the characters and length an
 * identity may have (others become '-'; the host's short name when the
 * full one does not fit). */
void sk_keys_default_id(char id[SK_KEY_ID_MAX + 1]);

/*
 * Add a new identity with a random key to the key file at path, creating
 * the file (mode 0600) and its directory (mode 0700) when missing; an
 * existing file must pass sk_keys_load()'s checks and must not hold the
 * identity yet. Returns 0, or a negative errno with a message in err.
 */
int sk_keys_add(const char *path, const char *identity, char *err,
		size_t cap);

#endif
