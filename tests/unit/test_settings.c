/*
 * test_settings.c: unit tests for src/net/settings.c, settings from
 * their declarations.
 *
 * Covers: whole numbers at and past both bounds, signs, blanks, trailing
 * garbage and overflow; negative bounds for SK_OPT_INT; strings that are
 * empty or do not fit; custom parsers and their messages; defaults; the
 * exact error texts the daemon prints; the limit keys all address fields
 * of struct sk_svc_limits; and the help lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/settings.h"

struct demo {
	unsigned u;
	int i;
	char s[8];
	unsigned calls;
};

static int demo_parse(void *settings, const char *val, char *err, size_t cap)
{
	struct demo *d = settings;

	if (strcmp(val, "good") != 0) {
		snprintf(err, cap, "'%s' is not good", val);
		return -1;
	}
	d->calls++;
	return 0;
}

static const struct sk_opt demo_opts[] = {
	SK_OPT_NUM(SK_OPT_UINT, "u", offsetof(struct demo, u), 1, 100, "7", "N",
		   "a number"),
	SK_OPT_NUM(SK_OPT_INT, "i", offsetof(struct demo, i), -19, 12, "-3",
		   "L", "a signed one"),
	{ .name = "s", .type = SK_OPT_STR, .off = offsetof(struct demo, s),
	  .size = sizeof(((struct demo *)0)->s), .arg = "S", .help = "text" },
	{ .name = "f", .type = SK_OPT_FUNC, .arg = "X", .help = "custom\nmore",
	  .parse = demo_parse, .flags = SK_OPT_REPEAT },
	SK_OPT_END,
};

static int set(struct demo *d, const char *key, const char *val, char *err)
{
	const struct sk_opt *o = sk_opt_find(demo_opts, key);

	assert_non_null(o);
	return sk_opt_set(o, d, val, err, 200);
}

static void test_numbers(void **st)
{
	struct demo d;
	char err[200];

	(void)st;
	memset(&d, 0, sizeof(d));
	assert_int_equal(set(&d, "u", "1", err), 0);
	assert_int_equal(d.u, 1);
	assert_int_equal(set(&d, "u", "100", err), 0);
	assert_int_equal(d.u, 100);
	for (const char *bad[] = { "0", "101", "-1", "+5", " 5", "5 ", "5x", "",
				   "0x10", "99999999999999999999999" },
	     **b = bad; b < bad + 10; b++) {
		assert_int_equal(set(&d, "u", *b, err), -1);
		assert_int_equal(d.u, 100);
	}
	assert_int_equal(set(&d, "u", "lots", err), -1);
	assert_string_equal(err, "'lots' is not a whole number from 1 to 100");
	assert_int_equal(set(&d, "i", "-19", err), 0);
	assert_int_equal(d.i, -19);
	assert_int_equal(set(&d, "i", "12", err), 0);
	assert_int_equal(d.i, 12);
	assert_int_equal(set(&d, "i", "-20", err), -1);
	assert_int_equal(set(&d, "i", "13", err), -1);
	assert_string_equal(err, "'13' is not a whole number from -19 to 12");
}

static void test_strings_and_custom(void **st)
{
	struct demo d;
	char err[200];

	(void)st;
	memset(&d, 0, sizeof(d));
	assert_int_equal(set(&d, "s", "1234567", err), 0);
	assert_string_equal(d.s, "1234567");
	assert_int_equal(set(&d, "s", "12345678", err), -1);
	assert_string_equal(d.s, "1234567");
	assert_int_equal(set(&d, "s", "", err), -1);
	assert_int_equal(set(&d, "f", "good", err), 0);
	assert_int_equal(set(&d, "f", "good", err), 0);
	assert_int_equal(d.calls, 2);
	assert_int_equal(set(&d, "f", "bad", err), -1);
	assert_string_equal(err, "'bad' is not good");
	assert_null(sk_opt_find(demo_opts, "nope"));
	assert_null(sk_opt_find(NULL, "u"));
}

static void test_defaults(void **st)
{
	struct demo d;
	char err[200];

	(void)st;
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(sk_opts_defaults(demo_opts, &d, err, sizeof(err)), 0);
	assert_int_equal(d.u, 7);
	assert_int_equal(d.i, -3);
}

static void test_limit_keys(void **st)
{
	struct sk_svc_limits l;
	char err[200];
	unsigned char seen[sizeof(l)];

	(void)st;
	/* Every limit key writes its own field, and only it. */
	memset(seen, 0, sizeof(seen));
	for (const struct sk_opt *o = sk_limit_opts; o->name; o++) {
		memset(&l, 0, sizeof(l));
		assert_int_equal(sk_opt_set(o, &l, "5000", err, sizeof(err)), 0);
		assert_true(o->off + sizeof(unsigned) <= sizeof(l));
		for (size_t i = 0; i < sizeof(unsigned); i++)
			assert_int_equal(seen[o->off + i], 0);
		memset(seen + o->off, 1, sizeof(unsigned));
	}
	assert_int_equal(sk_opt_find(sk_limit_opts, "max-conn")->off,
			 offsetof(struct sk_svc_limits, max_conn));
	memset(&l, 0, sizeof(l));
	assert_int_equal(sk_opt_set(sk_opt_find(sk_limit_opts, "burst"), &l,
				    "9", err, sizeof(err)), 0);
	assert_int_equal(l.rate.burst, 9);
	assert_true(sk_limits_default.pause_output <= sk_limits_default.max_output);
}

static void test_help(void **st)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)st;
	sk_opts_help(f, "demo", demo_opts);
	fclose(f);
	assert_non_null(strstr(text, "      --demo-u N"));
	assert_non_null(strstr(text, " a number (default 7)\n"));
	assert_non_null(strstr(text, "--demo-f X"));
	assert_non_null(strstr(text, " custom\n"));
	assert_non_null(strstr(text, " more\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings_and_custom),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limit_keys),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
