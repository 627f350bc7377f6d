/*
 * test_acl.c: unit tests for src/proto/acl.c, address prefix lists.
 *
 * Covers parsing (IPv4 and IPv6 addresses with and without a prefix
 * length, the whole-internet prefixes, and every malformed form: empty,
 * no address, a length over the family's width, an empty or non-numeric
 * length, bad octets, names), matching at byte-aligned and unaligned
 * prefix lengths (/20, /63) right at the prefix's edges, family
 * separation (an IPv4 entry never matches IPv6 and the other way round,
 * except that an IPv4-mapped ::ffff:a.b.c.d source is IPv4), the empty
 * list allowing everyone, and the SK_ACL_MAX limit.
 *
 * Strings are parsed, and addresses matched, from right before a guard
 * page (guard.h), so reading past either faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "guard.h"

static int parse(const char *s, struct sk_cidr *c)
{
	memset(c, 0xa5, sizeof(*c));
	return sk_cidr_parse(sk_guard_str(s), c);
}

/* Does acl allow addr (n = 4 or 16 bytes), read from before the guard? */
static int allows(const struct sk_acl *acl, const void *addr, size_t n)
{
	return sk_acl_allows(acl, sk_guard_place(addr, n), n == 16);
}

/* An ACL holding the single entry s. */
static void acl1(struct sk_acl *acl, const char *s)
{
	struct sk_cidr c;

	memset(acl, 0, sizeof(*acl));
	assert_int_equal(parse(s, &c), 0);
	assert_int_equal(sk_acl_add(acl, &c), 0);
}

static const uint8_t v4_192_0_2_1[4] = { 192, 0, 2, 1 };

/* ::ffff:a.b.c.d */
static void mapped(uint8_t out[16], const uint8_t v4[4])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

/* ---- parsing ------------------------------------------------------- */

static void test_parse_good(void **state)
{
	static const uint8_t loop6[16] = { [15] = 1 };
	static const uint8_t doc6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t zero[16] = { 0 };
	struct sk_cidr c;

	(void)state;
	assert_int_equal(parse("192.0.2.0/24", &c), 0);
	assert_int_equal(c.v6, 0);
	assert_int_equal(c.bits, 24);
	assert_memory_equal(c.addr, "\xc0\x00\x02\x00", 4);

	/* A bare address is the whole address. */
	assert_int_equal(parse("10.0.0.1", &c), 0);
	assert_int_equal(c.v6, 0);
	assert_int_equal(c.bits, 32);
	assert_memory_equal(c.addr, "\x0a\x00\x00\x01", 4);

	assert_int_equal(parse("::1", &c), 0);
	assert_int_equal(c.v6, 1);
	assert_int_equal(c.bits, 128);
	assert_memory_equal(c.addr, loop6, 16);

	assert_int_equal(parse("2001:db8::/32", &c), 0);
	assert_int_equal(c.v6, 1);
	assert_int_equal(c.bits, 32);
	assert_memory_equal(c.addr, doc6, 16);

	assert_int_equal(parse("0.0.0.0/0", &c), 0);
	assert_int_equal(c.v6, 0);
	assert_int_equal(c.bits, 0);
	assert_memory_equal(c.addr, zero, 4);

	assert_int_equal(parse("::/0", &c), 0);
	assert_int_equal(c.v6, 1);
	assert_int_equal(c.bits, 0);
	assert_memory_equal(c.addr, zero, 16);

	/* The full widths are allowed. */
	assert_int_equal(parse("1.2.3.4/32", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(parse("::1/128", &c), 0);
	assert_int_equal(c.bits, 128);
	assert_int_equal(parse("2001:db8:1:2::/63", &c), 0);
	assert_int_equal(c.bits, 63);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"/8",
		"/",
		"1.2.3.4/33",
		"1.2.3.4/99999",
		"1.2.3.4/65568", /* 65568 mod 65536 is 32 */
		"::1/129",
		"::/65664",      /* 65664 mod 65536 is 128 */
		"1.2.3.4/",
		"1.2.3.4/x",
		"1.2.3.4/-1",
		"1.2.3.4/+8",
		"1.2.3.4/ 8",
		"1.2.3.4/8 ",
		"1.2.3.4/8/8",
		"1.2.3.4 /8",
		"300.1.1.1",
		"1.2.3",
		"1.2.3.4.5",
		"host.name",
		"localhost",
		"::1::2",
		"[::1]",
		"[::1]/128",
		" 10.0.0.1",
		"10.0.0.1 ",
	};
	char big[1024];
	struct sk_cidr c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &c) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);

	/* Longer than any address, with and without a length. */
	memset(big, '1', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &c), -1);
	memcpy(big + 100, "/8", 3);
	assert_int_equal(parse(big, &c), -1);
}

/* ---- matching ------------------------------------------------------ */

static void test_match_v4(void **state)
{
	struct sk_acl acl;

	(void)state;
	acl1(&acl, "192.0.2.0/24");
	assert_true(allows(&acl, "\xc0\x00\x02\x00", 4));
	assert_true(allows(&acl, "\xc0\x00\x02\x01", 4));
	assert_true(allows(&acl, "\xc0\x00\x02\xff", 4));
	assert_false(allows(&acl, "\xc0\x00\x03\x00", 4));
	assert_false(allows(&acl, "\xc0\x00\x01\xff", 4));
	assert_false(allows(&acl, "\x40\x00\x02\x01", 4));

	/* A whole address. */
	acl1(&acl, "10.0.0.1");
	assert_true(allows(&acl, "\x0a\x00\x00\x01", 4));
	assert_false(allows(&acl, "\x0a\x00\x00\x02", 4));
	assert_false(allows(&acl, "\x0a\x00\x00\x00", 4));
	assert_false(allows(&acl, "\x8a\x00\x00\x01", 4));

	/* Everyone (IPv4). */
	acl1(&acl, "0.0.0.0/0");
	assert_true(allows(&acl, "\x00\x00\x00\x00", 4));
	assert_true(allows(&acl, "\xff\xff\xff\xff", 4));
	assert_true(allows(&acl, v4_192_0_2_1, 4));

	/* Host bits in the entry do not matter. */
	acl1(&acl, "192.0.2.77/24");
	assert_true(allows(&acl, "\xc0\x00\x02\x01", 4));
	assert_false(allows(&acl, "\xc0\x00\x03\x4d", 4));
}

/* /20: the prefix ends inside the third byte. */
static void test_match_v4_unaligned(void **state)
{
	struct sk_acl acl;

	(void)state;
	acl1(&acl, "172.16.16.0/20");
	/* 172.16.16.0 - 172.16.31.255 */
	assert_true(allows(&acl, "\xac\x10\x10\x00", 4));
	assert_true(allows(&acl, "\xac\x10\x1f\xff", 4));
	assert_true(allows(&acl, "\xac\x10\x18\x05", 4));
	assert_false(allows(&acl, "\xac\x10\x0f\xff", 4));
	assert_false(allows(&acl, "\xac\x10\x20\x00", 4));
	assert_false(allows(&acl, "\xac\x11\x10\x00", 4));

	/* Every length from 1 to 32: the last bit in the prefix counts,
	 * the first bit after it does not. */
	for (unsigned bits = 1; bits <= 32; bits++) {
		char s[32];
		uint8_t in[4] = { 0x5a, 0x5a, 0x5a, 0x5a }, out[4];

		snprintf(s, sizeof(s), "90.90.90.90/%u", bits);
		acl1(&acl, s);
		assert_true(allows(&acl, in, 4));
		memcpy(out, in, 4);
		out[(bits - 1) / 8] ^= (uint8_t)(0x80 >> ((bits - 1) % 8));
		assert_false(allows(&acl, out, 4));
		if (bits < 32) {
			memcpy(out, in, 4);
			out[bits / 8] ^= (uint8_t)(0x80 >> (bits % 8));
			assert_true(allows(&acl, out, 4));
		}
	}
}

static void test_match_v6(void **state)
{
	struct sk_acl acl;
	uint8_t a[16];

	(void)state;
	acl1(&acl, "2001:db8::/32");
	memset(a, 0xee, sizeof(a));
	memcpy(a, "\x20\x01\x0d\xb8", 4);
	assert_true(allows(&acl, a, 16));
	a[3] = 0xb9;
	assert_false(allows(&acl, a, 16));

	acl1(&acl, "::1");
	assert_true(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
	assert_false(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16));
	assert_false(allows(&acl, "\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01",
			    16));

	acl1(&acl, "::/0");
	assert_true(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
	memset(a, 0xff, sizeof(a));
	assert_true(allows(&acl, a, 16));
}

/* /63: the prefix ends one bit before the /64 boundary. */
static void test_match_v6_unaligned(void **state)
{
	struct sk_acl acl;
	/* 2001:db8:1:2:: and 2001:db8:1:3:: are in 2001:db8:1:2::/63 */
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02 };

	(void)state;
	acl1(&acl, "2001:db8:1:2::/63");
	assert_true(allows(&acl, a, 16));
	a[7] = 0x03;
	a[15] = 0x42;
	assert_true(allows(&acl, a, 16));
	a[7] = 0x04;
	assert_false(allows(&acl, a, 16));
	a[7] = 0x01;
	assert_false(allows(&acl, a, 16));
	a[7] = 0x02;
	a[6] = 0x80;
	assert_false(allows(&acl, a, 16));

	for (unsigned bits = 1; bits <= 128; bits++) {
		char s[64];
		uint8_t in[16], out[16];

		memset(in, 0xa5, sizeof(in));
		snprintf(s, sizeof(s),
			 "a5a5:a5a5:a5a5:a5a5:a5a5:a5a5:a5a5:a5a5/%u", bits);
		acl1(&acl, s);
		assert_true(allows(&acl, in, 16));
		memcpy(out, in, 16);
		out[(bits - 1) / 8] ^= (uint8_t)(0x80 >> ((bits - 1) % 8));
		assert_false(allows(&acl, out, 16));
		if (bits < 128) {
			memcpy(out, in, 16);
			out[bits / 8] ^= (uint8_t)(0x80 >> (bits % 8));
			assert_true(allows(&acl, out, 16));
		}
	}
}

static void test_family_separation(void **state)
{
	struct sk_acl acl;
	uint8_t m[16], a6[16];

	(void)state;
	/* 0.0.0.0/0 is every IPv4 address and no IPv6 one. */
	acl1(&acl, "0.0.0.0/0");
	assert_false(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
	memset(a6, 0, sizeof(a6));
	assert_false(allows(&acl, a6, 16));
	/* ...except an IPv4-mapped one, which is IPv4. */
	mapped(m, v4_192_0_2_1);
	assert_true(allows(&acl, m, 16));

	/* ::/0 is every IPv6 address and no IPv4 one. */
	acl1(&acl, "::/0");
	assert_false(allows(&acl, v4_192_0_2_1, 4));
	assert_false(allows(&acl, "\0\0\0\0", 4));
	assert_false(allows(&acl, m, 16));

	/* An IPv4 entry and the IPv6 address with the same first bytes. */
	acl1(&acl, "192.0.2.0/24");
	memset(a6, 0, sizeof(a6));
	memcpy(a6, v4_192_0_2_1, 4);
	assert_false(allows(&acl, a6, 16));
	assert_true(allows(&acl, v4_192_0_2_1, 4));
	assert_true(allows(&acl, m, 16));
	mapped(m, (const uint8_t *)"\xc0\x00\x03\x01");
	assert_false(allows(&acl, m, 16));
	/* ::192.0.2.1 (the old IPv4-compatible form) is not mapped. */
	memset(a6, 0, sizeof(a6));
	memcpy(a6 + 12, v4_192_0_2_1, 4);
	assert_false(allows(&acl, a6, 16));
	/* Nor is 0:0:0:0:0:fffe:c000:201. */
	a6[10] = 0xff;
	a6[11] = 0xfe;
	assert_false(allows(&acl, a6, 16));

	/* An IPv6 entry whose first 4 bytes spell an IPv4 address. */
	acl1(&acl, "c000:201::/32");
	assert_false(allows(&acl, v4_192_0_2_1, 4));
	memset(a6, 0, sizeof(a6));
	memcpy(a6, v4_192_0_2_1, 4);
	assert_true(allows(&acl, a6, 16));
}

/*
 * An entry written in the mapped form is an IPv4 prefix, as a mapped
 * source is an IPv4 address: `allow ::ffff:192.0.2.0/120` allows
 * 192.0.2.0/24, from either spelling.
 */
static void test_mapped_entry(void **state)
{
	struct sk_acl acl;
	struct sk_cidr c;
	uint8_t m[16];

	(void)state;
	assert_int_equal(parse("::ffff:192.0.2.0/120", &c), 0);
	assert_int_equal(c.v6, 0);
	assert_int_equal(c.bits, 24);
	assert_memory_equal(c.addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(parse("::ffff:10.0.0.1", &c), 0);
	assert_int_equal(c.v6, 0);
	assert_int_equal(c.bits, 32);
	assert_memory_equal(c.addr, "\x0a\x00\x00\x01", 4);

	acl1(&acl, "::ffff:192.0.2.0/120");
	assert_true(allows(&acl, v4_192_0_2_1, 4));
	mapped(m, v4_192_0_2_1);
	assert_true(allows(&acl, m, 16));
	assert_false(allows(&acl, "\xc0\x00\x03\x01", 4));

	/* ::ffff:0:0/96 is all of IPv4. */
	acl1(&acl, "::ffff:0.0.0.0/96");
	assert_true(allows(&acl, v4_192_0_2_1, 4));
	assert_true(allows(&acl, "\xff\xff\xff\xff", 4));
	assert_false(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
}

static void test_empty_allows_all(void **state)
{
	struct sk_acl acl;
	uint8_t a6[16];

	(void)state;
	memset(&acl, 0, sizeof(acl));
	assert_true(allows(&acl, v4_192_0_2_1, 4));
	assert_true(allows(&acl, "\0\0\0\0", 4));
	memset(a6, 0x77, sizeof(a6));
	assert_true(allows(&acl, a6, 16));
	mapped(a6, v4_192_0_2_1);
	assert_true(allows(&acl, a6, 16));
}

static void test_several_entries(void **state)
{
	static const char *const list[] = { "10.0.0.0/8", "192.0.2.1",
					    "2001:db8::/32", "::1" };
	struct sk_acl acl;
	struct sk_cidr c;

	(void)state;
	memset(&acl, 0, sizeof(acl));
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		assert_int_equal(parse(list[i], &c), 0);
		assert_int_equal(sk_acl_add(&acl, &c), 0);
	}
	assert_int_equal(acl.n, 4);
	assert_true(allows(&acl, "\x0a\x63\x00\x01", 4));
	assert_true(allows(&acl, v4_192_0_2_1, 4));
	assert_false(allows(&acl, "\xc0\x00\x02\x02", 4));
	assert_true(allows(&acl, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09",
			   16));
	assert_true(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
	assert_false(allows(&acl, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16));
	assert_false(allows(&acl, "\x0b\x00\x00\x01", 4));
}

static void test_max_entries(void **state)
{
	const uint8_t last[4] = { 10, SK_ACL_MAX - 1, 7, 7 };
	struct sk_acl acl;
	struct sk_cidr c;
	char s[32];

	(void)state;
	memset(&acl, 0, sizeof(acl));
	for (unsigned i = 0; i < SK_ACL_MAX; i++) {
		snprintf(s, sizeof(s), "10.%u.0.0/16", i);
		assert_int_equal(parse(s, &c), 0);
		assert_int_equal(sk_acl_add(&acl, &c), 0);
	}
	assert_int_equal(acl.n, SK_ACL_MAX);
	/* The list is full: the next one is refused and nothing changes. */
	assert_int_equal(parse("192.0.2.0/24", &c), 0);
	assert_int_equal(sk_acl_add(&acl, &c), -1);
	assert_int_equal(sk_acl_add(&acl, &c), -1);
	assert_int_equal(acl.n, SK_ACL_MAX);
	assert_false(allows(&acl, v4_192_0_2_1, 4));
	/* The first and the last entry both match. */
	assert_true(allows(&acl, "\x0a\x00\x01\x02", 4));
	assert_true(allows(&acl, last, 4));
	assert_false(allows(&acl, "\x0a\xff\x00\x01", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_match_v4),
		cmocka_unit_test(test_match_v4_unaligned),
		cmocka_unit_test(test_match_v6),
		cmocka_unit_test(test_match_v6_unaligned),
		cmocka_unit_test(test_family_separation),
		cmocka_unit_test(test_mapped_entry),
		cmocka_unit_test(test_empty_allows_all),
		cmocka_unit_test(test_several_entries),
		cmocka_unit_test(test_max_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
