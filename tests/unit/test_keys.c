/*
 * test_keys.c: unit tests for src/proto/keys.c, pre-shared key files.
 *
 * Covers: the exact bytes a key parses to and formats back to; comments,
 * blank lines, CRLF and trailing blanks; every malformed form (one
 * field, a key of 63 or 65 digits or with a non-hex digit, a bad or
 * over-long identity, a duplicate, too many identities, an over-long
 * line) with its line number; lookup by identity, which is exact (no
 * prefix matches). Input sits right before a guard page (guard.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "keys.h"

#define HEX64 "000102030405060708090a0b0c0d0e0f" \
	      "101112131415161718191A1B1C1D1E1F"

static struct sk_keys keys;

static int parse(const char *s, size_t *line)
{
	return sk_keys_parse((const char *)sk_guard_place(s, strlen(s)),
			     strlen(s), &keys, line);
}

static void test_good(void **st)
{
	size_t line = 99;
	char out[200];

	(void)st;
	assert_int_equal(parse("# keys\n\nalice " HEX64 "\r\n"
			       "  bob.smith@host\t" HEX64 "  \n", &line), 0);
	assert_int_equal(line, 0);
	assert_int_equal(keys.n, 2);
	assert_string_equal(keys.k[0].id, "alice");
	for (int i = 0; i < SK_KEY_LEN; i++)
		assert_int_equal(keys.k[0].key[i], i);
	assert_ptr_equal(sk_keys_find(&keys, "bob.smith@host", 14), &keys.k[1]);
	assert_null(sk_keys_find(&keys, "alic", 4));
	assert_null(sk_keys_find(&keys, "alicex", 6));
	assert_int_equal(sk_key_format(&keys.k[0], out, sizeof(out)),
			 6 + 64 + 1);
	assert_string_equal(out, "alice " "000102030405060708090a0b0c0d0e0f"
				 "101112131415161718191a1b1c1d1e1f\n");
	assert_int_equal(sk_key_format(&keys.k[0], out, 71), -1);
	/* A file without a final LF, and an empty one. */
	assert_int_equal(parse("alice " HEX64, &line), 0);
	assert_int_equal(keys.n, 1);
	assert_int_equal(parse("", &line), 0);
	assert_int_equal(keys.n, 0);
}

static void test_bad(void **st)
{
	size_t line;
	char s[1200];

	(void)st;
	assert_int_equal(parse("alice\n", &line), SK_KEYS_E_SYNTAX);
	assert_int_equal(line, 1);
	assert_int_equal(parse("#\nalice 00\n", &line), SK_KEYS_E_KEY);
	assert_int_equal(line, 2);
	assert_int_equal(parse("alice " HEX64 "0\n", &line), SK_KEYS_E_KEY);
	assert_int_equal(parse("alice 0" HEX64 "\n", &line), SK_KEYS_E_KEY);
	snprintf(s, sizeof(s), "alice %.63sg\n", HEX64);
	assert_int_equal(parse(s, &line), SK_KEYS_E_KEY);
	assert_int_equal(parse("alice " HEX64 " extra\n", &line), SK_KEYS_E_KEY);
	assert_int_equal(parse("al/ice " HEX64 "\n", &line), SK_KEYS_E_ID);
	assert_int_equal(parse("al\x01ice " HEX64 "\n", &line), SK_KEYS_E_ID);
	memset(s, 'a', 65);
	snprintf(s + 65, sizeof(s) - 65, " %s\n", HEX64);
	assert_int_equal(parse(s, &line), SK_KEYS_E_ID);
	s[64] = ' '; /* 64 bytes of identity are fine */
	memcpy(s + 65, HEX64 "\n", 66);
	assert_int_equal(parse(s, &line), 0);
	assert_int_equal(parse("a " HEX64 "\nb " HEX64 "\na " HEX64 "\n", &line),
			 SK_KEYS_E_DUP);
	assert_int_equal(line, 3);
	memset(s, ' ', 600);
	s[600] = '\n';
	s[601] = '\0';
	assert_int_equal(parse(s, &line), SK_KEYS_E_LONG);
	assert_string_equal(sk_keys_strerror(SK_KEYS_E_KEY),
			    "a key is 64 hex digits (32 bytes)");
}

static void test_too_many(void **st)
{
	static char big[SK_KEYS_MAX * 80 + 100];
	size_t off = 0, line;

	(void)st;
	for (int i = 0; i <= SK_KEYS_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
					"id%d %s\n", i, HEX64);
	/* Too big for one guard page: parsed in place. */
	assert_int_equal(sk_keys_parse(big, off, &keys, &line), SK_KEYS_E_MANY);
	assert_int_equal(line, SK_KEYS_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
