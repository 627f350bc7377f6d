/*
 * addr.h: parsing of HOST:PORT and of `sockit serve` listener specs, with
 * no I/O (names are not resolved here).
 *
 *     host:port   name:port, 192.0.2.1:port, [2001:db8::1]:port
 *     host        when the port may be left out; a bare IPv6 literal too
 *     :port       an empty host: the caller's default addresses
 *
 *     SERVICE[/tcp|/udp][=[ADDR]:PORT]   e.g. daytime/udp=0.0.0.0:13
 */
#ifndef SK_ADDR_H
#define SK_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "sk_limits.h"

enum sk_addr_err {
	SK_ADDR_E_EMPTY = -1,   /* nothing to parse */
	SK_ADDR_E_PORT = -2,    /* port missing, not a number, or > 65535 */
	SK_ADDR_E_BRACKET = -3, /* unbalanced [ ] */
	SK_ADDR_E_LONG = -4,    /* host longer than SK_HOST_MAX - 1 */
	SK_ADDR_E_SERVICE = -5, /* bad service name or transport */
	SK_ADDR_E_HOST = -6,    /* host needed but missing */
	SK_ADDR_E_PATH = -7,    /* unix socket path too long */
	SK_ADDR_E_IPV4 = -8,    /* digits and dots, but no IPv4 address */
};

/* Flags for sk_hostport_parse(). */
#define SK_HP_PORT_OPTIONAL 1 /* "host" alone is fine; *port is untouched */
#define SK_HP_HOST_OPTIONAL 2 /* ":port" is fine; host is set to "" */

/*
 * Parse s (NUL-terminated) into host (SK_HOST_MAX bytes, NUL-terminated,
 * brackets removed) and *port. Returns 0, or a negative enum sk_addr_err.
 */
int sk_hostport_parse(const char *s, char host[SK_HOST_MAX], uint16_t *port,
		      int flags);

/* Parse a decimal port 0..65535 of len bytes. Returns 0 or -1. */
int sk_port_parse(const char *s, size_t len, uint16_t *port);

#define SK_TCP 1u
#define SK_UDP 2u
#define SK_UNIX 4u /* a unix stream socket, for services with SK_TCP */

/* A unix socket path, with its NUL (sun_path's size on Linux). */
#define SK_UNIX_PATH_MAX 108

/* Room for a service name, with its NUL. */
#define SK_SERVICE_NAME_MAX 32

/* A parsed `SERVICE[/tcp|/udp][=[ADDR]:PORT]` or `SERVICE=unix:PATH`
 * (then transports is SK_UNIX and host holds PATH). */
struct sk_spec {
	char service[SK_SERVICE_NAME_MAX]; /* the service name as written */
	unsigned transports;               /* SK_TCP|SK_UDP, 0 if not given */
	char host[SK_HOST_MAX];            /* "" means the default addresses */
	int has_port;                      /* 1 when a port was given */
	uint16_t port;                     /* the port, if has_port */
};

/* Parse a listener spec. Returns 0 or a negative enum sk_addr_err. The
 * service name is not looked up here. */
int sk_spec_parse(const char *s, struct sk_spec *spec);

const char *sk_addr_strerror(int err);

#endif
