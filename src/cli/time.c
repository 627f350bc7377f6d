/*
 * time.c: `sockit time`: ask a timefmt, daytime, RFC 868 or NTP server.
 * It only ever reads time: it never sets the clock.
 */
#include <errno.h>
#include <sys/random.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../net/client.h"
#include "../proto/ntp.h"
#include "../proto/rfc868.h"
#include "../proto/sk_limits.h"
#include "../proto/timefmt.h"
#include "cli.h"

enum sk__proto { SK__TIMEFMT, SK__DAYTIME, SK__RFC868, SK__NTP };

static const char *const sk__leap[] = { "no-leap", "add-leap", "del-leap",
					"unsync" };

/* Where a result or a failure goes: a line for people, or with --json
 * one JSON object on standard output for either. */
struct sk__out {
	int json;              /* --json */
	const char *server;    /* HOST:PORT as resolved, or as given */
	const char *proto;     /* "timefmt", "daytime", "time" or "ntp" */
	const char *transport; /* "udp" or "tcp" */
};

/* Write s[0..n) as a JSON string: quoted, with '"', '\\' and control
 * characters escaped, and each byte that is not part of valid UTF-8 as
 * U+FFFD, so that whatever a server sends, the output parses. */
static void sk__json_str(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	putchar('"');
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
			 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (c == '"' || c == '\\') {
			printf("\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
		} else if (k == 1) {
			putchar(c);
		} else if (k > 1 && k <= n - i && sk_utf8_valid(u + i, k)) {
			fwrite(u + i, 1, k, stdout);
			i += k;
			continue;
		} else {
			fputs("\\ufffd", stdout);
		}
		i++;
	}
	putchar('"');
}

/* Open a JSON object with the keys every result and failure has. */
static void sk__json_head(const struct sk__out *o)
{
	fputs("{\"server\": ", stdout);
	sk__json_str(o->server, strlen(o->server));
	printf(", \"protocol\": \"%s\", \"transport\": \"%s\"", o->proto,
	       o->transport);
}

/* Report a failure: "sockit: time: MSG" on stderr, or with --json
 * {..., "failure": "MSG"} on stdout ("error" is taken: NTP's error
 * bound). Returns SK_EXIT_FAIL. */
__attribute__((format(printf, 2, 3)))
static int sk__failed(const struct sk__out *o, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	va_start(ap, fmt);
	if (!o->json) {
		fputs("sockit: time: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
		return SK_EXIT_FAIL;
	}
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	sk__json_head(o);
	fputs(", \"failure\": ", stdout);
	if (n >= 0)
		sk__json_str(msg, (size_t)n);
	else
		fputs("\"out of memory\"", stdout);
	fputs("}\n", stdout);
	free(msg);
	return SK_EXIT_FAIL;
}

/* A reference ID as people read it: ASCII at stratum 0 and 1, else an
 * IPv4 address (or, for an IPv6 upstream, the hash that stands for it). */
static void sk__refid(const struct sk_ntp_pkt *p, char *buf, size_t cap)
{
	uint32_t r = p->refid;

	if (p->stratum <= 1) {
		char s[5];
		size_t k = 0;

		for (int i = 3; i >= 0; i--) {
			char ch = (char)(r >> (i * 8));

			/* Printable, and nothing JSON or a terminal would
			 * read as markup. */
			if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
				s[k++] = ch;
		}
		s[k] = '\0';
		snprintf(buf, cap, "%s", s);
	} else {
		snprintf(buf, cap, "%u.%u.%u.%u", r >> 24, (r >> 16) & 255,
			 (r >> 8) & 255, r & 255);
	}
}

/* Check an NTP reply and print what it says. Returns an exit code. */
static int sk__ntp_report(const struct sk__out *o, const uint8_t *buf,
			  ssize_t n, const uint8_t cookie[8], int64_t t1,
			  int64_t t4)
{
	const char *name = o->server;
	struct sk_ntp_pkt p;
	int64_t t2, t3, offset, delay, err, now;
	char refid[32], when[64];
	struct tm tm;
	time_t secs;

	if (n < SK_NTP_LEN || sk_ntp_decode(buf, (size_t)n, &p) != 0 ||
	    (p.mode != SK_NTP_MODE_SERVER))
		return sk__failed(o, "%s: not an NTP server reply", name);
	if (memcmp(buf + 24, cookie, 8) != 0)
		return sk__failed(o, "%s: the reply does not echo our transmit "
				  "timestamp (bogus or stale reply)", name);
	sk__refid(&p, refid, sizeof(refid));
	/* RFC 5905 7.4: stratum 0 with an ASCII code is a kiss-o'-death. */
	if (p.stratum == 0 && strlen(refid) == 4)
		return sk__failed(o, "%s: kiss-o'-death %s%s", name, refid,
				  strcmp(refid, "RATE") == 0
					  ? " (asking too often; slow down)"
					  : "");
	if (p.leap == SK_NTP_LEAP_UNSYNC || p.stratum == 0 || p.stratum >= 16)
		return sk__failed(o, "%s: server is not synchronised (leap %u, "
				  "stratum %u)", name, p.leap, p.stratum);
	/* RFC 5905 8: a reply without receive or transmit time is bogus. */
	if ((p.rx.sec == 0 && p.rx.frac == 0) ||
	    (p.tx.sec == 0 && p.tx.frac == 0))
		return sk__failed(o, "%s: the reply carries no receive or "
				  "transmit timestamp", name);
	t2 = sk_ntp_ts_to_ns(p.rx, t1);
	t3 = sk_ntp_ts_to_ns(p.tx, t1);
	sk_ntp_offset_delay(t1, t2, t3, t4, &offset, &delay);
	/* The error bound: half the round trip plus the server's root
	 * distance. */
	err = delay / 2 + (int64_t)sk_ntp_short_to_ns(p.root_delay) / 2 +
	      (int64_t)sk_ntp_short_to_ns(p.root_disp);
	now = t4 + offset;
	secs = (time_t)(now / 1000000000);
	if (o->json) {
		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		sk__json_head(o);
		printf(", \"time\": \"%s.%06ldZ\", "
		       "\"offset\": %.9f, \"delay\": %.9f, \"error\": %.9f, "
		       "\"stratum\": %u, \"leap\": \"%s\", \"refid\": \"%s\", "
		       "\"precision\": %d, \"root_delay\": %.6f, "
		       "\"root_dispersion\": %.6f, \"version\": %u}\n",
		       when, (long)(now % 1000000000 / 1000),
		       (double)offset / 1e9, (double)delay / 1e9,
		       (double)err / 1e9, p.stratum, sk__leap[p.leap], refid,
		       p.precision, (double)sk_ntp_short_to_ns(p.root_delay) / 1e9,
		       (double)sk_ntp_short_to_ns(p.root_disp) / 1e9, p.version);
		return SK_EXIT_OK;
	}
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s.%06ld (%+05ld) %+.6f +/- %.6f %s s%u %s refid %s delay %.6f\n",
	       when, (long)(now % 1000000000 / 1000),
	       tm.tm_gmtoff / 3600 * 100 + tm.tm_gmtoff % 3600 / 60,
	       (double)offset / 1e9, (double)err / 1e9, name, p.stratum,
	       sk__leap[p.leap], refid, (double)delay / 1e9);
	return SK_EXIT_OK;
}

static int sk__fail(const struct sk__out *o, ssize_t n, unsigned tries,
		    int udp)
{
	if (n == -ETIMEDOUT && udp)
		return sk__failed(o, "no reply from %s after %u %s", o->server,
				  tries, tries == 1 ? "try" : "tries");
	if (n == -ETIMEDOUT)
		return sk__failed(o, "no reply from %s", o->server);
	return sk__failed(o, "%s: %s", o->server, strerror((int)-n));
}

int sk_cmd_time(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcp", no_argument, NULL, 'T' },
		{ "udp", no_argument, NULL, 'U' },
		{ "daytime", no_argument, NULL, 'd' },
		{ "rfc868", no_argument, NULL, 'r' },
		{ "ntp", no_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "tries", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint16_t ports[] = { 8083, 10013, 10037, 10123 };
	static const char *const names[] = { "timefmt", "daytime", "time",
					      "ntp" };
	struct sk__out o;
	uint8_t cookie[8];
	int json = 0;
	static char buf[SK_CLIENT_MAX_READ];
	enum sk__proto proto = SK__TIMEFMT;
	int udp = 1, c, mode = 0, transport = 0;
	unsigned long tries = 3;
	unsigned timeout_ms = 1000;
	const char *fmt = "";
	char req[SK_TIMEFMT_MAX_IN + 2], err[512];
	size_t rlen = 0;
	int64_t sent = 0, got = 0;
	struct sk_target t;
	ssize_t n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":TUdrNjn:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
		case 'U':
			if (transport != 0 && transport != c)
				return sk_usage_error("time", "give --tcp or --udp, "
						      "not both");
			transport = c;
			udp = c == 'U';
			break;
		case 'd':
		case 'r':
		case 'N':
			if (mode != 0 && mode != c)
				return sk_usage_error("time", "give one of --daytime, "
						      "--rfc868 and --ntp");
			mode = c;
			proto = c == 'd' ? SK__DAYTIME
				: c == 'r' ? SK__RFC868 : SK__NTP;
			break;
		case 'j': json = 1; break;
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
			return sk_option_error("time", argv, c);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return sk_usage_error("time", "expected HOST[:PORT] [FORMAT]");
	if (sk_check_hostport("time", argv[optind], !udp) != 0)
		return SK_EXIT_USAGE;
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
	if (proto == SK__NTP && !udp)
		return sk_usage_error("time", "NTP is UDP only");
	o.json = json;
	o.server = argv[optind];
	o.proto = names[proto];
	o.transport = udp ? "udp" : "tcp";
	if (sk_target_resolve(&t, argv[optind], ports[proto],
			      udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0)
		return sk__failed(&o, "%s", err);
	o.server = t.name;
	if (proto == SK__TIMEFMT) {
		rlen = strlen(fmt);
		memcpy(req, fmt, rlen);
		if (!udp)
			req[rlen++] = '\n';
	}
	if (proto == SK__NTP) {
		/*
		 * Each try is a fresh client request from a fresh socket, with a
		 * random transmit timestamp (it says nothing about our clock,
		 * and the reply must echo it). A late answer to an earlier try
		 * then cannot be paired with this try's send time.
		 */
		n = -ETIMEDOUT;
		for (unsigned long i = 0; i < tries && n == -ETIMEDOUT; i++) {
			memset(req, 0, SK_NTP_LEN);
			req[0] = 0 << 6 | 4 << 3 | SK_NTP_MODE_CLIENT;
			if (getrandom(cookie, sizeof(cookie), 0) !=
			    sizeof(cookie))
				return sk__failed(&o, "no random bytes");
			memcpy(req + 40, cookie, sizeof(cookie));
			n = sk_udp_exchange(&t, req, SK_NTP_LEN, buf, sizeof(buf),
					    1, timeout_ms, &sent, &got);
		}
	} else if (udp)
		n = sk_udp_exchange(&t, req, rlen, buf, sizeof(buf),
				    (unsigned)tries, timeout_ms, &sent, &got);
	else
		n = sk_tcp_exchange(&t, req, rlen, 1, buf, sizeof(buf),
				    timeout_ms, &sent, &got);
	if (n < 0)
		return sk__fail(&o, n, (unsigned)tries, udp);

	if (proto == SK__NTP)
		return sk__ntp_report(&o, (const uint8_t *)buf, n, cookie,
				      sent, got);
	if (proto == SK__RFC868) {
		uint32_t v;
		int64_t secs;
		double offset;
		time_t tt;
		struct tm tm;
		char when[64];

		if (sk_rfc868_decode((const uint8_t *)buf, (size_t)n, &v) != 0)
			return sk__failed(&o, "%s: expected a 4-byte RFC 868 "
					  "reply, got %zd bytes", t.name, n);
		/* The reply stands for the midpoint of the exchange; RFC 868
		 * truncates to whole seconds, so add half a second. */
		secs = sk_rfc868_to_unix(v, (sent + got) / 2 / 1000000000);
		offset = (double)secs + 0.5 - (double)(sent + got) / 2e9;
		tt = (time_t)secs;
		if (json) {
			gmtime_r(&tt, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			sk__json_head(&o);
			printf(", \"time\": \"%s\", \"seconds\": %lld, "
			       "\"rfc868\": %u, \"offset\": %.6f}\n", when,
			       (long long)secs, v, offset);
			return SK_EXIT_OK;
		}
		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y %Z", &tm);
		printf("%s (offset %+.1f s from the local clock)\n", when,
		       offset);
		return SK_EXIT_OK;
	}
	/* Text replies: strip one line ending and print one line. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (proto == SK__TIMEFMT && n >= 7 && memcmp(buf, "error: ", 7) == 0)
		return sk__failed(&o, "%s said: %.*s", t.name, (int)n, buf);
	if (json) {
		sk__json_head(&o);
		if (proto == SK__TIMEFMT) {
			fputs(", \"format\": ", stdout);
			sk__json_str(fmt, strlen(fmt));
		}
		fputs(", \"reply\": ", stdout);
		sk__json_str(buf, (size_t)n);
		fputs("}\n", stdout);
		return SK_EXIT_OK;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	fputc('\n', stdout);
	return SK_EXIT_OK;
}
