/*
 * keys.h: pre-shared key files, parsed with no I/O.
 *
 * A key file holds one client identity per line:
 *
 *     # comment
 *     IDENTITY HEXKEY
 *
 * IDENTITY is 1 to SK_KEY_ID_MAX bytes of [A-Za-z0-9._@+-]; HEXKEY is
 * exactly 2 * SK_KEY_LEN hex digits. Blank lines and lines starting with
 * '#' are skipped; anything else is an error with its line number.
 */
#ifndef SK_KEYS_H
#define SK_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "sk_limits.h"

/* One identity and its key. */
struct sk_key {
	char id[SK_KEY_ID_MAX + 1]; /* NUL-terminated */
	uint8_t key[SK_KEY_LEN];    /* the secret */
};

/* A key file's identities. */
struct sk_keys {
	struct sk_key k[SK_KEYS_MAX]; /* in file order */
	size_t n;                     /* how many */
};

enum sk_keys_err {
	SK_KEYS_E_SYNTAX = -1,  /* not "IDENTITY HEXKEY" */
	SK_KEYS_E_ID = -2,      /* bad or over-long identity */
	SK_KEYS_E_KEY = -3,     /* not 64 hex digits */
	SK_KEYS_E_DUP = -4,     /* the identity is already listed */
	SK_KEYS_E_MANY = -5,    /* more than SK_KEYS_MAX identities */
	SK_KEYS_E_LONG = -6,    /* a line over SK_KEY_LINE_MAX bytes */
};

/*
 * Parse buf[0..len) into keys (which is reset first). Returns 0, or a
 * negative enum sk_keys_err with *line set to the 1-based line at fault.
 */
int sk_keys_parse(const char *buf, size_t len, struct sk_keys *keys,
		  size_t *line);

/* May c stand in an identity? */
int sk_key_idchar(char c);
/* Is id[0..len) a whole identity (1 to SK_KEY_ID_MAX of those)? */
int sk_key_id_ok(const char *id, size_t len);

/* The key for identity id[0..idlen), or NULL. */
const struct sk_key *sk_keys_find(const struct sk_keys *keys, const void *id,
				  size_t idlen);

/* Write "ID HEXKEY\n" into out (cap bytes); returns the length or -1. */
int sk_key_format(const struct sk_key *k, char *out, size_t cap);

const char *sk_keys_strerror(int err);

#endif
