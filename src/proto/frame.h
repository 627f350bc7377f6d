/*
 * frame.h: the frames of the exec service over TCP (later inside TLS 1.3
 * PSK), with no I/O and no allocation. docs/PROTOCOL.md, "exec (TCP):
 * frames", is the specification; this is its codec.
 *
 * Every frame is an 8-byte header and a payload, in network byte order:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |     Type      |     Flags     |        Payload Length         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  4 |                          Stream ID                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 .              Payload (Payload Length bytes)                   .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A Payload Length over SK_FRAME_MAX_PAYLOAD is refused as soon as the
 * length field has arrived, before any payload is buffered.
 *
 * The layers: sk_frame_parse() finds a frame in a byte stream and reads
 * its header whatever its type; sk_frame_check() applies the header rules
 * of the specification (known type, who may send it, stream 0 or not,
 * flags, empty payloads); the sk_frame_*_decode() functions check one
 * type's payload and return views into it, never copies. Each encoder
 * accepts exactly what its decoder accepts, so a decoded frame encodes
 * back to the same bytes.
 */
#ifndef SK_FRAME_H
#define SK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "sk_limits.h"

/* The header as it sits on the wire; every field is big-endian. */
struct sk_frame_wire {
	uint8_t type;    /* enum sk_frame_type */
	uint8_t flags;   /* SK_FRAME_F_*, by type; undefined bits are 0 */
	uint16_t len;    /* payload bytes, at most SK_FRAME_MAX_PAYLOAD */
	uint32_t stream; /* 0: the connection; else a command's stream */
};

#define SK_FRAME_HEADER 8
/* A whole frame, header included: the largest buffer a reader needs. */
#define SK_FRAME_MAX (SK_FRAME_HEADER + SK_FRAME_MAX_PAYLOAD)

_Static_assert(sizeof(struct sk_frame_wire) == SK_FRAME_HEADER, "header");
_Static_assert(__builtin_offsetof(struct sk_frame_wire, type) == 0, "type");
_Static_assert(__builtin_offsetof(struct sk_frame_wire, flags) == 1, "flags");
_Static_assert(__builtin_offsetof(struct sk_frame_wire, len) == 2, "len");
_Static_assert(__builtin_offsetof(struct sk_frame_wire, stream) == 4, "id");
_Static_assert(SK_FRAME_MAX_PAYLOAD <= UINT16_MAX, "length field");

/* Frame types. 0 and 12-255 are unknown. */
enum sk_frame_type {
	SK_FRAME_HELLO = 0x01,  /* both, stream 0: magic and version */
	SK_FRAME_ERROR = 0x02,  /* server: any stream; client: stream 0 */
	SK_FRAME_EXEC = 0x03,   /* client: start a command on a new stream */
	SK_FRAME_EXEC_OK = 0x04, /* server: the command started; empty */
	SK_FRAME_STDIN = 0x05,  /* client: bytes for the command's stdin */
	SK_FRAME_STDOUT = 0x06, /* server: bytes from its stdout */
	SK_FRAME_STDERR = 0x07, /* server: bytes from its stderr */
	SK_FRAME_EXIT = 0x08,   /* server: how it ended; the stream ends */
	SK_FRAME_SIGNAL = 0x09, /* client: send it a signal, by name */
	SK_FRAME_WINDOW_UPDATE = 0x0a, /* both: flow-control credit */
	SK_FRAME_RESET = 0x0b,  /* client: abort the stream */
};

/* Flags, each defined for one type only. */
#define SK_FRAME_F_SHELL 0x01 /* EXEC: argv[0] is a shell command line */
#define SK_FRAME_F_END 0x01   /* STDIN: the last one; stdin is closed */

/* Who sent a frame, for sk_frame_check(). */
enum sk_frame_side {
	SK_FRAME_CLIENT = 1,
	SK_FRAME_SERVER = 2,
};

/*
 * Codec errors. In a received frame every one of them is a connection
 * error; sk_frame_code() gives the ERROR code to send before closing.
 */
enum sk_frame_err {
	SK_FRAME_E_TOOBIG = -1,   /* payload over SK_FRAME_MAX_PAYLOAD */
	SK_FRAME_E_TYPE = -2,     /* unknown type, or not the decoder's */
	SK_FRAME_E_SIDE = -3,     /* a type this side may not send */
	SK_FRAME_E_STREAM = -4,   /* stream 0 where an id is needed, or not */
	SK_FRAME_E_FLAGS = -5,    /* a flag not defined for the type */
	SK_FRAME_E_LENGTH = -6,   /* EXEC_OK not empty, data frame empty */
	SK_FRAME_E_SHORT = -7,    /* payload ends inside a field or string */
	SK_FRAME_E_TRAILING = -8, /* bytes after the last field */
	SK_FRAME_E_MAGIC = -9,    /* HELLO without the magic */
	SK_FRAME_E_VERSION = -10, /* HELLO with another version */
	SK_FRAME_E_COUNT = -11,   /* argument or environment count wrong */
	SK_FRAME_E_STRING = -12,  /* a string empty, too long or malformed */
	SK_FRAME_E_VALUE = -13,   /* a number out of its range */
	SK_FRAME_E_FLOW = -14,    /* a window over SK_EXEC_WINDOW_MAX */
	SK_FRAME_E_SPACE = -15,   /* encoders: the output does not fit */
};

/* ERROR and RESET codes on the wire (16 bits; 0 is never sent). */
enum sk_frame_code {
	SK_FRAME_CODE_BAD_FRAME = 1,    /* malformed frame or payload */
	SK_FRAME_CODE_UNKNOWN_TYPE = 2, /* a type the receiver does not know */
	SK_FRAME_CODE_BAD_STREAM = 3,   /* stream id zero, reused or unknown */
	SK_FRAME_CODE_VERSION = 4,      /* no common protocol version */
	SK_FRAME_CODE_FLOW = 5,         /* data beyond the credit granted */
	SK_FRAME_CODE_TOO_MANY = 6,     /* too many commands at once */
	SK_FRAME_CODE_NOT_FOUND = 7,    /* no such program or directory */
	SK_FRAME_CODE_PERMISSION = 8,   /* not allowed by the system */
	SK_FRAME_CODE_POLICY = 9,       /* not allowed by the server's policy */
	SK_FRAME_CODE_TIMEOUT = 10,     /* the command ran out of time */
	SK_FRAME_CODE_TRUNCATED = 11,   /* the command's output hit the cap */
	SK_FRAME_CODE_CANCEL = 12,      /* RESET: the client gave up */
	SK_FRAME_CODE_SHUTDOWN = 13,    /* the server is stopping */
	SK_FRAME_CODE_INTERNAL = 14,    /* anything else; also unknown codes */
};

/* A parsed header. The payload stays in the caller's buffer. */
struct sk_frame {
	unsigned type;          /* as on the wire, maybe unknown */
	unsigned flags;         /* as on the wire */
	size_t len;             /* payload bytes */
	uint32_t stream;        /* stream id */
	const uint8_t *payload; /* buf + SK_FRAME_HEADER */
};

/* A view of bytes inside a payload (decoders) or the caller's (encoders);
 * not NUL-terminated. */
struct sk_frame_str {
	const char *p; /* the first byte; may be NULL when len is 0 */
	size_t len;    /* bytes */
};

/*
 * Find the frame at the start of buf[0..len), a byte stream. Returns the
 * frame's total size (header and payload) and fills *f; 0 when more bytes
 * are needed; or SK_FRAME_E_TOOBIG, as soon as the 4 bytes holding the
 * length are there. *f is written only on success, and f->payload points
 * into buf. The type is not looked at: see sk_frame_check().
 */
int sk_frame_parse(const uint8_t *buf, size_t len, struct sk_frame *f);

/*
 * The header rules of the specification for a frame sent by `from` (enum
 * sk_frame_side): a known type, one that side may send, on stream 0 or a
 * nonzero one as the type requires, only defined flags, an empty EXEC_OK
 * and no empty data frame (except STDIN with END). Stream state (is the
 * id open, new, increasing) is the caller's. Returns 0 or a negative enum
 * sk_frame_err.
 */
int sk_frame_check(const struct sk_frame *f, int from);

/*
 * Write a header announcing len payload bytes into out (cap bytes).
 * Returns SK_FRAME_HEADER, SK_FRAME_E_TOOBIG or SK_FRAME_E_SPACE. Types
 * and flags are written as given, so tests can build any header.
 */
int sk_frame_header(uint8_t *out, size_t cap, unsigned type, unsigned flags,
		    uint32_t stream, size_t len);

/*
 * Write a whole frame: the header and a copy of payload[0..len) (NULL
 * when len is 0). For STDIN, STDOUT, STDERR and EXEC_OK. Returns the
 * frame's size or a negative enum sk_frame_err.
 */
int sk_frame_encode(uint8_t *out, size_t cap, unsigned type, unsigned flags,
		    uint32_t stream, const void *payload, size_t len);

/*
 * The encoders below write a whole frame of their type into out (cap
 * bytes) and return its size, or a negative enum sk_frame_err with
 * nothing promised about out. They refuse what the decoder would refuse.
 * The decoders take a frame from sk_frame_parse() of their type and
 * check its flags, its stream (0 or not) and every byte of its payload;
 * they return 0 or a negative enum sk_frame_err. Views they return point
 * into f->payload.
 */

/*
 * HELLO, stream 0, flags 0: the first frame each side sends.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |     0x89      |      'S'      |      'K'      |      'X'      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  4 |           Version             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A connection therefore starts with the bytes 01 00 00 06 00 00 00 00
 * 89 'S' 'K' 'X'. No command line typed at a terminal starts with 0x01,
 * and 0x89 is not even the start of a UTF-8 character.
 */
struct sk_frame_hello_wire {
	uint8_t magic[4]; /* SK_FRAME_MAGIC */
	uint16_t version; /* SK_FRAME_VERSION */
};

#define SK_FRAME_MAGIC "\x89SKX"
#define SK_FRAME_VERSION 1
#define SK_FRAME_HELLO_LEN 6

_Static_assert(sizeof(struct sk_frame_hello_wire) == SK_FRAME_HELLO_LEN,
	       "HELLO size");
_Static_assert(__builtin_offsetof(struct sk_frame_hello_wire, magic) == 0,
	       "magic");
_Static_assert(__builtin_offsetof(struct sk_frame_hello_wire, version) == 4,
	       "version");

/* Any version may be encoded (tests need the others); its payload is
 * always 6 bytes. */
int sk_frame_hello_encode(uint8_t *out, size_t cap, unsigned version);

/*
 * Could buf[0..len) be the start of a HELLO frame (of any version)? Looks
 * at the type, flags, stream and magic bytes that have arrived, not the
 * length. A typed line such as "ls -la" announces 0x202d bytes, under the
 * limit, so a server would otherwise wait for them: with this it refuses
 * (or, in raw mode, runs) such a connection from its first byte. Returns
 * 1 or 0; 1 for len 0.
 */
int sk_frame_hello_prefix(const uint8_t *buf, size_t len);

/*
 * Checks the magic first, then the version: another version is
 * SK_FRAME_E_VERSION with *version set, whatever follows it, since a
 * later version may say more. Version 1 is exactly 6 bytes.
 */
int sk_frame_hello_decode(const struct sk_frame *f, unsigned *version);

/*
 * EXEC, client, a new nonzero stream; flag SHELL. Strings are a 16-bit
 * length and that many bytes, with no NUL inside.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                        Timeout (ms)                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  4 |        Argument Count         |       Environment Count       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |          Cwd Length           |  Cwd (Cwd Length bytes) ...  .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .     Argument Count strings: Length (16), then the bytes       .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .   Environment Count strings "NAME=VALUE": Length, bytes       .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Timeout 0 means the server's default. Without SHELL there are 1 to
 * SK_EXEC_MAX_ARGS arguments and argv[0], the program, is not empty;
 * with SHELL there is exactly one, a non-empty command line for
 * `/bin/sh -c`. 0 to SK_EXEC_MAX_ENV pairs, each with a non-empty NAME
 * before its first '='. Cwd is empty (the server's default) or an
 * absolute path. The payload ends with the last string.
 */
struct sk_frame_exec_wire {
	uint32_t timeout_ms; /* 0: the server's default */
	uint16_t argc;       /* 1..SK_EXEC_MAX_ARGS; 1 with SHELL */
	uint16_t envc;       /* 0..SK_EXEC_MAX_ENV */
};

#define SK_FRAME_EXEC_FIXED 8

_Static_assert(sizeof(struct sk_frame_exec_wire) == SK_FRAME_EXEC_FIXED,
	       "EXEC fixed part");
_Static_assert(__builtin_offsetof(struct sk_frame_exec_wire, timeout_ms) == 0,
	       "timeout");
_Static_assert(__builtin_offsetof(struct sk_frame_exec_wire, argc) == 4,
	       "argc");
_Static_assert(__builtin_offsetof(struct sk_frame_exec_wire, envc) == 6,
	       "envc");

/* A command, decoded (views into the payload) or to encode. */
struct sk_frame_exec {
	uint32_t timeout_ms;                      /* 0: server's default */
	int shell;                                /* 1: SHELL flag set */
	size_t argc;                              /* arguments in argv */
	struct sk_frame_str argv[SK_EXEC_MAX_ARGS]; /* program, arguments */
	size_t envc;                              /* pairs in env */
	struct sk_frame_str env[SK_EXEC_MAX_ENV]; /* "NAME=VALUE" */
	struct sk_frame_str cwd;                  /* len 0: none */
};

int sk_frame_exec_encode(uint8_t *out, size_t cap, uint32_t stream,
			 const struct sk_frame_exec *e);
int sk_frame_exec_decode(const struct sk_frame *f, struct sk_frame_exec *e);

/*
 * ERROR, flags 0: a code (enum sk_frame_code, not 0) and 0 to
 * SK_FRAME_MAX_TEXT bytes of UTF-8 text without NUL, for people.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |             Code              |     Text (UTF-8) ...          .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Codes this version does not define are accepted (a receiver reads them
 * as INTERNAL), so later versions may add some.
 */
struct sk_frame_error_wire {
	uint16_t code; /* enum sk_frame_code */
};

_Static_assert(sizeof(struct sk_frame_error_wire) == 2, "ERROR fixed part");
_Static_assert(__builtin_offsetof(struct sk_frame_error_wire, code) == 0,
	       "code");

struct sk_frame_error {
	unsigned code;            /* 1..65535 */
	struct sk_frame_str text; /* UTF-8, maybe empty */
};

int sk_frame_error_encode(uint8_t *out, size_t cap, uint32_t stream,
			  unsigned code, const char *text, size_t len);
int sk_frame_error_decode(const struct sk_frame *f, struct sk_frame_error *e);

/*
 * EXIT, server, nonzero stream, flags 0: how the command ended.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |      How      |    Detail     |   Signal name (How 1) ...     .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * How 0: it exited; Detail is its status, 0-255, and nothing follows.
 * How 1: a signal killed it; Detail is 0 or SK_FRAME_EXIT_CORE, and the
 * rest of the payload is the signal's name (see sk_frame_signame_ok()).
 */
struct sk_frame_exit_wire {
	uint8_t how;    /* 0 exited, 1 killed by a signal */
	uint8_t detail; /* exit status, or SK_FRAME_EXIT_CORE or 0 */
};

#define SK_FRAME_EXIT_CORE 0x01 /* How 1: it dumped core */

_Static_assert(sizeof(struct sk_frame_exit_wire) == 2, "EXIT fixed part");
_Static_assert(__builtin_offsetof(struct sk_frame_exit_wire, how) == 0, "how");
_Static_assert(__builtin_offsetof(struct sk_frame_exit_wire, detail) == 1,
	       "detail");

struct sk_frame_exit {
	int signaled;               /* 0 exited, 1 killed by a signal */
	unsigned status;            /* exited: 0..255; else 0 */
	int core;                   /* killed: 1 if it dumped core */
	struct sk_frame_str signal; /* killed: its name, e.g. "KILL" */
};

/* The fields that do not apply to x->signaled are not looked at. */
int sk_frame_exit_encode(uint8_t *out, size_t cap, uint32_t stream,
			 const struct sk_frame_exit *x);
int sk_frame_exit_decode(const struct sk_frame *f, struct sk_frame_exit *x);

/*
 * SIGNAL, client, nonzero stream, flags 0: the whole payload is a signal
 * name, e.g. "INT" (not "SIGINT"). The server maps it to its own number.
 */
int sk_frame_signal_encode(uint8_t *out, size_t cap, uint32_t stream,
			   const char *name, size_t len);
int sk_frame_signal_decode(const struct sk_frame *f, struct sk_frame_str *name);

/*
 * WINDOW_UPDATE, either side, nonzero stream, flags 0: credit for the
 * peer's data frames on this stream, 1 to SK_EXEC_WINDOW_MAX bytes.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                       Window Increment                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
struct sk_frame_window_wire {
	uint32_t increment; /* 1..SK_EXEC_WINDOW_MAX */
};

_Static_assert(sizeof(struct sk_frame_window_wire) == 4, "WINDOW_UPDATE");
_Static_assert(__builtin_offsetof(struct sk_frame_window_wire, increment) == 0,
	       "increment");

int sk_frame_window_encode(uint8_t *out, size_t cap, uint32_t stream,
			   uint32_t increment);
int sk_frame_window_decode(const struct sk_frame *f, uint32_t *increment);

/*
 * Add a received increment to a window. Returns 0, or SK_FRAME_E_FLOW
 * (and leaves *window alone) when the sum would pass SK_EXEC_WINDOW_MAX.
 */
int sk_frame_window_add(uint32_t *window, uint32_t increment);

/*
 * RESET, client, nonzero stream, flags 0: abort the command (a code,
 * usually CANCEL; not 0). Nothing more is sent on the stream either way.
 *
 *     0                   1
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |             Code              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
struct sk_frame_reset_wire {
	uint16_t code; /* enum sk_frame_code */
};

_Static_assert(sizeof(struct sk_frame_reset_wire) == 2, "RESET");
_Static_assert(__builtin_offsetof(struct sk_frame_reset_wire, code) == 0,
	       "code");

int sk_frame_reset_encode(uint8_t *out, size_t cap, uint32_t stream,
			  unsigned code);
int sk_frame_reset_decode(const struct sk_frame *f, unsigned *code);

/* The ERROR code to send for a codec error (BAD_FRAME unless the error
 * has a code of its own: UNKNOWN_TYPE, BAD_STREAM, VERSION, FLOW). */
unsigned sk_frame_code(int err);

/* "BAD_FRAME" etc., or "INTERNAL" for a code this version lacks. */
const char *sk_frame_code_name(unsigned code);

/* The text of a negative enum sk_frame_err. */
const char *sk_frame_strerror(int err);

/*
 * Signal names on the wire: 1 to SK_FRAME_MAX_SIGNAME bytes of A-Z and
 * 0-9, without "SIG". sk_frame_signame_ok() checks the form only; the
 * table below knows the common POSIX signals (HUP INT QUIT ILL TRAP ABRT
 * BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM CHLD CONT STOP TSTP TTIN
 * TTOU URG XCPU XFSZ VTALRM PROF WINCH SYS), whose numbers differ across
 * systems: that is why the wire carries names.
 */
int sk_frame_signame_ok(const char *name, size_t len);

/* The name of signal signo (e.g. "KILL"), or NULL if not in the table. */
const char *sk_signal_name(int signo);

/* The number of the signal called name[0..len), or -1 if unknown. */
int sk_signal_number(const char *name, size_t len);

#endif
