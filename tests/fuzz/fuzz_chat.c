/*
 * fuzz_chat.c: libFuzzer target for src/proto/chat.c.
 *
 * The first two input bytes seed the reads and the flushes; the rest,
 * expanded (below), is a member's TCP byte stream. It is fed as the
 * service will feed it: appended in reads of random size to a buffer of
 * SK_CHAT_INBUF bytes, with the splitter called until PARTIAL after each
 * read (with flush set after some reads), and every call sees a copy of
 * exactly the bytes held, ending at a redzone, so ASan catches a read
 * past them.
 *
 * Splitter checks: *used <= len; line views inside the input; lines
 * without LF and at most SK_CHAT_LINE_MAX bytes; PARTIAL leaves no LF,
 * at most SK_CHAT_LINE_MAX + 1 bytes, nothing when flushing or skipping;
 * a full buffer never stalls; and the lines and TOOLONGs are exactly
 * those of a plain reference splitter over the whole stream, so TOOLONG
 * never comes for a line within the limit and reads never change the
 * outcome.
 *
 * Each line (and the whole stream, once) then goes through the rest:
 * sk_chat_clean() must equal a reference built on WHATWG's UTF-8 decoder
 * (a different algorithm: code points decoded and encoded again), stay
 * within SK_CHAT_CLEAN_MAX, and be valid UTF-8 without a forbidden code
 * point; sk_chat_is_clean() must agree with it and clean must be
 * idempotent; sk_chat_parse() and sk_chat_classify() must return views
 * inside the line that obey their contracts; sk_chat_format() must write
 * one line within SK_CHAT_OUT_MAX (into a buffer of exactly that size)
 * that sk_chat_classify() reads back as what was formatted.
 *
 * Expansion, so that a small input can hold lines of 4 KiB and more:
 * 0xFF N B (N > 0) stands for N * 16 copies of byte B; 0xFF 0x00, or a
 * 0xFF in the last two bytes, is a literal 0xFF. The stream is cut at
 * STREAM_MAX bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "sk_limits.h"

#define STREAM_MAX (32 * 1024)
/* Bytes of lines that get the deep checks, per input; the splitter's
 * checks cover the whole stream. Keeps an input under a few ms. */
#define DEEP_MAX (4 * 1024)

/* ---- reference sanitiser -------------------------------------------- */

static int ref_forbidden(uint32_t cp)
{
	return (cp < 0x20 && cp != 0x09) || cp == 0x7f ||
	       (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static size_t ref_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * WHATWG Encoding, "UTF-8 decoder", step by step (a bad byte ends the
 * sequence and is processed again), each code point checked and encoded
 * again. Writes to out when it is not NULL; counts decoding errors and
 * forbidden code points in *bad. Returns the bytes of output.
 */
static size_t ref_clean(const uint8_t *in, size_t len, uint8_t *out,
			size_t *bad)
{
	uint32_t cp = 0;
	unsigned needed = 0, seen = 0;
	uint8_t lower = 0x80, upper = 0xbf, tmp[4];
	size_t o = 0, i = 0;

	*bad = 0;
	for (;;) {
		uint32_t emit;
		uint8_t b;

		if (i == len) {
			if (needed == 0)
				break;
			needed = 0;
			emit = 0xfffd;
			(*bad)++;
			goto put;
		}
		b = in[i];
		if (needed == 0) {
			i++;
			if (b <= 0x7f) {
				emit = b;
				goto check;
			} else if (b >= 0xc2 && b <= 0xdf) {
				needed = 1;
				cp = b & 0x1f;
			} else if (b >= 0xe0 && b <= 0xef) {
				if (b == 0xe0)
					lower = 0xa0;
				if (b == 0xed)
					upper = 0x9f;
				needed = 2;
				cp = b & 0x0f;
			} else if (b >= 0xf0 && b <= 0xf4) {
				if (b == 0xf0)
					lower = 0x90;
				if (b == 0xf4)
					upper = 0x8f;
				needed = 3;
				cp = b & 0x07;
			} else {
				emit = 0xfffd;
				(*bad)++;
				goto put;
			}
			continue;
		}
		if (b < lower || b > upper) {
			cp = needed = seen = 0;
			lower = 0x80;
			upper = 0xbf;
			emit = 0xfffd;
			(*bad)++;
			goto put; /* b is read again */
		}
		i++;
		lower = 0x80;
		upper = 0xbf;
		cp = cp << 6 | (b & 0x3f);
		if (++seen != needed)
			continue;
		emit = cp;
		cp = needed = seen = 0;
	check:
		if (ref_forbidden(emit)) {
			emit = 0xfffd;
			(*bad)++;
		}
	put: {
		size_t n = ref_encode(emit, tmp);

		if (out != NULL)
			memcpy(out + o, tmp, n);
		o += n;
	}
	}
	return o;
}

/* ---- one line through everything ------------------------------------ */

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

static void check_parse(const char *p, size_t n)
{
	struct sk_chat_cmd cmd;
	size_t i = 0;

	sk_chat_parse(p, n, &cmd);
	if (cmd.arglen > n)
		abort();
	if (n > 0 && (cmd.arg < p || cmd.arg + cmd.arglen > p + n))
		abort();
	while (i < n && blank(p[i]))
		i++;
	if ((cmd.kind == SK_CHAT_EMPTY) != (i == n))
		abort();
	switch (cmd.kind) {
	case SK_CHAT_EMPTY:
		break;
	case SK_CHAT_SAY:
		if (p[0] == '/' ? n < 2 || p[1] != '/' || cmd.arg != p + 1 ||
					  cmd.arglen != n - 1
				: cmd.arg != p || cmd.arglen != n)
			abort();
		break;
	case SK_CHAT_ME:
	case SK_CHAT_NICK:
	case SK_CHAT_ACK:
		if (cmd.arglen == 0)
			abort();
		/* fall through */
	case SK_CHAT_WHO:
	case SK_CHAT_QUIT:
	case SK_CHAT_HELP:
	case SK_CHAT_HELLO:
		if (p[0] != '/' ||
		    (cmd.arglen > 0 &&
		     (blank(cmd.arg[0]) || blank(cmd.arg[cmd.arglen - 1]))))
			abort();
		break;
	case SK_CHAT_UNKNOWN:
	case SK_CHAT_BADARG:
		if (p[0] != '/' || cmd.arg != p + 1 ||
		    memchr(cmd.arg, ' ', cmd.arglen) != NULL ||
		    memchr(cmd.arg, '\t', cmd.arglen) != NULL)
			abort();
		if (cmd.kind == SK_CHAT_UNKNOWN &&
		    cmd.arglen > SK_CHAT_CMD_SHOW)
			abort();
		break;
	default:
		abort();
	}
}

static void check_classify(const char *p, size_t n, struct sk_chat_msg *m)
{
	sk_chat_classify(p, n, m);
	if (m->textlen > n ||
	    (n > 0 && (m->text < p || m->text + m->textlen > p + n)))
		abort();
	switch (m->kind) {
	case SK_CHAT_OUT_SAY:
	case SK_CHAT_OUT_ME:
		if (!sk_chat_nick_valid(m->nick, m->nicklen) || m->nick < p ||
		    m->nick + m->nicklen > p + n)
			abort();
		break;
	case SK_CHAT_OUT_NOTICE:
		if (n < 3 || memcmp(p, "***", 3) != 0 || m->nick != NULL)
			abort();
		break;
	case SK_CHAT_OUT_OTHER:
		if (m->nick != NULL || m->text != p || m->textlen != n)
			abort();
		break;
	default:
		abort();
	}
}

/* Format text (raw) as kind; check the line and read it back: its text
 * must be want[0..wl), the text cut to SK_CHAT_LINE_MAX and cleaned. */
static void check_format(enum sk_chat_out_kind kind, const char *nick,
			 size_t nicklen, const char *text, size_t textlen,
			 const char *want, size_t wl)
{
	char *out = malloc(SK_CHAT_OUT_MAX);
	struct sk_chat_msg m;
	size_t n;

	if (out == NULL)
		abort();
	n = sk_chat_format(out, kind, nick, nicklen, text, textlen);
	if (n == 0 || n > SK_CHAT_OUT_MAX || out[n - 1] != '\n' ||
	    memchr(out, '\n', n - 1) != NULL)
		abort();
	/* Only a notice may look like one. */
	if (kind != SK_CHAT_OUT_NOTICE && n >= 3 && memcmp(out, "***", 3) == 0)
		abort();
	check_classify(out, n - 1, &m);
	if (kind == SK_CHAT_OUT_NOTICE || sk_chat_nick_valid(nick, nicklen)) {
		if (m.kind != kind || m.textlen != wl ||
		    memcmp(m.text, want, wl) != 0)
			abort();
		if (kind != SK_CHAT_OUT_NOTICE &&
		    (m.nicklen != nicklen || memcmp(m.nick, nick, nicklen) != 0))
			abort();
	}
	free(out);
}

static void check_text(const char *p, size_t n)
{
	static const char nick24[] = "Abcdefghijklmnopqrstu-_.";
	size_t cap = SK_CHAT_CLEAN_MAX(n);
	char *out = malloc(cap + 1), *ref = malloc(cap + 1), *again;
	size_t m, rm, bad, m2;
	int same;
	struct sk_chat_cmd cmd;
	struct sk_chat_msg msg;

	if (out == NULL || ref == NULL)
		abort();
	m = sk_chat_clean(p, n, out);
	if (m > cap)
		abort();
	rm = ref_clean((const uint8_t *)p, n, (uint8_t *)ref, &bad);
	if (rm != m || memcmp(out, ref, m) != 0)
		abort();
	/* The output is valid UTF-8 with no forbidden code point. */
	ref_clean((const uint8_t *)out, m, NULL, &bad);
	if (bad != 0)
		abort();
	same = m == n && memcmp(out, p, n) == 0;
	if (sk_chat_is_clean(p, n) != same || !sk_chat_is_clean(out, m))
		abort();
	again = malloc(SK_CHAT_CLEAN_MAX(m) + 1);
	if (again == NULL)
		abort();
	m2 = sk_chat_clean(out, m, again);
	if (m2 != m || memcmp(again, out, m) != 0)
		abort();
	free(again);

	/* What a formatted line must carry: the text cut to a line. */
	if (n > SK_CHAT_LINE_MAX)
		m = sk_chat_clean(p, SK_CHAT_LINE_MAX, out);
	check_parse(p, n);
	check_classify(p, n, &msg);
	check_format(SK_CHAT_OUT_SAY, "nick", 4, p, n, out, m);
	check_format(SK_CHAT_OUT_ME, nick24, sizeof(nick24) - 1, p, n, out,
		     m);
	check_format(SK_CHAT_OUT_NOTICE, NULL, 0, p, n, out, m);
	/* The line as a nick: valid or not, the line stays in bounds. */
	check_format(SK_CHAT_OUT_SAY, p, n < 40 ? n : 40, "x", 1, "x", 1);
	sk_chat_parse(p, n, &cmd);
	if (cmd.kind == SK_CHAT_NICK) {
		char flip[SK_CHAT_NICK_MAX];

		check_format(SK_CHAT_OUT_ME, cmd.arg, cmd.arglen, p, n, out, m);
		if (sk_chat_nick_valid(cmd.arg, cmd.arglen)) {
			/* The same nick in other case: equal, same hash. */
			for (size_t i = 0; i < cmd.arglen; i++) {
				char ch = cmd.arg[i];

				if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
					ch ^= 0x20;
				flip[i] = ch;
			}
			if (!sk_chat_nick_eq(cmd.arg, cmd.arglen, flip,
					     cmd.arglen) ||
			    sk_chat_nick_hash(cmd.arg, cmd.arglen) !=
				    sk_chat_nick_hash(flip, cmd.arglen))
				abort();
		}
	}
	free(ref);
	free(out);
}

/* ---- the splitter against a reference ------------------------------- */

/* One expected or seen event. */
struct ev {
	int rc;           /* SK_CHAT_LINE or SK_CHAT_TOOLONG */
	const uint8_t *p; /* LINE: the line in the whole stream */
	size_t len;       /* LINE: its length */
};

/* What the splitter must report for s[0..len), flushed where flushat[i]
 * (after byte i - 1 has been delivered). */
static size_t reference(const uint8_t *s, size_t len, const uint8_t *flushat,
			struct ev *ev)
{
	size_t n = 0, start = 0;
	int skipping = 0;

	for (size_t i = 0;; i++) {
		if (flushat[i]) {
			if (!skipping && i > start)
				ev[n++] = (struct ev){
					SK_CHAT_LINE, s + start,
					i - start - (s[i - 1] == '\r')
				};
			skipping = 0;
			start = i;
		}
		if (i == len)
			break;
		if (s[i] == '\n') {
			if (!skipping) {
				size_t l = i - start;

				if (l > 0 && s[i - 1] == '\r')
					l--;
				ev[n++] = l > SK_CHAT_LINE_MAX
						  ? (struct ev){ SK_CHAT_TOOLONG,
								 NULL, 0 }
						  : (struct ev){ SK_CHAT_LINE,
								 s + start, l };
			}
			skipping = 0;
			start = i + 1;
		} else if (!skipping) {
			size_t plen = i - start + 1;

			/* Known too long as soon as it cannot be a line
			 * of the maximum and its CR LF. */
			if (plen > SK_CHAT_LINE_MAX + 1 ||
			    (plen == SK_CHAT_LINE_MAX + 1 && s[i] != '\r')) {
				ev[n++] = (struct ev){ SK_CHAT_TOOLONG, NULL,
						       0 };
				skipping = 1;
			}
		}
	}
	return n;
}

/* The service's side of one member. */
struct conn {
	struct sk_chat_in st;     /* the splitter */
	char buf[SK_CHAT_INBUF];  /* unconsumed input */
	size_t len;               /* bytes in buf */
	const struct ev *want;    /* expected events */
	size_t nwant, nseen;      /* their number, and those seen */
};

/* Bytes of lines given to check_text() so far for this input. */
static size_t deep_bytes;

/* Each call's input is copied to the end of this array, so that a read
 * past it runs into the redzone ASan puts after a global. */
static char held[SK_CHAT_INBUF];

static void drain(struct conn *c, int flush)
{
	for (;;) {
		char *in = held + sizeof(held) - c->len;
		const char *line = NULL;
		size_t used = 0, ll = 0;
		int rc;

		memcpy(in, c->buf, c->len);
		rc = sk_chat_in_next(&c->st, in, c->len, flush, &used, &line,
				     &ll);
		if (used > c->len)
			abort();
		if (rc == SK_CHAT_LINE) {
			const struct ev *w;

			if (used == 0 || c->nseen >= c->nwant)
				abort();
			w = &c->want[c->nseen];
			if (w->rc != SK_CHAT_LINE)
				abort();
			if (line < in || line + ll > in + used ||
			    ll > SK_CHAT_LINE_MAX ||
			    memchr(line, '\n', ll) != NULL)
				abort();
			if (w->len != ll || memcmp(w->p, line, ll) != 0)
				abort();
			c->nseen++;
			if (deep_bytes + ll <= DEEP_MAX) {
				deep_bytes += ll + 1;
				check_text(line, ll);
			}
		} else if (rc == SK_CHAT_TOOLONG) {
			if (used == 0 || c->nseen >= c->nwant ||
			    c->want[c->nseen].rc != SK_CHAT_TOOLONG ||
			    line != NULL || ll != 0)
				abort();
			c->nseen++;
		} else if (rc != SK_CHAT_PARTIAL || line != NULL || ll != 0) {
			abort();
		}
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		if (rc == SK_CHAT_PARTIAL) {
			if (memchr(c->buf, '\n', c->len) != NULL)
				abort();
			if ((flush || c->st.skipping) && c->len != 0)
				abort();
			if (c->len > SK_CHAT_LINE_MAX + 1)
				abort(); /* a full buffer stalled */
			return;
		}
	}
}

static uint32_t next_rand(uint32_t *rng)
{
	*rng = *rng * 1103515245u + 12345u;
	return *rng >> 8;
}

/* Per input, static so that a long stream costs no fresh pages. */
static uint8_t s[STREAM_MAX];          /* the stream, expanded */
static uint8_t mark[STREAM_MAX + 1];   /* reads and flushes */
static uint8_t flushat[STREAM_MAX + 1]; /* flushes, for reference() */
static struct ev want[STREAM_MAX + 2]; /* at most one per byte, + 1 */
static struct conn conn;               /* the member */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn *c = &conn;
	size_t slen = 0, off = 0;
	uint32_t rng;

	if (size < 2)
		return 0;
	rng = (uint32_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	deep_bytes = 0;
	for (size_t i = 0; i < size && slen < STREAM_MAX; i++) {
		size_t run = 1;
		uint8_t b = data[i];

		if (b == 0xff && i + 2 < size && data[i + 1] != 0) {
			run = (size_t)data[i + 1] * 16;
			b = data[i + 2];
			i += 2;
		} else if (b == 0xff && i + 1 < size && data[i + 1] == 0) {
			i++;
		}
		if (run > STREAM_MAX - slen)
			run = STREAM_MAX - slen;
		memset(s + slen, b, run);
		slen += run;
	}

	/* The reads: half of them tiny, some of hundreds of bytes, one in
	 * eight of up to 9000 (more than a buffer); a flush after
	 * about one in four, and maybe at the end. mark[i] & 1: a read
	 * ends before byte i; mark[i] & 2: then the caller flushes. */
	memset(mark, 0, slen + 1);
	memset(c, 0, sizeof(*c));
	for (size_t pos = 0; pos < slen;) {
		uint32_t r = next_rand(&rng);
		size_t clen = r % 8 == 0   ? 1 + (r >> 3) % 9000
			      : r % 8 < 4 ? 1 + (r >> 3) % 600
					  : 1 + (r >> 3) % 16;

		pos += clen < slen - pos ? clen : slen - pos;
		mark[pos] = 1;
		if (next_rand(&rng) % 4 == 0)
			mark[pos] |= 2;
	}
	if (next_rand(&rng) % 2 == 0)
		mark[slen] |= 2;
	for (size_t i = 0; i <= slen; i++)
		flushat[i] = mark[i] >> 1;
	c->want = want;
	c->nwant = reference(s, slen, flushat, want);
	sk_chat_in_init(&c->st);

	/* Append each read, as much as fits at a time, and drain. */
	while (off < slen) {
		size_t end = off + 1;

		while (!(mark[end] & 1))
			end++;
		while (off < end) {
			size_t k = sizeof(c->buf) - c->len;

			if (k == 0)
				abort(); /* a drained buffer is full */
			if (k > end - off)
				k = end - off;
			memcpy(c->buf + c->len, s + off, k);
			c->len += k;
			off += k;
			drain(c, 0);
		}
		if (mark[off] & 2)
			drain(c, 1);
	}
	if (slen == 0)
		drain(c, flushat[0]);
	if (c->nseen != c->nwant)
		abort();

	/* The stream as one text, LFs and all: its start, or now and then
	 * (it is slow) more than a line, which sk_chat_format() cuts. */
	{
		size_t tl = next_rand(&rng) % 16 == 0 ? SK_CHAT_LINE_MAX + 64
						      : 512;

		check_text((const char *)s, slen < tl ? slen : tl);
	}
	return 0;
}
