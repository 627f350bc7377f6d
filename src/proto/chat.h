/*
 * chat.h: the line protocol of the chat service, with no I/O and no
 * allocation. docs/PROTOCOL.md, "chat: the line protocol", is the
 * specification; this is its core, shared by the service and the client.
 *
 * Four parts, each usable alone:
 *  - line splitting over a byte stream (sk_chat_in_next): the caller owns
 *    the buffer of unconsumed input, the core only a flag;
 *  - sanitising member text so that it is safe on any terminal
 *    (sk_chat_clean, sk_chat_is_clean);
 *  - parsing a member's line into a message or a command (sk_chat_parse)
 *    and the nick rules (sk_chat_nick_*);
 *  - the output lines every member receives (sk_chat_format), and their
 *    classification on the client's side (sk_chat_classify).
 *
 * Every pointer that a function returns is a view into the caller's
 * input, never a copy, and is valid as long as that input is.
 */
#ifndef SK_CHAT_H
#define SK_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "sk_limits.h"

/* ---- line splitting ------------------------------------------------- */

/* The splitter's state between calls; sk_chat_in_init() sets it up. */
struct sk_chat_in {
	int skipping; /* inside an over-long line, dropping up to its LF */
};

enum sk_chat_in_rc {
	SK_CHAT_PARTIAL = 0, /* no complete line in what is left */
	SK_CHAT_LINE = 1,    /* a line is in *line, *linelen */
	SK_CHAT_TOOLONG = 2, /* a line was over SK_CHAT_LINE_MAX; skipped */
};

void sk_chat_in_init(struct sk_chat_in *st);

/*
 * Look at buf[0..len), the caller's unconsumed input, and set *used to
 * the bytes consumed from its front; the caller drops those and keeps
 * the rest for the next call. Call again (with the rest, and more input
 * appended when it comes) until SK_CHAT_PARTIAL. buf may be NULL when
 * len is 0.
 *
 * A line ends with LF; one CR just before the LF is not part of it, and
 * any other CR is (the sanitiser replaces it). Returns:
 *
 * SK_CHAT_LINE: *line, *linelen is the line without its LF and trailing
 *   CR, a view into buf, at most SK_CHAT_LINE_MAX bytes; it may be empty
 *   and may hold NUL bytes.
 * SK_CHAT_TOOLONG: a line has more than SK_CHAT_LINE_MAX bytes (its CR
 *   and LF not counted). It is reported once, as soon as that is known:
 *   when its LF arrives, or when buf holds SK_CHAT_LINE_MAX + 1 bytes of
 *   it that do not end in CR, or SK_CHAT_LINE_MAX + 2 bytes of it. The
 *   bytes seen so far are consumed, and the rest, up to and including
 *   its LF, is consumed over later calls as it arrives and never handed
 *   out.
 * SK_CHAT_PARTIAL: buf[*used..len) holds no complete line. *used may be
 *   above 0 (bytes of an over-long line skipped). When the splitter is
 *   not skipping, what is kept is at most SK_CHAT_LINE_MAX + 1 bytes.
 *
 * So a caller buffer of SK_CHAT_INBUF (SK_CHAT_LINE_MAX + 2) bytes is
 * enough and never fills without progress: a line of exactly
 * SK_CHAT_LINE_MAX bytes and its CR LF fits, and a full buffer always
 * yields SK_CHAT_LINE or SK_CHAT_TOOLONG.
 *
 * flush: nonzero means no more bytes are coming for now (the peer's EOF,
 * or the partial line has waited the service's line timeout: the
 * tutorial's client sends lines with no LF). Then, once no complete line
 * is left, the unfinished rest of the input, when not empty, is returned
 * as SK_CHAT_LINE (a final CR removed) and consumed: when a flushing
 * caller gets SK_CHAT_PARTIAL, nothing is left to keep. Flushing inside an
 * over-long line consumes the bytes and ends the skipping: the long
 * line is taken as finished, and the next byte starts a new line.
 *
 * On anything but SK_CHAT_LINE, *line is NULL and *linelen 0.
 */
int sk_chat_in_next(struct sk_chat_in *st, const char *buf, size_t len,
		    int flush, size_t *used, const char **line,
		    size_t *linelen);

/* ---- sanitising ----------------------------------------------------- */

/*
 * Copy in[0..len) to out as text safe to show on anyone's terminal.
 * Valid UTF-8 passes through, except that each of these characters
 * becomes U+FFFD (EF BF BD):
 *  - the C0 controls U+0000..U+001F but TAB (so NUL, CR, LF, ESC), DEL
 *    U+007F, and the C1 controls U+0080..U+009F;
 *  - the line and bidi controls U+2028, U+2029, U+202A..U+202E and
 *    U+2066..U+2069 ("Trojan Source").
 * Each invalid sequence becomes one U+FFFD, by the "maximal subpart"
 * practice of Unicode 15 section 3.9 (as WHATWG's decoder): a byte that
 * cannot start a character (80..C1, F5..FF) is one sequence; a lead byte
 * followed by fewer continuation bytes than it needs, or by one outside
 * the range its lead allows (overlongs, surrogates, above U+10FFFF), is
 * one sequence made of the lead and the good continuation bytes before
 * the bad one, and the bad byte starts the next.
 *
 * out must hold SK_CHAT_CLEAN_MAX(len) bytes and must not overlap in;
 * in may be NULL when len is 0. Returns the bytes written, at most
 * SK_CHAT_CLEAN_MAX(len). The output is valid UTF-8 and passes
 * sk_chat_is_clean().
 */
size_t sk_chat_clean(const char *in, size_t len, char *out);

/*
 * 1 if in[0..len) would pass sk_chat_clean() unchanged, else 0: callers
 * on the fan-out's hot path skip the copy. Printable ASCII is checked a
 * word at a time.
 */
int sk_chat_is_clean(const char *in, size_t len);

/* ---- member lines and nicks ----------------------------------------- */

enum sk_chat_cmd_kind {
	SK_CHAT_EMPTY,   /* nothing but spaces and tabs: ignore it */
	SK_CHAT_SAY,     /* a message; arg is its text */
	SK_CHAT_ME,      /* /me ACTION; arg is ACTION */
	SK_CHAT_NICK,    /* /nick NAME; arg is NAME, not yet checked */
	SK_CHAT_WHO,     /* /who; arg is anything after it */
	SK_CHAT_QUIT,    /* /quit [REASON]; arg is REASON, maybe empty */
	SK_CHAT_HELP,    /* /help; arg is anything after it */
	SK_CHAT_HELLO,   /* /hello: a client asks for the greeting (over UDP,
			  * with a cookie); arg is anything after it */
	SK_CHAT_ACK,     /* /ack COOKIE: a UDP client proves its address;
			  * arg is COOKIE (BADARG when empty) */
	SK_CHAT_UNKNOWN, /* /NAME not known; arg is NAME, cut */
	SK_CHAT_BADARG,  /* /me or /nick with nothing after; arg is its name */
};

struct sk_chat_cmd {
	enum sk_chat_cmd_kind kind; /* what the line is */
	const char *arg;            /* a view into the line */
	size_t arglen;              /* bytes in arg; 0 when there is none */
};

/*
 * Parse one member line (from sk_chat_in_next, not sanitised) into *cmd.
 * Never fails: every line is one of the kinds.
 *
 * An empty line, or one of only spaces and tabs, is EMPTY. A line whose
 * first byte is not '/' is SAY with arg the whole line, unchanged. A
 * line starting with "//" is SAY with arg the line without its first
 * '/', so "//x" says "/x" (IRC's escape).
 *
 * Any other line starting with '/' is a command: its name runs from the
 * byte after the '/' to the first space or tab or the end of the line,
 * and is compared without regard to ASCII case ("/ME" is "/me"). Its
 * argument is the rest of the line without the spaces and tabs at
 * either end. Known names: me (ME; BADARG when the argument is empty),
 * nick (NICK; BADARG when empty; sk_chat_nick_valid() is up to the
 * caller), who (WHO), quit (QUIT; the argument is an optional reason),
 * help (HELP), hello (HELLO), ack (ACK; BADARG when empty). WHO, HELP
 * and HELLO carry their argument, which a service may ignore. Any other name (empty included: "/" alone) is UNKNOWN, and so
 * is a known name run into more letters ("/whoami" is UNKNOWN "whoami").
 * For BADARG, arg is the command's name as typed (for "/ME", "ME"); for
 * UNKNOWN, the name cut to at most SK_CHAT_CMD_SHOW bytes, and further
 * back (by up to 3 bytes) so that no UTF-8 character is split.
 */
void sk_chat_parse(const char *line, size_t len, struct sk_chat_cmd *cmd);

/*
 * 1 if p[0..len) is a valid nick, else 0: 1 to SK_CHAT_NICK_MAX bytes of
 * ASCII letters, digits, '-', '_' and '.', starting with a letter. So a
 * nick never holds a space, never looks like a notice's "***", and is
 * safe to print as is.
 */
int sk_chat_nick_valid(const char *p, size_t len);

/* 1 if two nicks are the same nick (ASCII case ignored), else 0. */
int sk_chat_nick_eq(const char *a, size_t alen, const char *b, size_t blen);

/*
 * A hash of a nick, consistent with sk_chat_nick_eq(): FNV-1a over the
 * bytes in ASCII lower case. It has no key: a table that strangers fill
 * should mix a per-run secret into the bucket index, or bound its chains.
 */
uint32_t sk_chat_nick_hash(const char *p, size_t len);

/* ---- output lines --------------------------------------------------- */

enum sk_chat_out_kind {
	SK_CHAT_OUT_SAY,    /* "<NICK> TEXT": a member's message */
	SK_CHAT_OUT_ME,     /* "* NICK TEXT": a member's action (/me) */
	SK_CHAT_OUT_NOTICE, /* "*** TEXT": the server's */
	SK_CHAT_OUT_OTHER,  /* classify only: none of ours */
};

/*
 * Write one output line to out, which holds at least SK_CHAT_OUT_MAX
 * bytes, and return its length (at most SK_CHAT_OUT_MAX), LF included:
 *
 *     SAY      <NICK> TEXT LF
 *     ME       * NICK TEXT LF
 *     NOTICE   *** TEXT LF      (nick is ignored and may be NULL)
 *
 * The separating space is written even when text is empty. text is the
 * raw member text (or the service's own words): it is sanitised here, so
 * the line is always one line of clean UTF-8. nick must be valid
 * (sk_chat_nick_valid()). text longer than SK_CHAT_LINE_MAX bytes is cut
 * there; a kind other than the three is written as NOTICE; and as a
 * last defence an invalid nick is cut to SK_CHAT_NICK_MAX bytes and its
 * bytes outside the nick alphabet are written as '?', so no input can
 * break the bound or the line. text may be NULL when textlen is 0.
 *
 * Since a nick starts with a letter, only a NOTICE can start with "***".
 */
size_t sk_chat_format(char *out, enum sk_chat_out_kind kind,
		      const char *nick, size_t nicklen, const char *text,
		      size_t textlen);

/* A received output line, classified; every view points into it. */
struct sk_chat_msg {
	enum sk_chat_out_kind kind; /* SAY, ME, NOTICE or OTHER */
	const char *nick;           /* SAY, ME: the nick; else NULL */
	size_t nicklen;             /* bytes in nick; 0 when NULL */
	const char *text;           /* after the prefix; OTHER: the line */
	size_t textlen;             /* bytes in text */
};

/*
 * Classify a line received from a server (without its LF, as
 * sk_chat_in_next() hands it out), so that a client can show notices,
 * actions and messages apart. It is NOTICE if it starts with "*** " (or
 * is "***"), text the rest; ME if it starts with "* " and a valid nick
 * followed by a space or the end; SAY if it starts with "<", a valid
 * nick, "> " (or ">" at the end); else OTHER, with text the whole line:
 * a server that is not ours. This is the inverse of sk_chat_format() on
 * the line without its LF. Nothing is sanitised: the line may come from
 * any server, so print the views through sk_chat_clean().
 */
void sk_chat_classify(const char *line, size_t len, struct sk_chat_msg *msg);

#endif
