/* addr.c: HOST:PORT and listener-spec parsing. */
#include "addr.h"

#include <string.h>

int sk_port_parse(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int sk__sethost(char host[SK_HOST_MAX], const char *p, size_t n)
{
	if (n >= SK_HOST_MAX)
		return SK_ADDR_E_LONG;
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

/*
 * Digits and dots only, yet not a dotted-quad IPv4 address (1.2.3.4.5,
 * 300.1.1.1, 1..2): a typo, not a host name (a top-level domain is never
 * all digits, RFC 3696), and it must not go to DNS.
 */
static int sk__numeric_not_ipv4(const char *p, size_t n)
{
	unsigned parts = 1, digits = 0, v = 0;

	if (n == 0 || strspn(p, "0123456789.") < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (digits == 0)
				return 1;
			parts++;
			digits = v = 0;
			continue;
		}
		v = v * 10 + (unsigned)(p[i] - '0');
		if (++digits > 3 || v > 255)
			return 1;
	}
	return parts != 4 || digits == 0;
}

int sk_hostport_parse(const char *s, char host[SK_HOST_MAX], uint16_t *port,
		      int flags)
{
	const char *colon, *hend, *hbeg = s;
	size_t len = strlen(s);
	int rc;

	if (len == 0)
		return SK_ADDR_E_EMPTY;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || memchr(s + 1, '[', (size_t)(rb - s - 1)))
			return SK_ADDR_E_BRACKET;
		hbeg = s + 1;
		hend = rb;
		if (rb[1] == '\0')
			colon = NULL;
		else if (rb[1] == ':')
			colon = rb + 1;
		else
			return SK_ADDR_E_BRACKET;
	} else {
		if (strchr(s, ']') != NULL)
			return SK_ADDR_E_BRACKET;
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon) {
			/* A bare IPv6 literal: only without a port. */
			if (!(flags & SK_HP_PORT_OPTIONAL))
				return SK_ADDR_E_BRACKET;
			colon = NULL;
		}
		hend = colon != NULL ? colon : s + len;
	}
	if (hend == hbeg && !(flags & SK_HP_HOST_OPTIONAL))
		return SK_ADDR_E_HOST;
	if (colon == NULL && !(flags & SK_HP_PORT_OPTIONAL))
		return SK_ADDR_E_PORT;
	if (colon != NULL &&
	    sk_port_parse(colon + 1, strlen(colon + 1), port) != 0)
		return SK_ADDR_E_PORT;
	if (sk__numeric_not_ipv4(hbeg, (size_t)(hend - hbeg)))
		return SK_ADDR_E_IPV4;
	rc = sk__sethost(host, hbeg, (size_t)(hend - hbeg));
	return rc;
}

int sk_spec_parse(const char *s, struct sk_spec *spec)
{
	const char *eq = strchr(s, '='), *slash;
	size_t nlen;

	memset(spec, 0, sizeof(*spec));
	nlen = eq != NULL ? (size_t)(eq - s) : strlen(s);
	slash = memchr(s, '/', nlen);
	if (slash != NULL) {
		const char *t = slash + 1;
		size_t tl = nlen - (size_t)(t - s);

		if (tl == 3 && memcmp(t, "tcp", 3) == 0)
			spec->transports = SK_TCP;
		else if (tl == 3 && memcmp(t, "udp", 3) == 0)
			spec->transports = SK_UDP;
		else
			return SK_ADDR_E_SERVICE;
		nlen = (size_t)(slash - s);
	}
	if (nlen == 0 || nlen >= sizeof(spec->service))
		return SK_ADDR_E_SERVICE;
	for (size_t i = 0; i < nlen; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return SK_ADDR_E_SERVICE;
	memcpy(spec->service, s, nlen);
	spec->service[nlen] = '\0';
	if (eq == NULL)
		return 0;
	eq++;
	if (strncmp(eq, "unix:", 5) == 0) {
		size_t plen = strlen(eq + 5);

		if (spec->transports != 0)
			return SK_ADDR_E_SERVICE;
		if (plen == 0)
			return SK_ADDR_E_EMPTY;
		if (plen >= SK_UNIX_PATH_MAX || plen >= sizeof(spec->host))
			return SK_ADDR_E_PATH;
		spec->transports = SK_UNIX;
		memcpy(spec->host, eq + 5, plen + 1);
		return 0;
	}
	/* "=PORT" alone is shorthand for "=:PORT". */
	if (*eq != '\0' && strspn(eq, "0123456789") == strlen(eq)) {
		spec->has_port = 1;
		return sk_port_parse(eq, strlen(eq), &spec->port) == 0
			       ? 0
			       : SK_ADDR_E_PORT;
	}
	spec->has_port = 1;
	return sk_hostport_parse(eq, spec->host, &spec->port,
				 SK_HP_HOST_OPTIONAL);
}

const char *sk_addr_strerror(int err)
{
	switch (err) {
	case SK_ADDR_E_EMPTY:
		return "empty address";
	case SK_ADDR_E_PORT:
		return "port must be a number from 0 to 65535";
	case SK_ADDR_E_BRACKET:
		return "write IPv6 addresses as [ADDR]:PORT";
	case SK_ADDR_E_LONG:
		return "host name too long";
	case SK_ADDR_E_SERVICE:
		return "expected SERVICE[/tcp|/udp][=[ADDR]:PORT]";
	case SK_ADDR_E_HOST:
		return "host missing";
	case SK_ADDR_E_IPV4:
		return "not an IPv4 address (four numbers from 0 to 255)";
	case SK_ADDR_E_PATH:
		return "unix socket path longer than 107 bytes";
	default:
		return "bad address";
	}
}
