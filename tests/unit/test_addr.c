/*
 * test_addr.c: unit tests for src/proto/addr.c.
 *
 * Covers HOST:PORT parsing (names, IPv4, [IPv6]:port, a bare IPv6 literal
 * with SK_HP_PORT_OPTIONAL, an empty host with SK_HP_HOST_OPTIONAL, every
 * enum sk_addr_err), ports 0, 65535, 65536, "abc", "" and six digits,
 * unbalanced brackets, the SK_HOST_MAX boundary, and listener specs:
 * `daytime=0.0.0.0:13`, `timefmt/udp=:8083`, `welcome`, the `x=8080`
 * shorthand, bad transports such as `/sctp`, and uppercase or garbage
 * service names.
 *
 * Every string is placed so that its NUL is the last byte before a guard
 * page (guard.h), and sk_port_parse() gets unterminated bytes there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "addr.h"
#include "guard.h"
#include "sk_limits.h"

/* A port value that no parse should leave behind by accident. */
#define PORT_UNSET 4242

static int hp(const char *s, char host[SK_HOST_MAX], uint16_t *port,
	      int flags)
{
	memset(host, 0x5a, SK_HOST_MAX);
	*port = PORT_UNSET;
	return sk_hostport_parse(sk_guard_str(s), host, port, flags);
}

static void assert_hp(const char *s, int flags, const char *host,
		      unsigned port)
{
	char h[SK_HOST_MAX];
	uint16_t p;

	assert_int_equal(hp(s, h, &p, flags), 0);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
}

static void assert_hp_err(const char *s, int flags, int err)
{
	char h[SK_HOST_MAX];
	uint16_t p;

	assert_int_equal(hp(s, h, &p, flags), err);
}

static int spec(const char *s, struct sk_spec *sp)
{
	memset(sp, 0x5a, sizeof(*sp));
	return sk_spec_parse(sk_guard_str(s), sp);
}

static void assert_spec(const char *s, const char *service,
			unsigned transports, const char *host, int has_port,
			unsigned port)
{
	struct sk_spec sp;

	assert_int_equal(spec(s, &sp), 0);
	assert_string_equal(sp.service, service);
	assert_int_equal(sp.transports, transports);
	assert_string_equal(sp.host, host);
	assert_int_equal(sp.has_port, has_port);
	assert_int_equal(sp.port, port);
}

static void assert_spec_err(const char *s, int err)
{
	struct sk_spec sp;

	assert_int_equal(spec(s, &sp), err);
}

/* ---- sk_port_parse ------------------------------------------------- */

static int port(const char *s, size_t len, uint16_t *p)
{
	*p = PORT_UNSET;
	return sk_port_parse(sk_guard_place(s, len), len, p);
}

static void test_port_parse(void **state)
{
	uint16_t p;

	(void)state;
	assert_int_equal(port("0", 1, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(port("1", 1, &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(port("65535", 5, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(port("00080", 5, &p), 0);
	assert_int_equal(p, 80);
	/* Only len bytes count. */
	assert_int_equal(port("80x", 2, &p), 0);
	assert_int_equal(p, 80);

	assert_int_equal(port("65536", 5, &p), -1);
	assert_int_equal(p, PORT_UNSET);
	assert_int_equal(port("99999", 5, &p), -1);
	assert_int_equal(port("000080", 6, &p), -1);
	assert_int_equal(port("4294967376", 10, &p), -1);
	assert_int_equal(port("", 0, &p), -1);
	assert_int_equal(port("abc", 3, &p), -1);
	assert_int_equal(port("8a", 2, &p), -1);
	assert_int_equal(port("-1", 2, &p), -1);
	assert_int_equal(port("+80", 3, &p), -1);
	assert_int_equal(port(" 80", 3, &p), -1);
	assert_int_equal(port("80 ", 3, &p), -1);
	assert_int_equal(port("0x50", 4, &p), -1);
	assert_int_equal(port("8\0", 2, &p), -1);
	assert_int_equal(p, PORT_UNSET);
}

/* ---- sk_hostport_parse --------------------------------------------- */

static void test_hostport_names_and_v4(void **state)
{
	(void)state;
	assert_hp("example.com:80", 0, "example.com", 80);
	assert_hp("localhost:8083", 0, "localhost", 8083);
	assert_hp("192.0.2.1:13", 0, "192.0.2.1", 13);
	assert_hp("0.0.0.0:0", 0, "0.0.0.0", 0);
	assert_hp("h:65535", 0, "h", 65535);
	assert_hp("a:00037", 0, "a", 37);
	/* The flags do not change a full HOST:PORT. */
	assert_hp("example.com:80", SK_HP_PORT_OPTIONAL | SK_HP_HOST_OPTIONAL,
		  "example.com", 80);
	/* Digits and dots are an IPv4 address or a typo, never a name for
	 * DNS; names with a letter are names. */
	assert_hp("255.255.255.255:1", 0, "255.255.255.255", 1);
	assert_hp("1.2.3.4a:1", 0, "1.2.3.4a", 1);
	assert_hp("1.2.3.4.example:1", 0, "1.2.3.4.example", 1);
	assert_hp_err("1.2.3.4.5:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("1.2.3.4.5", SK_HP_PORT_OPTIONAL, SK_ADDR_E_IPV4);
	assert_hp_err("256.1.1.1:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("1.2.3:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("1..3.4:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("1.2.3.4.:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("1234.1.1.1:80", 0, SK_ADDR_E_IPV4);
	assert_hp_err("12:80", 0, SK_ADDR_E_IPV4);
}

static void test_hostport_v6(void **state)
{
	(void)state;
	assert_hp("[2001:db8::1]:443", 0, "2001:db8::1", 443);
	assert_hp("[::1]:37", 0, "::1", 37);
	assert_hp("[::]:0", 0, "::", 0);
	assert_hp("[::ffff:192.0.2.1]:13", 0, "::ffff:192.0.2.1", 13);
	assert_hp("[fe80::1%eth0]:80", 0, "fe80::1%eth0", 80);
	/* Brackets around a name or IPv4 are only removed. */
	assert_hp("[localhost]:80", 0, "localhost", 80);
}

static void test_hostport_port_optional(void **state)
{
	(void)state;
	assert_hp("example.com", SK_HP_PORT_OPTIONAL, "example.com",
		  PORT_UNSET);
	assert_hp("192.0.2.1", SK_HP_PORT_OPTIONAL, "192.0.2.1", PORT_UNSET);
	assert_hp("[::1]", SK_HP_PORT_OPTIONAL, "::1", PORT_UNSET);
	/* A bare IPv6 literal is a host, never host:port. */
	assert_hp("::1", SK_HP_PORT_OPTIONAL, "::1", PORT_UNSET);
	assert_hp("2001:db8::80", SK_HP_PORT_OPTIONAL, "2001:db8::80",
		  PORT_UNSET);
	assert_hp("::", SK_HP_PORT_OPTIONAL, "::", PORT_UNSET);
	/* But one colon still means a port. */
	assert_hp("host:80", SK_HP_PORT_OPTIONAL, "host", 80);
	assert_hp_err("host:", SK_HP_PORT_OPTIONAL, SK_ADDR_E_PORT);
	assert_hp_err("host:x", SK_HP_PORT_OPTIONAL, SK_ADDR_E_PORT);
	assert_hp_err("[::1]:", SK_HP_PORT_OPTIONAL, SK_ADDR_E_PORT);

	/* Without the flag, all of these need a port. */
	assert_hp_err("example.com", 0, SK_ADDR_E_PORT);
	assert_hp_err("[::1]", 0, SK_ADDR_E_PORT);
	assert_hp_err("::1", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("2001:db8::1:80", 0, SK_ADDR_E_BRACKET);
}

static void test_hostport_host_optional(void **state)
{
	(void)state;
	assert_hp(":80", SK_HP_HOST_OPTIONAL, "", 80);
	assert_hp("[]:80", SK_HP_HOST_OPTIONAL, "", 80);
	assert_hp_err(":80", 0, SK_ADDR_E_HOST);
	assert_hp_err("[]:80", 0, SK_ADDR_E_HOST);
	assert_hp_err(":", SK_HP_HOST_OPTIONAL, SK_ADDR_E_PORT);
	assert_hp_err(":", 0, SK_ADDR_E_HOST);
}

static void test_hostport_ports(void **state)
{
	(void)state;
	assert_hp_err("h:65536", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:99999", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:123456", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:abc", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:-1", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:8 0", 0, SK_ADDR_E_PORT);
	assert_hp_err("h:80 ", 0, SK_ADDR_E_PORT);
	assert_hp_err("[::1]:65536", 0, SK_ADDR_E_PORT);
	assert_hp_err("[::1]:abc", 0, SK_ADDR_E_PORT);
}

static void test_hostport_brackets(void **state)
{
	(void)state;
	assert_hp_err("[::1:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[::1", SK_HP_PORT_OPTIONAL, SK_ADDR_E_BRACKET);
	assert_hp_err("[", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("::1]:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("]", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("host]:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[::1]80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[::1]x:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[::1]]:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[[::1]:80", 0, SK_ADDR_E_BRACKET);
	assert_hp_err("[a[b]:80", 0, SK_ADDR_E_BRACKET);
}

static void test_hostport_empty(void **state)
{
	(void)state;
	assert_hp_err("", 0, SK_ADDR_E_EMPTY);
	assert_hp_err("", SK_HP_PORT_OPTIONAL | SK_HP_HOST_OPTIONAL,
		      SK_ADDR_E_EMPTY);
}

static void test_hostport_long(void **state)
{
	char s[SK_HOST_MAX + 16];
	char want[SK_HOST_MAX];

	(void)state;
	/* SK_HOST_MAX - 1 = 255 bytes of host: the longest that fits. */
	memset(s, 'a', SK_HOST_MAX - 1);
	memcpy(s + SK_HOST_MAX - 1, ":80", 4);
	memset(want, 'a', SK_HOST_MAX - 1);
	want[SK_HOST_MAX - 1] = '\0';
	assert_hp(s, 0, want, 80);

	/* 256 bytes: one too many. */
	memset(s, 'a', SK_HOST_MAX);
	memcpy(s + SK_HOST_MAX, ":80", 4);
	assert_hp_err(s, 0, SK_ADDR_E_LONG);
	s[SK_HOST_MAX] = '\0';
	assert_hp_err(s, SK_HP_PORT_OPTIONAL, SK_ADDR_E_LONG);

	/* The same inside brackets. */
	s[0] = '[';
	memset(s + 1, 'b', SK_HOST_MAX);
	memcpy(s + 1 + SK_HOST_MAX, "]:80", 5);
	assert_hp_err(s, 0, SK_ADDR_E_LONG);
	memset(s + 1, 'b', SK_HOST_MAX - 1);
	memcpy(s + SK_HOST_MAX, "]:80", 5);
	memset(want, 'b', SK_HOST_MAX - 1);
	assert_hp(s, 0, want, 80);
}

/* ---- sk_spec_parse ------------------------------------------------- */

static void test_spec_examples(void **state)
{
	(void)state;
	assert_spec("daytime=0.0.0.0:13", "daytime", 0, "0.0.0.0", 1, 13);
	assert_spec("timefmt/udp=:8083", "timefmt", SK_UDP, "", 1, 8083);
	assert_spec("welcome", "welcome", 0, "", 0, 0);
	assert_spec("x=8080", "x", 0, "", 1, 8080);
	assert_spec("time/tcp", "time", SK_TCP, "", 0, 0);
	assert_spec("time/udp", "time", SK_UDP, "", 0, 0);
	assert_spec("daytime/udp=[::]:13", "daytime", SK_UDP, "::", 1, 13);
	assert_spec("welcome/tcp=[2001:db8::1]:2323", "welcome", SK_TCP,
		    "2001:db8::1", 1, 2323);
	assert_spec("echo7=localhost:7", "echo7", 0, "localhost", 1, 7);
	assert_spec("x=0", "x", 0, "", 1, 0);
	assert_spec("x=65535", "x", 0, "", 1, 65535);
	assert_spec("x=:0", "x", 0, "", 1, 0);
	assert_spec("x=[]:9", "x", 0, "", 1, 9);
}

static void test_spec_unix(void **state)
{
	char s[SK_UNIX_PATH_MAX + 16];

	(void)state;
	assert_spec("exec=unix:/run/sockit/exec.sock", "exec", SK_UNIX,
		    "/run/sockit/exec.sock", 0, 0);
	assert_spec("x=unix:rel", "x", SK_UNIX, "rel", 0, 0);
	/* A colon in the path is the path's. */
	assert_spec("x=unix:/a:1", "x", SK_UNIX, "/a:1", 0, 0);
	assert_spec_err("x=unix:", SK_ADDR_E_EMPTY);
	assert_spec_err("x/tcp=unix:/a", SK_ADDR_E_SERVICE);
	assert_spec_err("x/udp=unix:/a", SK_ADDR_E_SERVICE);
	/* 107 bytes fit sun_path with its NUL; 108 do not. */
	memcpy(s, "x=unix:", 7);
	memset(s + 7, 'p', SK_UNIX_PATH_MAX - 1);
	s[7 + SK_UNIX_PATH_MAX - 1] = '\0';
	assert_int_equal(spec(s, &(struct sk_spec){ 0 }), 0);
	s[7 + SK_UNIX_PATH_MAX - 1] = 'p';
	s[7 + SK_UNIX_PATH_MAX] = '\0';
	assert_spec_err(s, SK_ADDR_E_PATH);
}

static void test_spec_service_names(void **state)
{
	char s[SK_SERVICE_NAME_MAX + 8];
	char want[SK_SERVICE_NAME_MAX];

	(void)state;
	assert_spec_err("", SK_ADDR_E_SERVICE);
	assert_spec_err("Daytime", SK_ADDR_E_SERVICE);
	assert_spec_err("DAYTIME=:13", SK_ADDR_E_SERVICE);
	assert_spec_err("day-time", SK_ADDR_E_SERVICE);
	assert_spec_err("day_time", SK_ADDR_E_SERVICE);
	assert_spec_err("day time", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime ", SK_ADDR_E_SERVICE);
	assert_spec_err("caf\xc3\xa9", SK_ADDR_E_SERVICE);
	assert_spec_err("\xff\xfe", SK_ADDR_E_SERVICE);
	assert_spec_err("a:b", SK_ADDR_E_SERVICE);
	assert_spec_err("=8080", SK_ADDR_E_SERVICE);
	assert_spec_err("/tcp", SK_ADDR_E_SERVICE);
	assert_spec_err("/tcp=:1", SK_ADDR_E_SERVICE);

	/* 31 bytes fit SK_SERVICE_NAME_MAX with the NUL; 32 do not. */
	memset(s, 'a', SK_SERVICE_NAME_MAX - 1);
	s[SK_SERVICE_NAME_MAX - 1] = '\0';
	memcpy(want, s, SK_SERVICE_NAME_MAX);
	assert_spec(s, want, 0, "", 0, 0);
	memset(s, 'a', SK_SERVICE_NAME_MAX);
	s[SK_SERVICE_NAME_MAX] = '\0';
	assert_spec_err(s, SK_ADDR_E_SERVICE);
	memcpy(s + SK_SERVICE_NAME_MAX, "/udp", 5);
	assert_spec_err(s, SK_ADDR_E_SERVICE);
}

static void test_spec_transports(void **state)
{
	(void)state;
	assert_spec_err("daytime/sctp", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/sctp=:13", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/=:13", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/TCP", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/tc", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/tcpx", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime/tcp/udp", SK_ADDR_E_SERVICE);
	assert_spec_err("daytime//tcp", SK_ADDR_E_SERVICE);
}

static void test_spec_addresses(void **state)
{
	(void)state;
	assert_spec_err("x=", SK_ADDR_E_EMPTY);
	assert_spec_err("x=65536", SK_ADDR_E_PORT);
	assert_spec_err("x=123456", SK_ADDR_E_PORT);
	assert_spec_err("x=abc", SK_ADDR_E_PORT);
	assert_spec_err("x=host", SK_ADDR_E_PORT);
	assert_spec_err("x=:", SK_ADDR_E_PORT);
	assert_spec_err("x=:abc", SK_ADDR_E_PORT);
	assert_spec_err("x=-1", SK_ADDR_E_PORT);
	assert_spec_err("x=[::1]", SK_ADDR_E_PORT);
	assert_spec_err("x=::1", SK_ADDR_E_BRACKET);
	assert_spec_err("x=[::1:80", SK_ADDR_E_BRACKET);
	/* Host names are not checked here; the resolver refuses them. */
	assert_spec("x=a=b:1", "x", 0, "a=b", 1, 1);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_EMPTY),
			    "empty address");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_PORT),
			    "port must be a number from 0 to 65535");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_BRACKET),
			    "write IPv6 addresses as [ADDR]:PORT");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_LONG),
			    "host name too long");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_SERVICE),
			    "expected SERVICE[/tcp|/udp][=[ADDR]:PORT]");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_HOST), "host missing");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_PATH),
			    "unix socket path longer than 107 bytes");
	assert_string_equal(sk_addr_strerror(SK_ADDR_E_IPV4),
			    "not an IPv4 address (four numbers from 0 to 255)");
	assert_string_equal(sk_addr_strerror(0), "bad address");
	assert_string_equal(sk_addr_strerror(-9), "bad address");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_parse),
		cmocka_unit_test(test_hostport_names_and_v4),
		cmocka_unit_test(test_hostport_v6),
		cmocka_unit_test(test_hostport_port_optional),
		cmocka_unit_test(test_hostport_host_optional),
		cmocka_unit_test(test_hostport_ports),
		cmocka_unit_test(test_hostport_brackets),
		cmocka_unit_test(test_hostport_empty),
		cmocka_unit_test(test_hostport_long),
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_spec_unix),
		cmocka_unit_test(test_spec_service_names),
		cmocka_unit_test(test_spec_transports),
		cmocka_unit_test(test_spec_addresses),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
