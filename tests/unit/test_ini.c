/*
 * test_ini.c: unit tests for src/proto/ini.c, the configuration file's
 * INI syntax.
 *
 * Covers sections, settings, comments (whole-line with ';' and '#', and a
 * bare value's ';' after a blank), bare and quoted values, CRLF, a byte
 * order mark, a last line without LF, indented lines (never a
 * continuation), every error with the line it names, and the two limits
 * the file must never get round: a line of SK_CONF_LINE_MAX bytes is
 * read whole and one byte more is an error, whatever the line is (a
 * comment included), and a NUL byte is an error, not an end of line.
 *
 * Inputs of up to a page sit right before a guard page (guard.h); longer
 * ones are in heap blocks of exactly their size, which ASan guards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "ini.h"
#include "sk_limits.h"

/* What one call returned, the spans copied out as strings. */
struct got {
	int rc;
	size_t line;
	char name[64];
	char value[SK_CONF_LINE_MAX + 1];
};

/* Parse buf[0..len) to its end or first error; fill up to max events. */
static size_t run(const char *buf, size_t len, struct got *g, size_t max)
{
	struct sk_ini p;
	struct sk_ini_item it;
	size_t n = 0;

	sk_ini_init(&p, buf, len);
	while (n < max) {
		int rc = sk_ini_next(&p, &it);

		g[n].rc = rc;
		g[n].line = p.line;
		g[n].name[0] = g[n].value[0] = '\0';
		if (rc == SK_INI_SECTION || rc == SK_INI_SETTING) {
			assert_true(it.name_len > 0 && it.name_len < 64);
			assert_true(it.name >= buf && it.name + it.name_len <= buf + len);
			memcpy(g[n].name, it.name, it.name_len);
			g[n].name[it.name_len] = '\0';
		}
		if (rc == SK_INI_SETTING) {
			assert_true(it.value_len <= SK_CONF_LINE_MAX);
			assert_true(it.value >= buf &&
				    it.value + it.value_len <= buf + len);
			memcpy(g[n].value, it.value, it.value_len);
			g[n].value[it.value_len] = '\0';
		}
		n++;
		if (rc <= 0)
			break;
	}
	return n;
}

/* Parse a guarded copy of s (without its NUL). */
static size_t run_str(const char *s, struct got *g, size_t max)
{
	size_t len = strlen(s);

	return run(sk_guard_place(s, len), len, g, max);
}

/* The one setting in s: its key and value, or fail. */
static void assert_setting(const char *s, const char *key, const char *value)
{
	struct got g[3];
	size_t n = run_str(s, g, 3);

	assert_int_equal(n, 2);
	assert_int_equal(g[0].rc, SK_INI_SETTING);
	assert_string_equal(g[0].name, key);
	assert_string_equal(g[0].value, value);
	assert_int_equal(g[1].rc, SK_INI_END);
}

/* s fails with err on line. */
static void assert_error(const char *s, int err, size_t line)
{
	struct got g[16];
	size_t n = run_str(s, g, 16);

	assert_true(n >= 1);
	assert_int_equal(g[n - 1].rc, err);
	assert_int_equal(g[n - 1].line, line);
}

static void test_sections_settings_comments(void **state)
{
	static const char text[] =
		"; a comment\n"
		"# another\n"
		"\n"
		"[serve]\n"
		"service = welcome=127.0.0.1:0\n"
		"   rate=5   \n"
		"\t[ ntp ] ; the ntp section\n"
		"allow = 192.0.2.0/24\n"
		"  indented = not a continuation\n"
		"empty =\n"
		"last = no LF";
	struct got g[16];
	size_t n;

	(void)state;
	n = run_str(text, g, 16);
	assert_int_equal(n, 9);
	assert_int_equal(g[0].rc, SK_INI_SECTION);
	assert_string_equal(g[0].name, "serve");
	assert_int_equal(g[0].line, 4);
	assert_int_equal(g[1].rc, SK_INI_SETTING);
	assert_string_equal(g[1].name, "service");
	assert_string_equal(g[1].value, "welcome=127.0.0.1:0");
	assert_int_equal(g[1].line, 5);
	assert_string_equal(g[2].name, "rate");
	assert_string_equal(g[2].value, "5");
	assert_int_equal(g[3].rc, SK_INI_SECTION);
	assert_string_equal(g[3].name, "ntp");
	assert_int_equal(g[3].line, 7);
	assert_string_equal(g[4].value, "192.0.2.0/24");
	assert_string_equal(g[5].name, "indented");
	assert_string_equal(g[5].value, "not a continuation");
	assert_int_equal(g[6].rc, SK_INI_SETTING);
	assert_string_equal(g[6].name, "empty");
	assert_string_equal(g[6].value, "");
	assert_string_equal(g[7].name, "last");
	assert_string_equal(g[7].value, "no LF");
	assert_int_equal(g[7].line, 11);
	assert_int_equal(g[8].rc, SK_INI_END);
	assert_int_equal(run_str("", g, 2), 1);
	assert_int_equal(g[0].rc, SK_INI_END);
	assert_int_equal(run_str("\n\n; x\n", g, 2), 1);
	assert_int_equal(g[0].rc, SK_INI_END);
}

static void test_crlf_and_bom(void **state)
{
	struct got g[4];

	(void)state;
	assert_int_equal(run_str("\xef\xbb\xbf[serve]\r\nrate = 5\r\n", g, 4),
			 3);
	assert_string_equal(g[0].name, "serve");
	assert_int_equal(g[0].line, 1);
	assert_string_equal(g[1].value, "5");
	assert_int_equal(g[1].line, 2);
	assert_setting("k = \"a \"\r\n", "k", "a ");
	/* A BOM elsewhere is data. */
	assert_error("\n\xef\xbb\xbf[x]\n", SK_INI_E_SYNTAX, 2);
}

static void test_bare_values(void **state)
{
	(void)state;
	assert_setting("k = a b  c\n", "k", "a b  c");
	/* A ';' after a blank starts a comment; elsewhere it is data, and
	 * so is '#'. */
	assert_setting("k = b ; c\n", "k", "b");
	assert_setting("k = b\t;c\n", "k", "b");
	assert_setting("k = b;c\n", "k", "b;c");
	assert_setting("k = b #c\n", "k", "b #c");
	assert_setting("k = ; all comment\n", "k", "");
	assert_setting("k =;x\n", "k", ";x");
	assert_setting("k = say \"hi\"\n", "k", "say \"hi\"");
	assert_setting("k = a=b:c\n", "k", "a=b:c");
	assert_setting("k==\n", "k", "=");
	assert_setting("a key = v\n", "a key", "v");
	assert_setting("k = {addr}\\r\\n\n", "k", "{addr}\\r\\n");
}

static void test_quoted_values(void **state)
{
	(void)state;
	assert_setting("k = \"  x ; y # z = \"\n", "k", "  x ; y # z = ");
	assert_setting("k = \"x\" ; c\n", "k", "x");
	assert_setting("k = \"x\"# c\n", "k", "x");
	assert_setting("k = \"\"\n", "k", "");
	assert_setting("k=\"a\"   \n", "k", "a");
	assert_error("k = \"x\" y\n", SK_INI_E_AFTER, 1);
	assert_error("k = \"x\"\"y\"\n", SK_INI_E_AFTER, 1);
	assert_error("[s]\nk = \"x\n", SK_INI_E_QUOTE, 2);
	assert_error("k = \"\n", SK_INI_E_QUOTE, 1);
	/* The quote does not run on into the next line. */
	assert_error("k = \"x\ny\"\n", SK_INI_E_QUOTE, 1);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	assert_error("[serve]\nthis is not ini\n", SK_INI_E_SYNTAX, 2);
	assert_error("= 5\n", SK_INI_E_SYNTAX, 1);
	assert_error("  = 5\n", SK_INI_E_SYNTAX, 1);
	assert_error("rate : 5\n", SK_INI_E_SYNTAX, 1);
	assert_error("\n\n[serve\n", SK_INI_E_SECTION, 3);
	assert_error("[]\n", SK_INI_E_SECTION, 1);
	assert_error("[  ]\n", SK_INI_E_SECTION, 1);
	assert_error("[a] b\n", SK_INI_E_SECTION, 1);
	assert_error("[a]]\n", SK_INI_E_SECTION, 1);
	assert_error("[a] # c\n[b\n", SK_INI_E_SECTION, 2);
	for (int e = SK_INI_E_AFTER; e <= SK_INI_E_LONG; e++)
		assert_true(strcmp(sk_ini_strerror(e), "unknown error") != 0);
	assert_string_equal(sk_ini_strerror(SK_INI_E_LONG),
			    "line longer than 4096 bytes");
	assert_string_equal(sk_ini_strerror(0), "unknown error");
}

/* A heap block of exactly *len bytes: head, fill bytes of c, tail. */
static char *lines(size_t *len, const char *head, size_t fill, char c,
		   const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *b;

	*len = h + fill + t;
	b = malloc(*len);
	assert_non_null(b);
	memcpy(b, head, h);
	memset(b + h, c, fill);
	memcpy(b + h + fill, tail, t);
	return b;
}

static void test_line_limit(void **state)
{
	struct got *g = calloc(4, sizeof(*g));
	size_t len, n;
	char *b;

	(void)state;
	assert_non_null(g);
	/* "k = " and a value: SK_CONF_LINE_MAX bytes in all is whole. */
	b = lines(&len, "[s]\nk = ", SK_CONF_LINE_MAX - 4, 'v', "\n");
	n = run(b, len, g, 4);
	assert_int_equal(n, 3);
	assert_int_equal(g[1].rc, SK_INI_SETTING);
	assert_int_equal(strlen(g[1].value), SK_CONF_LINE_MAX - 4);
	free(b);
	/* So is it with CRLF, or at the end of the input without LF. */
	b = lines(&len, "[s]\nk = ", SK_CONF_LINE_MAX - 4, 'v', "\r\n");
	assert_int_equal(run(b, len, g, 4), 3);
	free(b);
	b = lines(&len, "[s]\nk = ", SK_CONF_LINE_MAX - 4, 'v', "");
	assert_int_equal(run(b, len, g, 4), 3);
	assert_int_equal(strlen(g[1].value), SK_CONF_LINE_MAX - 4);
	free(b);
	/* One byte more is an error on that line, with or without LF. */
	b = lines(&len, "[s]\nk = ", SK_CONF_LINE_MAX - 3, 'v', "\n");
	n = run(b, len, g, 4);
	assert_int_equal(g[n - 1].rc, SK_INI_E_LONG);
	assert_int_equal(g[n - 1].line, 2);
	free(b);
	b = lines(&len, "[s]\nk = ", SK_CONF_LINE_MAX - 3, 'v', "");
	n = run(b, len, g, 4);
	assert_int_equal(g[n - 1].rc, SK_INI_E_LONG);
	free(b);
	/* libinih's failure: a long comment whose tail looks like a
	 * setting. The whole line is refused, and nothing in it is read. */
	b = lines(&len, "[serve]\nrate = 1\n;", 250, 'x', "rate = 0\n");
	n = run(b, len, g, 4);
	assert_int_equal(n, 3);
	assert_int_equal(g[1].rc, SK_INI_SETTING);
	assert_string_equal(g[1].value, "1");
	assert_int_equal(g[2].rc, SK_INI_END);
	free(b);
	b = lines(&len, "[serve]\nrate = 1\n;", SK_CONF_LINE_MAX, 'x',
		  "\nrate = 0\n");
	n = run(b, len, g, 4);
	assert_int_equal(n, 3);
	assert_int_equal(g[2].rc, SK_INI_E_LONG);
	assert_int_equal(g[2].line, 3);
	free(b);
	free(g);
}

static void test_nul_byte(void **state)
{
	static const char a[] = "[serve]\nrate = 1\0\nburst = 2\n";
	static const char c[] = "[serve]\n\n; a \0 comment\n";
	struct got g[4];
	size_t n;

	(void)state;
	n = run(sk_guard_place(a, sizeof(a) - 1), sizeof(a) - 1, g, 4);
	assert_int_equal(n, 2);
	assert_int_equal(g[1].rc, SK_INI_E_NUL);
	assert_int_equal(g[1].line, 2);
	n = run(sk_guard_place(c, sizeof(c) - 1), sizeof(c) - 1, g, 4);
	assert_int_equal(g[n - 1].rc, SK_INI_E_NUL);
	assert_int_equal(g[n - 1].line, 3);
	n = run(sk_guard_place("\0", 1), 1, g, 4);
	assert_int_equal(g[0].rc, SK_INI_E_NUL);
	assert_int_equal(g[0].line, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_settings_comments),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_bare_values),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_nul_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
