/*
 * time.c: `sockit time`: ask a timefmt, daytime or RFC 868 server.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../net/client.h"
#include "../proto/rfc868.h"
#include "../proto/sk_limits.h"
#include "../proto/timefmt.h"
#include "cli.h"

enum sk__proto { SK__TIMEFMT, SK__DAYTIME, SK__RFC868 };

static void sk__fail(const char *name, ssize_t n, unsigned tries, int udp)
{
	if (n == -ETIMEDOUT && udp)
		fprintf(stderr, "sockit: time: no reply from %s after %u %s\n",
			name, tries, tries == 1 ? "try" : "tries");
	else if (n == -ETIMEDOUT)
		fprintf(stderr, "sockit: time: no reply from %s\n", name);
	else
		fprintf(stderr, "sockit: time: %s: %s\n", name,
			strerror((int)-n));
}

int sk_cmd_time(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcp", no_argument, NULL, 'T' },
		{ "udp", no_argument, NULL, 'U' },
		{ "daytime", no_argument, NULL, 'd' },
		{ "rfc868", no_argument, NULL, 'r' },
		{ "tries", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint16_t ports[] = { 8083, 10013, 10037 };
	static char buf[SK_CLIENT_MAX_READ];
	enum sk__proto proto = SK__TIMEFMT;
	int udp = 1, c;
	unsigned long tries = 3;
	unsigned timeout_ms = 1000;
	const char *fmt = "";
	char req[SK_TIMEFMT_MAX_IN + 2], err[512];
	size_t rlen = 0;
	int64_t sent = 0, got = 0;
	struct sk_target t;
	ssize_t n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "TUdrn:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'T': udp = 0; break;
		case 'U': udp = 1; break;
		case 'd': proto = SK__DAYTIME; break;
		case 'r': proto = SK__RFC868; break;
		case 'n':
			if (sk_parse_uint(optarg, 1, 100, &tries) != 0)
				return sk_usage_error("time",
						      "--tries: '%s' is not a "
						      "whole number from 1 to 100",
						      optarg);
			break;
		case 't':
			if (sk_parse_seconds(optarg, &timeout_ms) != 0)
				return sk_usage_error("time",
						      "--timeout: '%s' is not a "
						      "number of seconds",
						      optarg);
			break;
		case 'h':
			return sk_help("time");
		default:
			return sk_usage_error("time", "bad option");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return sk_usage_error("time", "expected HOST[:PORT] [FORMAT]");
	if (argc - optind == 2) {
		int rc;

		if (proto != SK__TIMEFMT)
			return sk_usage_error("time", "a FORMAT is only for the "
						      "timefmt protocol");
		fmt = argv[optind + 1];
		rc = sk_timefmt_check(fmt, strlen(fmt));
		if (rc != 0)
			return sk_usage_error("time", "FORMAT: %s",
					      sk_timefmt_strerror(rc));
		if (!udp && strpbrk(fmt, "\r\n") != NULL)
			return sk_usage_error("time", "FORMAT: a line break "
						      "cannot be sent over TCP");
	}
	if (sk_target_resolve(&t, argv[optind], ports[proto],
			      udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: time: %s\n", err);
		return SK_EXIT_FAIL;
	}
	if (proto == SK__TIMEFMT) {
		rlen = strlen(fmt);
		memcpy(req, fmt, rlen);
		if (!udp)
			req[rlen++] = '\n';
	}
	if (udp)
		n = sk_udp_exchange(&t, req, rlen, buf, sizeof(buf),
				    (unsigned)tries, timeout_ms, &sent, &got);
	else
		n = sk_tcp_exchange(&t, req, rlen, 1, buf, sizeof(buf),
				    timeout_ms, &sent, &got);
	if (n < 0) {
		sk__fail(t.name, n, (unsigned)tries, udp);
		return SK_EXIT_FAIL;
	}

	if (proto == SK__RFC868) {
		uint32_t v;
		int64_t secs;
		double offset;
		time_t tt;
		struct tm tm;
		char when[64];

		if (sk_rfc868_decode((const uint8_t *)buf, (size_t)n, &v) != 0) {
			fprintf(stderr, "sockit: time: %s: expected a 4-byte "
					"RFC 868 reply, got %zd bytes\n",
				t.name, n);
			return SK_EXIT_FAIL;
		}
		/* The reply stands for the midpoint of the exchange; RFC 868
		 * truncates to whole seconds, so add half a second. */
		secs = sk_rfc868_to_unix(v, (sent + got) / 2 / 1000000000);
		offset = (double)secs + 0.5 - (double)(sent + got) / 2e9;
		tt = (time_t)secs;
		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y %Z", &tm);
		printf("%s (offset %+.1f s from the local clock)\n", when,
		       offset);
		return SK_EXIT_OK;
	}
	/* Text replies: strip one line ending and print one line. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (proto == SK__TIMEFMT && n >= 7 && memcmp(buf, "error: ", 7) == 0) {
		fprintf(stderr, "sockit: time: %s said: %.*s\n", t.name, (int)n,
			buf);
		return SK_EXIT_FAIL;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	fputc('\n', stdout);
	return SK_EXIT_OK;
}
