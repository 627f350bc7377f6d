/*
 * keygen.c: `sockit keygen`: add a client identity with a random key to
 * an exec key file (src/proto/keys.h), creating the file (mode 0600) and
 * its directory (0700) when missing. The same file serves `sockit serve`
 * (the identities it accepts) and `sockit exec` (the key it offers); a
 * server elsewhere needs the new line too, which --print writes out.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../net/tls.h"
#include "../proto/keys.h"
#include "../proto/sk_limits.h"
#include "cli.h"

#define SK__CMD "keygen"

static int sk__id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("._@+-", c) != NULL;
}

static int sk__id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > SK_KEY_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!sk__id_char(id[i]))
			return 0;
	return 1;
}

/* Copy src into dst (cap bytes), each character an identity may not
 * hold replaced by '-'. */
static void sk__sanitise(char *dst, size_t cap, const char *src)
{
	size_t k = 0;

	for (; *src != '\0' && k + 1 < cap; src++)
		dst[k++] = sk__id_char(*src) ? *src : '-';
	dst[k] = '\0';
}

/* USER@HOSTNAME, in the identity's characters and length; the host's
 * short name when the full one does not fit. */
static void sk__default_id(char id[SK_KEY_ID_MAX + 1])
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

int sk_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "print", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char id[SK_KEY_ID_MAX + 1], path[4096], err[600];
	char line[SK_KEY_ID_MAX + 2 * SK_KEY_LEN + 4];
	struct sk_keys *keys = NULL;
	const struct sk_key *k;
	int c, print = 0, rc = SK_EXIT_FAIL, n;

	id[0] = '\0';
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!sk__id_ok(optarg))
				return sk_usage_error(SK__CMD, "--identity: '%s' is "
						      "not 1 to %d of A-Z a-z "
						      "0-9 . _ @ + -", optarg,
						      SK_KEY_ID_MAX);
			snprintf(id, sizeof(id), "%s", optarg);
			break;
		case 'p':
			print = 1;
			break;
		case 'h':
			return sk_help(SK__CMD);
		default:
			return sk_option_error(SK__CMD, argv, c);
		}
	}
	if (argc - optind > 1)
		return sk_usage_error(SK__CMD, "expected at most one FILE");
	if (argc - optind == 1) {
		if (argv[optind][0] == '\0')
			return sk_usage_error(SK__CMD, "FILE is empty");
		snprintf(path, sizeof(path), "%s", argv[optind]);
	} else if (sk_keys_default_path(path, sizeof(path)) != 0) {
		fprintf(stderr, "sockit: keygen: no default key file: neither "
			"XDG_CONFIG_HOME nor HOME is set; give FILE\n");
		return SK_EXIT_FAIL;
	}
	if (id[0] == '\0')
		sk__default_id(id);
	if (sk_keys_add(path, id, err, sizeof(err)) != 0) {
		fprintf(stderr, "sockit: keygen: %s\n", err);
		return SK_EXIT_FAIL;
	}
	fprintf(stderr, "sockit: keygen: added identity %s to %s\n", id, path);
	if (!print)
		return SK_EXIT_OK;
	/* The line as the file holds it, for the server's key file. */
	keys = malloc(sizeof(*keys));
	if (keys == NULL) {
		fprintf(stderr, "sockit: keygen: out of memory\n");
		return SK_EXIT_FAIL;
	}
	if (sk_keys_load(path, keys, err, sizeof(err)) != 0) {
		fprintf(stderr, "sockit: keygen: %s\n", err);
		goto error;
	}
	k = sk_keys_find(keys, id, strlen(id));
	n = k != NULL ? sk_key_format(k, line, sizeof(line)) : -1;
	if (n < 0) {
		fprintf(stderr, "sockit: keygen: %s: identity %s is gone\n",
			path, id);
		goto error;
	}
	fwrite(line, 1, (size_t)n, stdout);
	rc = fflush(stdout) == 0 ? SK_EXIT_OK : SK_EXIT_FAIL;
	OPENSSL_cleanse(line, sizeof(line));
error:
	OPENSSL_cleanse(keys, sizeof(*keys));
	free(keys);
	return rc;
}
