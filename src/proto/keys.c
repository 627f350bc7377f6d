/* keys.c: pre-shared key files (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <string.h>

int sk_key_idchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	       c == '+' || c == '-';
}

static int sk__hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sk_key_id_ok(const char *id, size_t len)
{
	if (len == 0 || len > SK_KEY_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!sk_key_idchar(id[i]))
			return 0;
	return 1;
}

/* One line, without its LF (and CR). */
static int sk__line(const char *p, size_t len, struct sk_keys *keys)
{
	struct sk_key *k;
	size_t i = 0, idlen, hexstart;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	idlen = 0;
	while (i + idlen < len && p[i + idlen] != ' ' && p[i + idlen] != '\t')
		idlen++;
	if (i + idlen == len)
		return SK_KEYS_E_SYNTAX;
	for (size_t j = 0; j < idlen; j++)
		if (!sk_key_idchar(p[i + j]))
			return SK_KEYS_E_ID;
	if (idlen > SK_KEY_ID_MAX)
		return SK_KEYS_E_ID;
	if (sk_keys_find(keys, p + i, idlen) != NULL)
		return SK_KEYS_E_DUP;
	if (keys->n >= SK_KEYS_MAX)
		return SK_KEYS_E_MANY;
	hexstart = i + idlen;
	while (hexstart < len && (p[hexstart] == ' ' || p[hexstart] == '\t'))
		hexstart++;
	/* The key, then nothing but blanks. */
	{
		size_t end = len;

		while (end > hexstart && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if (end - hexstart != 2 * SK_KEY_LEN)
			return SK_KEYS_E_KEY;
	}
	k = &keys->k[keys->n];
	for (size_t j = 0; j < SK_KEY_LEN; j++) {
		int hi = sk__hex(p[hexstart + 2 * j]);
		int lo = sk__hex(p[hexstart + 2 * j + 1]);

		if (hi < 0 || lo < 0)
			return SK_KEYS_E_KEY;
		k->key[j] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(k->id, p + i, idlen);
	k->id[idlen] = '\0';
	keys->n++;
	return 0;
}

int sk_keys_parse(const char *buf, size_t len, struct sk_keys *keys,
		  size_t *line)
{
	size_t off = 0;

	memset(keys, 0, sizeof(*keys));
	*line = 0;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		int rc;

		(*line)++;
		if (ll > SK_KEY_LINE_MAX)
			return SK_KEYS_E_LONG;
		rc = sk__line(buf + off,
			      ll > 0 && buf[off + ll - 1] == '\r' ? ll - 1 : ll,
			      keys);
		if (rc != 0)
			return rc;
		off += ll + (nl != NULL);
	}
	*line = 0;
	return 0;
}

const struct sk_key *sk_keys_find(const struct sk_keys *keys, const void *id,
				  size_t idlen)
{
	for (size_t i = 0; i < keys->n; i++)
		if (strlen(keys->k[i].id) == idlen &&
		    memcmp(keys->k[i].id, id, idlen) == 0)
			return &keys->k[i];
	return NULL;
}

int sk_key_format(const struct sk_key *k, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t idlen = strlen(k->id), n = idlen + 1 + 2 * SK_KEY_LEN + 1;

	if (cap < n + 1)
		return -1;
	memcpy(out, k->id, idlen);
	out[idlen] = ' ';
	for (size_t j = 0; j < SK_KEY_LEN; j++) {
		out[idlen + 1 + 2 * j] = hex[k->key[j] >> 4];
		out[idlen + 2 + 2 * j] = hex[k->key[j] & 15];
	}
	out[n - 1] = '\n';
	out[n] = '\0';
	return (int)n;
}

const char *sk_keys_strerror(int err)
{
	switch (err) {
	case SK_KEYS_E_SYNTAX:
		return "expected 'IDENTITY HEXKEY'";
	case SK_KEYS_E_ID:
		return "an identity is 1 to 64 of A-Z a-z 0-9 . _ @ + -";
	case SK_KEYS_E_KEY:
		return "a key is 64 hex digits (32 bytes)";
	case SK_KEYS_E_DUP:
		return "identity listed twice";
	case SK_KEYS_E_MANY:
		return "more than 256 identities";
	case SK_KEYS_E_LONG:
		return "line longer than 512 bytes";
	default:
		return "bad key file";
	}
}
