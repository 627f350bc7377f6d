/*
 * ini.h: the configuration file's INI syntax (sockit.conf(5)), parsed
 * with no I/O and no allocation.
 *
 * The input is split at LF, and every line is whole: a line longer than
 * SK_CONF_LINE_MAX bytes (its LF and a CR before it not counted) or one
 * holding a NUL byte is an error that names its own line, never cut or
 * read as two. Each line, its surrounding blanks (space, tab, CR) ignored,
 * is one of:
 *
 *     (empty)
 *     ; comment            # comment
 *     [NAME]               a section; blanks around NAME are ignored
 *     KEY = VALUE          a setting; KEY is not empty and holds no '='
 *
 * VALUE is either bare or quoted. A bare value runs to the end of the
 * line, or to a ';' that follows a blank (a comment); blanks around it
 * are dropped, and it may be empty. A value that starts with '"' is
 * quoted: it is every byte up to the next '"', as written (blanks, ';',
 * '#' and '=' included; there are no escapes, so a quoted value cannot
 * hold '"'). After the closing quote only blanks and a comment (';' or
 * '#') may follow. A '"' that is not the value's first byte is an
 * ordinary byte. A UTF-8 byte order mark before the first line is
 * skipped.
 */
#ifndef SK_INI_H
#define SK_INI_H

#include <stddef.h>

#include "sk_limits.h"

enum sk_ini_rc {
	SK_INI_END = 0,     /* no more lines */
	SK_INI_SECTION = 1, /* a [NAME] line: the name is in the item */
	SK_INI_SETTING = 2, /* a KEY = VALUE line: both are in the item */
};

enum sk_ini_err {
	SK_INI_E_LONG = -1,    /* a line longer than SK_CONF_LINE_MAX */
	SK_INI_E_NUL = -2,     /* a NUL byte in a line */
	SK_INI_E_SECTION = -3, /* '[' without ']', or text after it */
	SK_INI_E_SYNTAX = -4,  /* neither a comment, a section nor KEY = */
	SK_INI_E_QUOTE = -5,   /* a quoted value without its closing '"' */
	SK_INI_E_AFTER = -6,   /* text after a quoted value's closing '"' */
};

/* Where the parser is in its input. */
struct sk_ini {
	const char *buf; /* the whole input (not NUL-terminated) */
	size_t len;      /* its length */
	size_t off;      /* the start of the next line */
	size_t line;     /* 1-based number of the line last returned */
};

/* One section or setting. The spans point into the input. */
struct sk_ini_item {
	const char *name;  /* the section's NAME, or the setting's KEY */
	size_t name_len;   /* its length, at least 1 for a KEY */
	const char *value; /* SK_INI_SETTING: the value, quotes removed */
	size_t value_len;  /* its length, possibly 0 */
};

/* Start parsing buf[0..len); buf must outlive the parser's items. */
void sk_ini_init(struct sk_ini *p, const char *buf, size_t len);

/*
 * Parse up to the next section or setting, skipping blank and comment
 * lines. Returns an enum sk_ini_rc, or a negative enum sk_ini_err; in
 * both cases p->line is the line it is about. After an error the parser
 * must not be called again.
 */
int sk_ini_next(struct sk_ini *p, struct sk_ini_item *it);

/* A short English description of an enum sk_ini_err. */
const char *sk_ini_strerror(int err);

#endif
