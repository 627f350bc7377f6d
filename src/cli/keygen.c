/*
 * keygen.c: `sockit keygen`: add a client identity with a random key to
 * an exec key file (src/proto/keys.h), creating the file (mode 0600) and
 * its directory (0700) when missing. The same file serves `sockit serve`
 * (the identities it accepts) and `sockit exec` (the key it offers); a
 * server elsewhere needs the new line too, which --print writes out.
 */
#include <errno.h>
#include <getopt.h>
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
			if (!sk_key_id_ok(optarg, strlen(optarg)))
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
		sk_keys_default_id(id);
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
