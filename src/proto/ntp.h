/*
 * ntp.h: the NTPv4 packet (RFC 5905 section 7.3) and a server's answer to
 * it, with no I/O. Time is passed in.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  4 |                         Root Delay                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |                       Root Dispersion                         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 12 |                        Reference ID                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 16 |                   Reference Timestamp (64)                    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 24 |                     Origin Timestamp (64)                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 32 |                    Receive Timestamp (64)                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 40 |                    Transmit Timestamp (64)                    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 48 .            Extension fields (RFC 7822), optional              .
 *    .                  Key ID and MAC, optional                     .
 *
 * Timestamps are 32 bits of seconds since 1900 (mod 2^32, so era 1 starts
 * on 2036-02-07) and 32 bits of fraction. Root delay and dispersion are
 * 16.16 fixed-point seconds. Extension fields and MACs are walked only to
 * check that they are well formed; their contents are never trusted, and
 * a reply never carries them, so a reply is never longer than its request.
 */
#ifndef SK_NTP_H
#define SK_NTP_H

#include <stddef.h>
#include <stdint.h>

/* The header as it sits on the wire; every field is big-endian. */
struct sk_ntp_wire {
	uint8_t lvm;         /* leap (2 bits), version (3), mode (3) */
	uint8_t stratum;     /* 0 unspecified or KoD, 1 primary, 2-15, 16 */
	int8_t poll;         /* log2 seconds */
	int8_t precision;    /* log2 seconds */
	uint32_t root_delay; /* 16.16 seconds */
	uint32_t root_disp;  /* 16.16 seconds */
	uint32_t refid;      /* reference ID or kiss code */
	uint32_t ref[2];     /* reference timestamp */
	uint32_t org[2];     /* origin timestamp */
	uint32_t rx[2];      /* receive timestamp */
	uint32_t tx[2];      /* transmit timestamp */
};

#define SK_NTP_LEN 48

_Static_assert(sizeof(struct sk_ntp_wire) == SK_NTP_LEN, "NTP header size");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, lvm) == 0, "lvm");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, stratum) == 1, "stratum");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, poll) == 2, "poll");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, precision) == 3, "prec");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, root_delay) == 4, "delay");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, root_disp) == 8, "disp");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, refid) == 12, "refid");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, ref) == 16, "ref");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, org) == 24, "org");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, rx) == 32, "rx");
_Static_assert(__builtin_offsetof(struct sk_ntp_wire, tx) == 40, "tx");

/* Modes. */
#define SK_NTP_MODE_RESERVED 0
#define SK_NTP_MODE_ACTIVE 1
#define SK_NTP_MODE_PASSIVE 2
#define SK_NTP_MODE_CLIENT 3
#define SK_NTP_MODE_SERVER 4
#define SK_NTP_MODE_BROADCAST 5
#define SK_NTP_MODE_CONTROL 6
#define SK_NTP_MODE_PRIVATE 7

/* Leap indicator values. */
#define SK_NTP_LEAP_NONE 0
#define SK_NTP_LEAP_INSERT 1
#define SK_NTP_LEAP_DELETE 2
#define SK_NTP_LEAP_UNSYNC 3

/* A 64-bit NTP timestamp, in host order. */
struct sk_ntp_ts {
	uint32_t sec;  /* seconds since 1900, mod 2^32 */
	uint32_t frac; /* 2^-32 seconds */
};

/* A decoded header, in host order. */
struct sk_ntp_pkt {
	unsigned leap;            /* SK_NTP_LEAP_* */
	unsigned version;         /* 0..7 */
	unsigned mode;            /* SK_NTP_MODE_* */
	unsigned stratum;         /* 0..255 */
	int poll;                 /* log2 s */
	int precision;            /* log2 s */
	uint32_t root_delay;      /* 16.16 s */
	uint32_t root_disp;       /* 16.16 s */
	uint32_t refid;           /* as on the wire, read big-endian */
	struct sk_ntp_ts ref;     /* reference timestamp */
	struct sk_ntp_ts org;     /* origin timestamp */
	struct sk_ntp_ts rx;      /* receive timestamp */
	struct sk_ntp_ts tx;      /* transmit timestamp */
	unsigned n_ext;           /* extension fields seen (not trusted) */
	unsigned mac_len;         /* bytes of key ID + MAC seen, 0 if none */
};

enum sk_ntp_err {
	SK_NTP_E_SHORT = -1,   /* under 48 bytes */
	SK_NTP_E_ALIGN = -2,   /* not a multiple of 4 bytes */
	SK_NTP_E_EXT = -3,     /* malformed extension field or MAC trailer */
	SK_NTP_E_VERSION = -4, /* version outside 1..4 */
	SK_NTP_E_MODE = -5,    /* not a client request */
	SK_NTP_E_LONG = -6,    /* over SK_NTP_MAX_LEN bytes */
};

/* A request longer than this is not an NTP packet we answer. */
#define SK_NTP_MAX_LEN 1024

/*
 * Decode buf[0..len). Checks the length (at least 48 bytes, a multiple of
 * 4, at most SK_NTP_MAX_LEN) and walks any extension fields and MAC
 * without trusting them. Returns 0 or a negative enum sk_ntp_err.
 */
int sk_ntp_decode(const uint8_t *buf, size_t len, struct sk_ntp_pkt *p);

/* Encode the 48-byte header of p into out. */
void sk_ntp_encode(const struct sk_ntp_pkt *p, uint8_t out[SK_NTP_LEN]);

/*
 * A server's filter, in chrony's order after the length: the version must
 * be 1 to 4, and the mode a client request (3), or 0 in version 1, which
 * RFC 1059 left reserved. Returns the mode to answer with (always 4: a
 * reply must never be something this filter accepts), or a negative enum
 * sk_ntp_err. Modes 6 and 7 (control, monlist) are never answered.
 */
int sk_ntp_check_request(const struct sk_ntp_pkt *req);

/* What the server says about its clock. */
struct sk_ntp_clock {
	unsigned leap;        /* SK_NTP_LEAP_* */
	unsigned stratum;     /* 0 when unsynchronised */
	int precision;        /* log2 s */
	uint32_t refid;       /* reference ID */
	uint32_t root_delay;  /* 16.16 s */
	uint32_t root_disp;   /* 16.16 s */
	struct sk_ntp_ts ref; /* when the clock was last set */
};

/*
 * Build the reply to a checked request into out (48 bytes). rx is when the
 * request arrived. The transmit timestamp is left zero: stamp it with
 * sk_ntp_stamp_tx() as late as possible. Returns SK_NTP_LEN.
 */
size_t sk_ntp_reply(const struct sk_ntp_pkt *req, int reply_mode,
		    const struct sk_ntp_clock *clk, struct sk_ntp_ts rx,
		    uint8_t out[SK_NTP_LEN]);

/* Build a Kiss-o'-Death reply with a 4-letter code (e.g. "RATE"). */
size_t sk_ntp_kod(const struct sk_ntp_pkt *req, int reply_mode,
		  const char code[4], uint8_t out[SK_NTP_LEN]);

/* Write the transmit timestamp into an encoded packet. */
void sk_ntp_stamp_tx(uint8_t pkt[SK_NTP_LEN], struct sk_ntp_ts tx);

/* Unix time in ns to an NTP timestamp (any era). */
struct sk_ntp_ts sk_ntp_ts_from_ns(int64_t unix_ns);

/* An NTP timestamp to Unix ns, in the era closest to ref_ns. */
int64_t sk_ntp_ts_to_ns(struct sk_ntp_ts ts, int64_t ref_ns);

/* Seconds (as ns, >= 0) to 16.16 short format, saturating. */
uint32_t sk_ntp_short_from_ns(uint64_t ns);

/* 16.16 short format to ns. */
uint64_t sk_ntp_short_to_ns(uint32_t s);

/* Pack four ASCII bytes as a reference ID. */
uint32_t sk_ntp_refid_ascii(const char code[4]);

/*
 * Offset and delay of one exchange (RFC 5905 section 8), in ns: t1 client
 * send, t2 server receive, t3 server send, t4 client receive.
 */
void sk_ntp_offset_delay(int64_t t1, int64_t t2, int64_t t3, int64_t t4,
			 int64_t *offset, int64_t *delay);

#endif
