/*
 * fuzz_addr.c: libFuzzer target for src/proto/addr.c.
 *
 * The input, NUL-terminated in a buffer of exactly its size, is parsed as
 * HOST:PORT with every flag combination and as a listener spec; the raw
 * bytes also go to sk_port_parse(). Checks the return codes, that hosts
 * are terminated and short enough, that the flags are honoured, and that
 * a parsed HOST:PORT written back out parses to the same host and port.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "sk_limits.h"

static void check_host(const char *host)
{
	if (memchr(host, '\0', SK_HOST_MAX) == NULL)
		abort();
}

/* Write host and port back as HOST:PORT and parse that again. */
static void round_trip(const char *host, uint16_t port, int flags)
{
	char s[SK_HOST_MAX + 16], h2[SK_HOST_MAX];
	uint16_t p2 = 0;
	int n;

	if (strchr(host, ':') != NULL)
		n = snprintf(s, sizeof(s), "[%s]:%u", host, (unsigned)port);
	else
		n = snprintf(s, sizeof(s), "%s:%u", host, (unsigned)port);
	if (n < 0 || (size_t)n >= sizeof(s))
		abort();
	if (sk_hostport_parse(s, h2, &p2, flags) != 0)
		abort();
	if (strcmp(host, h2) != 0 || p2 != port)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct sk_spec spec;
	uint16_t port;
	int rc;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	for (int flags = 0; flags < 4; flags++) {
		char host[SK_HOST_MAX];

		port = 0xbeef;
		rc = sk_hostport_parse(s, host, &port, flags);
		if (rc > 0 || (rc < SK_ADDR_E_HOST && rc != SK_ADDR_E_IPV4))
			abort();
		if (sk_addr_strerror(rc) == NULL)
			abort();
		if (rc != 0)
			continue;
		check_host(host);
		if (host[0] == '\0' && !(flags & SK_HP_HOST_OPTIONAL))
			abort();
		if (strchr(host, ']') != NULL)
			abort();
		if (!(flags & SK_HP_PORT_OPTIONAL))
			round_trip(host, port, flags);
		else if (port != 0xbeef)
			round_trip(host, port, flags & SK_HP_HOST_OPTIONAL);
	}

	port = 0xbeef;
	if (sk_port_parse((const char *)data, size, &port) == 0) {
		unsigned long v = 0;

		if (size == 0 || size > 5)
			abort();
		for (size_t i = 0; i < size; i++) {
			if (data[i] < '0' || data[i] > '9')
				abort();
			v = v * 10 + (data[i] - '0');
		}
		if (v != port)
			abort();
	} else if (port != 0xbeef) {
		abort();
	}

	rc = sk_spec_parse(s, &spec);
	if (rc > 0 || rc < SK_ADDR_E_IPV4)
		abort();
	if (rc == 0 && spec.transports == SK_UNIX) {
		/* SERVICE=unix:PATH: the path is everything after "unix:",
		 * not empty, and fits sun_path; no port. */
		const char *p = strstr(s, "=unix:");

		if (p == NULL || spec.has_port || spec.port != 0 ||
		    spec.host[0] == '\0' ||
		    strlen(spec.host) >= SK_UNIX_PATH_MAX ||
		    strcmp(spec.host, p + 6) != 0)
			abort();
		free(s);
		return 0;
	}
	if (rc == 0) {
		size_t n = strnlen(spec.service, sizeof(spec.service));

		if (n == 0 || n >= sizeof(spec.service))
			abort();
		for (size_t i = 0; i < n; i++) {
			char c = spec.service[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				abort();
		}
		if (spec.transports != 0 && spec.transports != SK_TCP &&
		    spec.transports != SK_UDP)
			abort();
		check_host(spec.host);
		if (spec.has_port != 0 && spec.has_port != 1)
			abort();
		if (!spec.has_port && (spec.port != 0 || spec.host[0] != '\0'))
			abort();
		if (spec.has_port)
			round_trip(spec.host, spec.port, SK_HP_HOST_OPTIONAL);
		if (memcmp(s, spec.service, n) != 0)
			abort();
	}
	free(s);
	return 0;
}
