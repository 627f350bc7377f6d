/*
 * chat.c: the chat line protocol's core. The splitter finds lines in the
 * caller's buffer and keeps only a flag; the sanitiser walks UTF-8 one
 * character or one maximal invalid subpart at a time; the parser and the
 * formatter return views and write into caller buffers of named sizes.
 */
#include "chat.h"

#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER, which stands for every refused sequence. */
#define SK__FFFD "\xef\xbf\xbd"

/* The sanitiser's bound (sk_limits.h): a step that reads one byte and
 * writes U+FFFD grows the most, and every other step reads k >= 1 bytes
 * and writes k bytes or U+FFFD. */
_Static_assert(sizeof(SK__FFFD) - 1 <= 1 * SK_CHAT_CLEAN_GROWTH,
	       "one byte replaced fits the growth bound");
_Static_assert(sizeof(SK__FFFD) - 1 == SK_CHAT_CLEAN_GROWTH,
	       "and the bound is tight");

/* The output forms; SAY's prefix is the longest, so it sets the bound. */
_Static_assert(SK_CHAT_OUT_MAX == sizeof("<") - 1 + SK_CHAT_NICK_MAX +
					  sizeof("> ") - 1 +
					  SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX) +
					  1,
	       "SAY at its longest is SK_CHAT_OUT_MAX");
_Static_assert(sizeof("* ") - 1 + SK_CHAT_NICK_MAX + sizeof(" ") - 1 +
			       SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX) + 1 <=
		       SK_CHAT_OUT_MAX,
	       "ME fits");
_Static_assert(sizeof("*** ") - 1 + SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX) + 1 <=
		       SK_CHAT_OUT_MAX,
	       "NOTICE fits");
_Static_assert(SK_CHAT_INBUF == SK_CHAT_LINE_MAX + 2, "a line, CR and LF");
_Static_assert(SK_CHAT_CMD_SHOW >= 4, "room for one whole character");

/* ---- line splitting ------------------------------------------------- */

void sk_chat_in_init(struct sk_chat_in *st)
{
	st->skipping = 0;
}

int sk_chat_in_next(struct sk_chat_in *st, const char *buf, size_t len,
		    int flush, size_t *used, const char **line,
		    size_t *linelen)
{
	const char *lf;
	size_t skipped = 0, n;

	*line = NULL;
	*linelen = 0;
	if (len == 0) {
		/* Flushing ends an over-long line even with nothing left. */
		if (flush)
			st->skipping = 0;
		*used = 0;
		return SK_CHAT_PARTIAL;
	}
	if (st->skipping) {
		lf = memchr(buf, '\n', len);
		if (lf == NULL) {
			st->skipping = !flush;
			*used = len;
			return SK_CHAT_PARTIAL;
		}
		/* The long line ends here; frame what follows now, as
		 * PARTIAL promises that no complete line is left. */
		st->skipping = 0;
		skipped = (size_t)(lf - buf) + 1;
		buf += skipped;
		len -= skipped;
	}
	lf = len > 0 ? memchr(buf, '\n', len) : NULL;
	if (lf != NULL) {
		n = (size_t)(lf - buf);
		*used = skipped + n + 1;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n > SK_CHAT_LINE_MAX)
			return SK_CHAT_TOOLONG;
		*line = buf;
		*linelen = n;
		return SK_CHAT_LINE;
	}
	/* No LF yet. A final CR may be the CR of CRLF, so it is not counted:
	 * MAX + 1 bytes ending in CR may still be a line of MAX. */
	n = len;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > SK_CHAT_LINE_MAX) {
		st->skipping = !flush;
		*used = skipped + len;
		return SK_CHAT_TOOLONG;
	}
	if (flush && len > 0) {
		*used = skipped + len;
		*line = buf;
		*linelen = n;
		return SK_CHAT_LINE;
	}
	*used = skipped;
	return SK_CHAT_PARTIAL;
}

/* ---- sanitising ----------------------------------------------------- */

#define SK__ONES UINT64_C(0x0101010101010101)
#define SK__HIGHS UINT64_C(0x8080808080808080)

/*
 * Bytes at the front of p[0..len) that are printable ASCII (0x20..0x7E),
 * eight at a time while it can. A word has a byte below 0x20 when
 * (w - 0x20..) & ~w has a high bit set, and one above 0x7E when
 * (w + 0x01..) | w has: exact for the word as a whole (a borrow or carry
 * only ever follows a byte that really is out of range).
 */
static size_t sk__ascii_run(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (len - i >= 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if ((((w - SK__ONES * 0x20) & ~w) | (w + SK__ONES) | w) &
		    SK__HIGHS)
			break;
		i += 8;
	}
	while (i < len && p[i] >= 0x20 && p[i] < 0x7f)
		i++;
	return i;
}

/* Whether code point cp, from a well-formed sequence, may be shown. */
static int sk__allowed(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 0x20 && cp != 0x7f) || cp == '\t';
	if (cp < 0xa0)
		return 0; /* C1 controls */
	if (cp >= 0x2028 && cp <= 0x202e)
		return 0; /* LS, PS, LRE, RLE, PDF, LRO, RLO */
	if (cp >= 0x2066 && cp <= 0x2069)
		return 0; /* LRI, RLI, FSI, PDI */
	return 1;
}

/*
 * Read one step at p[0..len), len > 0: a character, or a maximal subpart
 * of an ill-formed sequence. Sets *n to its bytes (1..4) and returns 1 if
 * it is a character that may be shown as is, 0 if it must become U+FFFD.
 * The second byte's range depends on the lead (Unicode table 3-7), which
 * refuses overlongs, surrogates and code points above U+10FFFF at the
 * first byte where they can be told.
 */
static int sk__step(const unsigned char *p, size_t len, size_t *n)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, k;
	uint32_t cp;

	if (c < 0x80) {
		*n = 1;
		return sk__allowed(c);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*n = 1; /* a continuation byte, C0, C1 or F5..FF */
		return 0;
	}
	for (k = 1; k <= need; k++) {
		if (k == len || p[k] < lo || p[k] > hi) {
			*n = k; /* the lead and the good bytes before this */
			return 0;
		}
		cp = cp << 6 | (p[k] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*n = need + 1;
	return sk__allowed(cp);
}

size_t sk_chat_clean(const char *in, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t run = sk__ascii_run(p + i, len - i), n;

		if (run > 0) {
			memcpy(out + o, p + i, run);
			i += run;
			o += run;
			if (i == len)
				break;
		}
		if (sk__step(p + i, len - i, &n)) {
			memcpy(out + o, p + i, n);
			o += n;
		} else {
			memcpy(out + o, SK__FFFD, 3);
			o += 3;
		}
		i += n;
	}
	return o;
}

int sk_chat_is_clean(const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;

	while (i < len) {
		size_t n;

		i += sk__ascii_run(p + i, len - i);
		if (i == len)
			break;
		if (!sk__step(p + i, len - i, &n))
			return 0;
		i += n;
	}
	return 1;
}

/* ---- member lines and nicks ----------------------------------------- */

static int sk__blank(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char sk__lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Whether p[0..len) is name, ASCII case ignored; name is lower case. */
static int sk__name_is(const char *p, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	if (len != nlen)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (sk__lower((unsigned char)p[i]) != (unsigned char)name[i])
			return 0;
	return 1;
}

/* The commands, by name in lower case. */
static const struct {
	const char *name;           /* without the '/' */
	enum sk_chat_cmd_kind kind; /* what it parses to */
	int needs_arg;              /* BADARG when the argument is empty */
} sk__cmds[] = {
	{ "me", SK_CHAT_ME, 1 },     { "nick", SK_CHAT_NICK, 1 },
	{ "who", SK_CHAT_WHO, 0 },   { "quit", SK_CHAT_QUIT, 0 },
	{ "help", SK_CHAT_HELP, 0 },	{ "hello", SK_CHAT_HELLO, 0 },
	{ "ack", SK_CHAT_ACK, 1 },
};

void sk_chat_parse(const char *line, size_t len, struct sk_chat_cmd *cmd)
{
	const char *name;
	size_t i = 0, nlen, a, e;

	while (i < len && sk__blank(line[i]))
		i++;
	if (i == len) {
		cmd->kind = SK_CHAT_EMPTY;
		cmd->arg = line;
		cmd->arglen = 0;
		return;
	}
	if (line[0] != '/' || (len >= 2 && line[1] == '/')) {
		/* A message; "//x" says "/x". */
		cmd->kind = SK_CHAT_SAY;
		cmd->arg = line[0] == '/' ? line + 1 : line;
		cmd->arglen = line[0] == '/' ? len - 1 : len;
		return;
	}
	name = line + 1;
	nlen = 0;
	while (1 + nlen < len && !sk__blank(name[nlen]))
		nlen++;
	/* The argument: the rest, blanks at both ends dropped. */
	a = 1 + nlen;
	e = len;
	while (a < e && sk__blank(line[a]))
		a++;
	while (e > a && sk__blank(line[e - 1]))
		e--;
	for (size_t k = 0; k < sizeof(sk__cmds) / sizeof(sk__cmds[0]); k++) {
		if (!sk__name_is(name, nlen, sk__cmds[k].name))
			continue;
		if (sk__cmds[k].needs_arg && a == e) {
			cmd->kind = SK_CHAT_BADARG;
			cmd->arg = name;
			cmd->arglen = nlen;
			return;
		}
		cmd->kind = sk__cmds[k].kind;
		cmd->arg = line + a;
		cmd->arglen = e - a;
		return;
	}
	cmd->kind = SK_CHAT_UNKNOWN;
	cmd->arg = name;
	if (nlen > SK_CHAT_CMD_SHOW) {
		/* Cut before a character that would not fit whole: back over
		 * at most 3 continuation bytes, as a character has 4. */
		size_t cut = SK_CHAT_CMD_SHOW;

		while (cut > SK_CHAT_CMD_SHOW - 3 &&
		       ((unsigned char)name[cut] & 0xc0) == 0x80)
			cut--;
		nlen = cut;
	}
	cmd->arglen = nlen;
}

static int sk__nick_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

int sk_chat_nick_valid(const char *p, size_t len)
{
	unsigned char c0;

	if (len == 0 || len > SK_CHAT_NICK_MAX)
		return 0;
	c0 = sk__lower((unsigned char)p[0]);
	if (c0 < 'a' || c0 > 'z')
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!sk__nick_char((unsigned char)p[i]))
			return 0;
	return 1;
}

int sk_chat_nick_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (sk__lower((unsigned char)a[i]) !=
		    sk__lower((unsigned char)b[i]))
			return 0;
	return 1;
}

uint32_t sk_chat_nick_hash(const char *p, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a 32-bit offset basis */

	for (size_t i = 0; i < len; i++) {
		h ^= sk__lower((unsigned char)p[i]);
		h *= 16777619u; /* FNV prime */
	}
	return h;
}

/* ---- output lines --------------------------------------------------- */

/* Copy a nick that should be valid; see sk_chat_format() for the rest. */
static size_t sk__put_nick(char *out, const char *nick, size_t len)
{
	if (len > SK_CHAT_NICK_MAX)
		len = SK_CHAT_NICK_MAX;
	for (size_t i = 0; i < len; i++)
		out[i] = sk__nick_char((unsigned char)nick[i]) ? nick[i] : '?';
	return len;
}

size_t sk_chat_format(char *out, enum sk_chat_out_kind kind,
		      const char *nick, size_t nicklen, const char *text,
		      size_t textlen)
{
	size_t o = 0;

	if (textlen > SK_CHAT_LINE_MAX)
		textlen = SK_CHAT_LINE_MAX;
	switch (kind) {
	case SK_CHAT_OUT_SAY:
		out[o++] = '<';
		o += sk__put_nick(out + o, nick, nicklen);
		out[o++] = '>';
		out[o++] = ' ';
		break;
	case SK_CHAT_OUT_ME:
		out[o++] = '*';
		out[o++] = ' ';
		o += sk__put_nick(out + o, nick, nicklen);
		out[o++] = ' ';
		break;
	case SK_CHAT_OUT_NOTICE:
	case SK_CHAT_OUT_OTHER:
	default:
		memcpy(out, "*** ", 4);
		o = 4;
		break;
	}
	o += sk_chat_clean(text, textlen, out + o);
	out[o++] = '\n';
	return o;
}

/* Bytes of a valid nick at the front of p[0..len), or 0 if none. */
static size_t sk__nick_run(const char *p, size_t len)
{
	size_t n = 0;

	while (n < len && n <= SK_CHAT_NICK_MAX &&
	       sk__nick_char((unsigned char)p[n]))
		n++;
	return sk_chat_nick_valid(p, n) ? n : 0;
}

void sk_chat_classify(const char *line, size_t len, struct sk_chat_msg *msg)
{
	size_t n;

	msg->kind = SK_CHAT_OUT_OTHER;
	msg->nick = NULL;
	msg->nicklen = 0;
	msg->text = line;
	msg->textlen = len;
	if (len >= 3 && memcmp(line, "***", 3) == 0 &&
	    (len == 3 || line[3] == ' ')) {
		msg->kind = SK_CHAT_OUT_NOTICE;
		n = len == 3 ? 3 : 4;
	} else if (len >= 2 && line[0] == '*' && line[1] == ' ') {
		size_t nl = sk__nick_run(line + 2, len - 2);

		if (nl == 0 || (2 + nl < len && line[2 + nl] != ' '))
			return;
		msg->kind = SK_CHAT_OUT_ME;
		msg->nick = line + 2;
		msg->nicklen = nl;
		n = 2 + nl < len ? 2 + nl + 1 : len;
	} else if (len >= 1 && line[0] == '<') {
		size_t nl = sk__nick_run(line + 1, len - 1);

		if (nl == 0 || 1 + nl == len || line[1 + nl] != '>' ||
		    (2 + nl < len && line[2 + nl] != ' '))
			return;
		msg->kind = SK_CHAT_OUT_SAY;
		msg->nick = line + 1;
		msg->nicklen = nl;
		n = 2 + nl < len ? 2 + nl + 1 : len;
	} else {
		return;
	}
	msg->text = line + n;
	msg->textlen = len - n;
}
