/* welcome.c: `sockit welcome HOST[:PORT]`: print a banner. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../net/client.h"
#include "../net/log.h"
#include "../proto/sk_limits.h"
#include "cli.h"

int sk_cmd_welcome(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char buf[SK_CLIENT_MAX_READ];
	struct sk_target t;
	unsigned timeout_ms = 5000;
	char err[512];
	ssize_t n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (sk_parse_seconds(optarg, &timeout_ms) != 0)
				return sk_usage_error("welcome",
						      "--timeout: '%s' is not a "
						      "number of seconds",
						      optarg);
			break;
		case 'h':
			return sk_help("welcome");
		default:
			return sk_option_error("welcome", argv, c);
		}
	}
	if (argc - optind != 1)
		return sk_usage_error("welcome", "expected one HOST[:PORT]");
	if (sk_check_hostport("welcome", argv[optind], 1) != 0)
		return SK_EXIT_USAGE;
	if (sk_target_resolve(&t, argv[optind], 8080, SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: welcome: %s\n", err);
		return SK_EXIT_FAIL;
	}
	n = sk_tcp_exchange(&t, NULL, 0, 0, buf, sizeof(buf), timeout_ms, NULL,
			    NULL);
	if (n < 0) {
		fprintf(stderr, "sockit: welcome %s: %s\n", t.name,
			n == -ETIMEDOUT ? "no reply" : strerror((int)-n));
		return SK_EXIT_FAIL;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	return SK_EXIT_OK;
}
