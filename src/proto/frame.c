/*
 * frame.c: the exec frame codec. Decoders walk a payload once, bounds
 * first, and return views into it; encoders check their input with the
 * same rules as the decoders, so that nothing they write is refused by
 * the other side, and write nothing until they know it fits.
 */
#include "frame.h"

#include <signal.h>
#include <string.h>

#include "be.h"
#include "timefmt.h"

/* ---- header rules -------------------------------------------------- */

#define SK__ZERO 1    /* stream 0 only */
#define SK__NONZERO 2 /* a command's stream only */
#define SK__ANY 3     /* either */

/* What the specification allows for one type. */
struct sk__rule {
	uint8_t from;   /* SK_FRAME_CLIENT | SK_FRAME_SERVER; 0: unknown */
	uint8_t stream; /* SK__ZERO, SK__NONZERO or SK__ANY */
	uint8_t flags;  /* the flags defined for the type */
};

#define SK__C SK_FRAME_CLIENT
#define SK__S SK_FRAME_SERVER

static const struct sk__rule sk__rules[] = {
	[SK_FRAME_HELLO] = { SK__C | SK__S, SK__ZERO, 0 },
	/* A client's ERROR goes on stream 0 only: sk_frame_check(). */
	[SK_FRAME_ERROR] = { SK__C | SK__S, SK__ANY, 0 },
	[SK_FRAME_EXEC] = { SK__C, SK__NONZERO, SK_FRAME_F_SHELL },
	[SK_FRAME_EXEC_OK] = { SK__S, SK__NONZERO, 0 },
	[SK_FRAME_STDIN] = { SK__C, SK__NONZERO, SK_FRAME_F_END },
	[SK_FRAME_STDOUT] = { SK__S, SK__NONZERO, 0 },
	[SK_FRAME_STDERR] = { SK__S, SK__NONZERO, 0 },
	[SK_FRAME_EXIT] = { SK__S, SK__NONZERO, 0 },
	[SK_FRAME_SIGNAL] = { SK__C, SK__NONZERO, 0 },
	[SK_FRAME_WINDOW_UPDATE] = { SK__C | SK__S, SK__NONZERO, 0 },
	[SK_FRAME_RESET] = { SK__C, SK__NONZERO, 0 },
};

#define SK__NTYPES (sizeof(sk__rules) / sizeof(sk__rules[0]))

/* The rule for type, or NULL if the type is unknown. */
static const struct sk__rule *sk__rule(unsigned type)
{
	if (type >= SK__NTYPES || sk__rules[type].from == 0)
		return NULL;
	return &sk__rules[type];
}

static int sk__stream_ok(const struct sk__rule *r, uint32_t stream)
{
	if (r->stream == SK__ZERO)
		return stream == 0;
	if (r->stream == SK__NONZERO)
		return stream != 0;
	return 1;
}

/* What a decoder checks before the payload: its type, stream and flags. */
static int sk__shape(const struct sk_frame *f, unsigned type)
{
	const struct sk__rule *r = sk__rule(type);

	if (f->type != type)
		return SK_FRAME_E_TYPE;
	if (!sk__stream_ok(r, f->stream))
		return SK_FRAME_E_STREAM;
	if ((f->flags & ~(unsigned)r->flags) != 0)
		return SK_FRAME_E_FLAGS;
	return 0;
}

int sk_frame_parse(const uint8_t *buf, size_t len, struct sk_frame *f)
{
	size_t plen;

	if (len < 4)
		return 0;
	plen = sk_be_get16(buf + 2);
	if (plen > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	if (len < SK_FRAME_HEADER || len - SK_FRAME_HEADER < plen)
		return 0;
	f->type = buf[0];
	f->flags = buf[1];
	f->len = plen;
	f->stream = sk_be_get32(buf + 4);
	f->payload = buf + SK_FRAME_HEADER;
	return (int)(SK_FRAME_HEADER + plen);
}

int sk_frame_check(const struct sk_frame *f, int from)
{
	const struct sk__rule *r = sk__rule(f->type);

	if (r == NULL)
		return SK_FRAME_E_TYPE;
	if ((from != SK_FRAME_CLIENT && from != SK_FRAME_SERVER) ||
	    (r->from & from) == 0)
		return SK_FRAME_E_SIDE;
	if (!sk__stream_ok(r, f->stream) ||
	    (f->type == SK_FRAME_ERROR && from == SK_FRAME_CLIENT &&
	     f->stream != 0))
		return SK_FRAME_E_STREAM;
	if ((f->flags & ~(unsigned)r->flags) != 0)
		return SK_FRAME_E_FLAGS;
	switch (f->type) {
	case SK_FRAME_EXEC_OK:
		if (f->len != 0)
			return SK_FRAME_E_LENGTH;
		break;
	case SK_FRAME_STDIN:
		/* An empty STDIN says only END; empty output says nothing. */
		if (f->len == 0 && (f->flags & SK_FRAME_F_END) == 0)
			return SK_FRAME_E_LENGTH;
		break;
	case SK_FRAME_STDOUT:
	case SK_FRAME_STDERR:
		if (f->len == 0)
			return SK_FRAME_E_LENGTH;
		break;
	default:
		break;
	}
	return 0;
}

/* ---- encoding ------------------------------------------------------ */

int sk_frame_header(uint8_t *out, size_t cap, unsigned type, unsigned flags,
		    uint32_t stream, size_t len)
{
	if (len > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	if (cap < SK_FRAME_HEADER)
		return SK_FRAME_E_SPACE;
	out[0] = (uint8_t)type;
	out[1] = (uint8_t)flags;
	sk_be_put16(out + 2, len);
	sk_be_put32(out + 4, stream);
	return SK_FRAME_HEADER;
}

/* Check that a frame of plen payload bytes fits in cap, then write its
 * header. Returns 0 or a negative enum sk_frame_err. */
static int sk__begin(uint8_t *out, size_t cap, unsigned type, unsigned flags,
		     uint32_t stream, size_t plen)
{
	if (!sk__stream_ok(sk__rule(type), stream))
		return SK_FRAME_E_STREAM;
	if (plen > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	if (cap < SK_FRAME_HEADER + plen)
		return SK_FRAME_E_SPACE;
	sk_frame_header(out, cap, type, flags, stream, plen);
	return 0;
}

int sk_frame_encode(uint8_t *out, size_t cap, unsigned type, unsigned flags,
		    uint32_t stream, const void *payload, size_t len)
{
	if (len > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	if (cap < SK_FRAME_HEADER + len)
		return SK_FRAME_E_SPACE;
	sk_frame_header(out, cap, type, flags, stream, len);
	if (len > 0)
		memcpy(out + SK_FRAME_HEADER, payload, len);
	return (int)(SK_FRAME_HEADER + len);
}

/* ---- strings ------------------------------------------------------- */

static int sk__has_nul(const struct sk_frame_str *s)
{
	return s->len > 0 && memchr(s->p, '\0', s->len) != NULL;
}

/* Read a 16-bit length and that many bytes at p[*pos], within len. */
static int sk__get_str(const uint8_t *p, size_t len, size_t *pos,
		       struct sk_frame_str *s)
{
	size_t n;

	if (len - *pos < 2)
		return SK_FRAME_E_SHORT;
	n = sk_be_get16(p + *pos);
	*pos += 2;
	if (len - *pos < n)
		return SK_FRAME_E_SHORT;
	s->p = (const char *)p + *pos;
	s->len = n;
	*pos += n;
	return 0;
}

static uint8_t *sk__put_str(uint8_t *p, const struct sk_frame_str *s)
{
	sk_be_put16(p, s->len);
	if (s->len > 0)
		memcpy(p + 2, s->p, s->len);
	return p + 2 + s->len;
}

int sk_frame_signame_ok(const char *name, size_t len)
{
	if (len == 0 || len > SK_FRAME_MAX_SIGNAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return 0;
	return 1;
}

/* ---- HELLO --------------------------------------------------------- */

int sk_frame_hello_encode(uint8_t *out, size_t cap, unsigned version)
{
	int rc;

	if (version > UINT16_MAX)
		return SK_FRAME_E_VALUE;
	rc = sk__begin(out, cap, SK_FRAME_HELLO, 0, 0, SK_FRAME_HELLO_LEN);
	if (rc < 0)
		return rc;
	memcpy(out + SK_FRAME_HEADER, SK_FRAME_MAGIC, 4);
	sk_be_put16(out + SK_FRAME_HEADER + 4, version);
	return SK_FRAME_HEADER + SK_FRAME_HELLO_LEN;
}

int sk_frame_hello_prefix(const uint8_t *buf, size_t len)
{
	static const uint8_t want[SK_FRAME_HEADER + 4] = {
		SK_FRAME_HELLO, 0, 0, 0, 0, 0, 0, 0, 0x89, 'S', 'K', 'X',
	};

	for (size_t i = 0; i < len && i < sizeof(want); i++)
		if (i != 2 && i != 3 && buf[i] != want[i])
			return 0;
	return 1;
}

int sk_frame_hello_decode(const struct sk_frame *f, unsigned *version)
{
	int rc = sk__shape(f, SK_FRAME_HELLO);

	if (rc < 0)
		return rc;
	if (f->len < 4)
		return SK_FRAME_E_SHORT;
	if (memcmp(f->payload, SK_FRAME_MAGIC, 4) != 0)
		return SK_FRAME_E_MAGIC;
	if (f->len < SK_FRAME_HELLO_LEN)
		return SK_FRAME_E_SHORT;
	*version = sk_be_get16(f->payload + 4);
	if (*version != SK_FRAME_VERSION)
		return SK_FRAME_E_VERSION;
	if (f->len > SK_FRAME_HELLO_LEN)
		return SK_FRAME_E_TRAILING;
	return 0;
}

/* ---- EXEC ---------------------------------------------------------- */

/* The rules on the strings of a command whose counts are in range. */
static int sk__exec_strings_ok(const struct sk_frame_exec *e)
{
	if (e->argv[0].len == 0)
		return SK_FRAME_E_STRING;
	for (size_t i = 0; i < e->argc; i++)
		if (sk__has_nul(&e->argv[i]))
			return SK_FRAME_E_STRING;
	for (size_t i = 0; i < e->envc; i++) {
		const struct sk_frame_str *s = &e->env[i];

		/* NAME=VALUE: a non-empty NAME, then '='; VALUE may be "". */
		if (s->len < 2 || s->p[0] == '=' ||
		    memchr(s->p, '=', s->len) == NULL || sk__has_nul(s))
			return SK_FRAME_E_STRING;
	}
	if (e->cwd.len > 0 && (e->cwd.p[0] != '/' || sk__has_nul(&e->cwd)))
		return SK_FRAME_E_STRING;
	return 0;
}

static int sk__exec_counts_ok(const struct sk_frame_exec *e)
{
	if (e->argc < 1 || e->argc > SK_EXEC_MAX_ARGS ||
	    e->envc > SK_EXEC_MAX_ENV || (e->shell && e->argc != 1))
		return SK_FRAME_E_COUNT;
	return 0;
}

int sk_frame_exec_encode(uint8_t *out, size_t cap, uint32_t stream,
			 const struct sk_frame_exec *e)
{
	size_t plen = SK_FRAME_EXEC_FIXED + 2;
	uint8_t *p;
	int rc;

	if (e->shell != 0 && e->shell != 1)
		return SK_FRAME_E_VALUE;
	rc = sk__exec_counts_ok(e);
	if (rc < 0)
		return rc;
	/* Sizes before contents: a length is not trusted until it is in
	 * range, and no sum can wrap. */
	if (e->cwd.len > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	plen += e->cwd.len;
	for (size_t i = 0; i < e->argc + e->envc; i++) {
		size_t n = i < e->argc ? e->argv[i].len
				       : e->env[i - e->argc].len;

		if (n > SK_FRAME_MAX_PAYLOAD)
			return SK_FRAME_E_TOOBIG;
		plen += 2 + n;
	}
	if (plen > SK_FRAME_MAX_PAYLOAD)
		return SK_FRAME_E_TOOBIG;
	rc = sk__exec_strings_ok(e);
	if (rc < 0)
		return rc;
	rc = sk__begin(out, cap, SK_FRAME_EXEC,
		       e->shell ? SK_FRAME_F_SHELL : 0, stream, plen);
	if (rc < 0)
		return rc;
	p = out + SK_FRAME_HEADER;
	sk_be_put32(p, e->timeout_ms);
	sk_be_put16(p + 4, e->argc);
	sk_be_put16(p + 6, e->envc);
	p = sk__put_str(p + SK_FRAME_EXEC_FIXED, &e->cwd);
	for (size_t i = 0; i < e->argc; i++)
		p = sk__put_str(p, &e->argv[i]);
	for (size_t i = 0; i < e->envc; i++)
		p = sk__put_str(p, &e->env[i]);
	return (int)(SK_FRAME_HEADER + plen);
}

int sk_frame_exec_decode(const struct sk_frame *f, struct sk_frame_exec *e)
{
	const uint8_t *b = f->payload;
	size_t pos = SK_FRAME_EXEC_FIXED;
	int rc = sk__shape(f, SK_FRAME_EXEC);

	if (rc < 0)
		return rc;
	if (f->len < SK_FRAME_EXEC_FIXED)
		return SK_FRAME_E_SHORT;
	e->timeout_ms = sk_be_get32(b);
	e->argc = sk_be_get16(b + 4);
	e->envc = sk_be_get16(b + 6);
	e->shell = (f->flags & SK_FRAME_F_SHELL) != 0;
	rc = sk__exec_counts_ok(e);
	if (rc < 0)
		return rc;
	/* Every string takes 2 bytes at least: counts the payload cannot
	 * hold are refused before the walk. */
	if ((f->len - SK_FRAME_EXEC_FIXED) / 2 < 1 + e->argc + e->envc)
		return SK_FRAME_E_SHORT;
	rc = sk__get_str(b, f->len, &pos, &e->cwd);
	for (size_t i = 0; rc == 0 && i < e->argc; i++)
		rc = sk__get_str(b, f->len, &pos, &e->argv[i]);
	for (size_t i = 0; rc == 0 && i < e->envc; i++)
		rc = sk__get_str(b, f->len, &pos, &e->env[i]);
	if (rc < 0)
		return rc;
	if (pos != f->len)
		return SK_FRAME_E_TRAILING;
	return sk__exec_strings_ok(e);
}

/* ---- ERROR --------------------------------------------------------- */

static int sk__text_ok(const char *text, size_t len)
{
	return len <= SK_FRAME_MAX_TEXT &&
	       (len == 0 || (memchr(text, '\0', len) == NULL &&
			     sk_utf8_valid((const unsigned char *)text, len)));
}

int sk_frame_error_encode(uint8_t *out, size_t cap, uint32_t stream,
			  unsigned code, const char *text, size_t len)
{
	int rc;

	if (code == 0 || code > UINT16_MAX)
		return SK_FRAME_E_VALUE;
	if (!sk__text_ok(text, len))
		return SK_FRAME_E_STRING;
	rc = sk__begin(out, cap, SK_FRAME_ERROR, 0, stream, 2 + len);
	if (rc < 0)
		return rc;
	sk_be_put16(out + SK_FRAME_HEADER, code);
	if (len > 0)
		memcpy(out + SK_FRAME_HEADER + 2, text, len);
	return (int)(SK_FRAME_HEADER + 2 + len);
}

int sk_frame_error_decode(const struct sk_frame *f, struct sk_frame_error *e)
{
	int rc = sk__shape(f, SK_FRAME_ERROR);

	if (rc < 0)
		return rc;
	if (f->len < 2)
		return SK_FRAME_E_SHORT;
	e->code = sk_be_get16(f->payload);
	e->text.p = (const char *)f->payload + 2;
	e->text.len = f->len - 2;
	if (e->code == 0)
		return SK_FRAME_E_VALUE;
	if (!sk__text_ok(e->text.p, e->text.len))
		return SK_FRAME_E_STRING;
	return 0;
}

/* ---- EXIT ---------------------------------------------------------- */

int sk_frame_exit_encode(uint8_t *out, size_t cap, uint32_t stream,
			 const struct sk_frame_exit *x)
{
	size_t plen = 2;
	int rc;

	if (x->signaled == 0) {
		if (x->status > 255)
			return SK_FRAME_E_VALUE;
	} else if (x->signaled == 1) {
		if (x->core != 0 && x->core != 1)
			return SK_FRAME_E_VALUE;
		if (!sk_frame_signame_ok(x->signal.p, x->signal.len))
			return SK_FRAME_E_STRING;
		plen += x->signal.len;
	} else {
		return SK_FRAME_E_VALUE;
	}
	rc = sk__begin(out, cap, SK_FRAME_EXIT, 0, stream, plen);
	if (rc < 0)
		return rc;
	out[SK_FRAME_HEADER] = (uint8_t)x->signaled;
	if (x->signaled) {
		out[SK_FRAME_HEADER + 1] = x->core ? SK_FRAME_EXIT_CORE : 0;
		memcpy(out + SK_FRAME_HEADER + 2, x->signal.p, x->signal.len);
	} else {
		out[SK_FRAME_HEADER + 1] = (uint8_t)x->status;
	}
	return (int)(SK_FRAME_HEADER + plen);
}

int sk_frame_exit_decode(const struct sk_frame *f, struct sk_frame_exit *x)
{
	const uint8_t *b = f->payload;
	int rc = sk__shape(f, SK_FRAME_EXIT);

	if (rc < 0)
		return rc;
	if (f->len < 2)
		return SK_FRAME_E_SHORT;
	memset(x, 0, sizeof(*x));
	if (b[0] == 0) {
		if (f->len > 2)
			return SK_FRAME_E_TRAILING;
		x->status = b[1];
		return 0;
	}
	if (b[0] != 1 || (b[1] & ~SK_FRAME_EXIT_CORE) != 0)
		return SK_FRAME_E_VALUE;
	x->signaled = 1;
	x->core = (b[1] & SK_FRAME_EXIT_CORE) != 0;
	x->signal.p = (const char *)b + 2;
	x->signal.len = f->len - 2;
	if (!sk_frame_signame_ok(x->signal.p, x->signal.len))
		return SK_FRAME_E_STRING;
	return 0;
}

/* ---- SIGNAL -------------------------------------------------------- */

int sk_frame_signal_encode(uint8_t *out, size_t cap, uint32_t stream,
			   const char *name, size_t len)
{
	int rc;

	if (!sk_frame_signame_ok(name, len))
		return SK_FRAME_E_STRING;
	rc = sk__begin(out, cap, SK_FRAME_SIGNAL, 0, stream, len);
	if (rc < 0)
		return rc;
	memcpy(out + SK_FRAME_HEADER, name, len);
	return (int)(SK_FRAME_HEADER + len);
}

int sk_frame_signal_decode(const struct sk_frame *f, struct sk_frame_str *name)
{
	int rc = sk__shape(f, SK_FRAME_SIGNAL);

	if (rc < 0)
		return rc;
	name->p = (const char *)f->payload;
	name->len = f->len;
	if (!sk_frame_signame_ok(name->p, name->len))
		return SK_FRAME_E_STRING;
	return 0;
}

/* ---- WINDOW_UPDATE and RESET --------------------------------------- */

int sk_frame_window_encode(uint8_t *out, size_t cap, uint32_t stream,
			   uint32_t increment)
{
	int rc;

	if (increment == 0 || increment > SK_EXEC_WINDOW_MAX)
		return SK_FRAME_E_VALUE;
	rc = sk__begin(out, cap, SK_FRAME_WINDOW_UPDATE, 0, stream, 4);
	if (rc < 0)
		return rc;
	sk_be_put32(out + SK_FRAME_HEADER, increment);
	return SK_FRAME_HEADER + 4;
}

int sk_frame_window_decode(const struct sk_frame *f, uint32_t *increment)
{
	int rc = sk__shape(f, SK_FRAME_WINDOW_UPDATE);

	if (rc < 0)
		return rc;
	if (f->len < 4)
		return SK_FRAME_E_SHORT;
	if (f->len > 4)
		return SK_FRAME_E_TRAILING;
	*increment = sk_be_get32(f->payload);
	if (*increment == 0 || *increment > SK_EXEC_WINDOW_MAX)
		return SK_FRAME_E_VALUE;
	return 0;
}

int sk_frame_window_add(uint32_t *window, uint32_t increment)
{
	if (*window > SK_EXEC_WINDOW_MAX ||
	    increment > SK_EXEC_WINDOW_MAX - *window)
		return SK_FRAME_E_FLOW;
	*window += increment;
	return 0;
}

int sk_frame_reset_encode(uint8_t *out, size_t cap, uint32_t stream,
			  unsigned code)
{
	int rc;

	if (code == 0 || code > UINT16_MAX)
		return SK_FRAME_E_VALUE;
	rc = sk__begin(out, cap, SK_FRAME_RESET, 0, stream, 2);
	if (rc < 0)
		return rc;
	sk_be_put16(out + SK_FRAME_HEADER, code);
	return SK_FRAME_HEADER + 2;
}

int sk_frame_reset_decode(const struct sk_frame *f, unsigned *code)
{
	int rc = sk__shape(f, SK_FRAME_RESET);

	if (rc < 0)
		return rc;
	if (f->len < 2)
		return SK_FRAME_E_SHORT;
	if (f->len > 2)
		return SK_FRAME_E_TRAILING;
	*code = sk_be_get16(f->payload);
	if (*code == 0)
		return SK_FRAME_E_VALUE;
	return 0;
}

/* ---- codes and names ----------------------------------------------- */

unsigned sk_frame_code(int err)
{
	switch (err) {
	case SK_FRAME_E_TYPE:
		return SK_FRAME_CODE_UNKNOWN_TYPE;
	case SK_FRAME_E_STREAM:
		return SK_FRAME_CODE_BAD_STREAM;
	case SK_FRAME_E_VERSION:
		return SK_FRAME_CODE_VERSION;
	case SK_FRAME_E_FLOW:
		return SK_FRAME_CODE_FLOW;
	case SK_FRAME_E_SPACE:
		return SK_FRAME_CODE_INTERNAL;
	default:
		return SK_FRAME_CODE_BAD_FRAME;
	}
}

static const char *const sk__code_names[] = {
	[SK_FRAME_CODE_BAD_FRAME] = "BAD_FRAME",
	[SK_FRAME_CODE_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
	[SK_FRAME_CODE_BAD_STREAM] = "BAD_STREAM",
	[SK_FRAME_CODE_VERSION] = "VERSION",
	[SK_FRAME_CODE_FLOW] = "FLOW",
	[SK_FRAME_CODE_TOO_MANY] = "TOO_MANY",
	[SK_FRAME_CODE_NOT_FOUND] = "NOT_FOUND",
	[SK_FRAME_CODE_PERMISSION] = "PERMISSION",
	[SK_FRAME_CODE_POLICY] = "POLICY",
	[SK_FRAME_CODE_TIMEOUT] = "TIMEOUT",
	[SK_FRAME_CODE_TRUNCATED] = "TRUNCATED",
	[SK_FRAME_CODE_CANCEL] = "CANCEL",
	[SK_FRAME_CODE_SHUTDOWN] = "SHUTDOWN",
	[SK_FRAME_CODE_INTERNAL] = "INTERNAL",
};

const char *sk_frame_code_name(unsigned code)
{
	if (code >= sizeof(sk__code_names) / sizeof(sk__code_names[0]) ||
	    sk__code_names[code] == NULL)
		return "INTERNAL";
	return sk__code_names[code];
}

const char *sk_frame_strerror(int err)
{
	switch (err) {
	case SK_FRAME_E_TOOBIG:
		return "frame payload over 16384 bytes";
	case SK_FRAME_E_TYPE:
		return "unknown frame type";
	case SK_FRAME_E_SIDE:
		return "frame type not sent by this side";
	case SK_FRAME_E_STREAM:
		return "wrong stream for the frame type";
	case SK_FRAME_E_FLAGS:
		return "undefined frame flag";
	case SK_FRAME_E_LENGTH:
		return "payload length wrong for the frame type";
	case SK_FRAME_E_SHORT:
		return "payload ends inside a field";
	case SK_FRAME_E_TRAILING:
		return "bytes after the last field";
	case SK_FRAME_E_MAGIC:
		return "not an exec HELLO";
	case SK_FRAME_E_VERSION:
		return "unsupported protocol version";
	case SK_FRAME_E_COUNT:
		return "bad argument or environment count";
	case SK_FRAME_E_STRING:
		return "malformed string";
	case SK_FRAME_E_VALUE:
		return "field value out of range";
	case SK_FRAME_E_FLOW:
		return "flow-control window over 2^31-1";
	case SK_FRAME_E_SPACE:
		return "frame does not fit the buffer";
	default:
		return "unknown frame error";
	}
}

/* ---- signal names -------------------------------------------------- */

/* The common POSIX signals, by their names without "SIG". */
static const struct {
	int signo;        /* this system's number */
	const char *name; /* the name on the wire */
} sk__signals[] = {
	{ SIGHUP, "HUP" },   { SIGINT, "INT" },       { SIGQUIT, "QUIT" },
	{ SIGILL, "ILL" },   { SIGTRAP, "TRAP" },     { SIGABRT, "ABRT" },
	{ SIGBUS, "BUS" },   { SIGFPE, "FPE" },       { SIGKILL, "KILL" },
	{ SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" },     { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" },     { SIGTERM, "TERM" },
	{ SIGCHLD, "CHLD" }, { SIGCONT, "CONT" },     { SIGSTOP, "STOP" },
	{ SIGTSTP, "TSTP" }, { SIGTTIN, "TTIN" },     { SIGTTOU, "TTOU" },
	{ SIGURG, "URG" },   { SIGXCPU, "XCPU" },     { SIGXFSZ, "XFSZ" },
	{ SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" },
	{ SIGSYS, "SYS" },
};

#define SK__NSIGNALS (sizeof(sk__signals) / sizeof(sk__signals[0]))

const char *sk_signal_name(int signo)
{
	for (size_t i = 0; i < SK__NSIGNALS; i++)
		if (sk__signals[i].signo == signo)
			return sk__signals[i].name;
	return NULL;
}

int sk_signal_number(const char *name, size_t len)
{
	if (!sk_frame_signame_ok(name, len))
		return -1;
	for (size_t i = 0; i < SK__NSIGNALS; i++)
		if (strlen(sk__signals[i].name) == len &&
		    memcmp(sk__signals[i].name, name, len) == 0)
			return sk__signals[i].signo;
	return -1;
}
