/*
 * rmsg.h: exec over UDP, the reliable message layer, with no I/O, no
 * clock and no randomness of its own. docs/PROTOCOL.md, "exec (UDP):
 * reliable messages", is the specification; this is its codec and its
 * two state machines.
 *
 * A client sends one command as a REQUEST datagram: a 64-bit request id
 * and an exec EXEC frame (frame.h). The server runs it at most once per
 * id and session, and sends back an output stream: the exec frames the
 * TCP server would send on the command's stream (EXEC_OK, STDOUT and
 * STDERR, then EXIT or ERROR; every one on stream 1), cut into DATA
 * datagrams at arbitrary offsets. The client acknowledges packet numbers
 * with ranges, the server resends only what is lost, and the client
 * reassembles the stream in order and feeds it to the frame codec.
 *
 * Each datagram is the plaintext of one DTLS 1.2 record (the session's
 * peer is authenticated and its address proven by DTLS, which the caller
 * runs); one session of this layer lives in one DTLS session. Every
 * datagram starts with the same 8-byte header; numbers are big-endian:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |  Magic (0xA1) |     Type      |     Flags     |   Reserved    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  4 |                        Packet Number                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Magic holds the version (0xA0 | 1). Each side numbers its datagrams
 * 0, 1, 2, ... and never uses a number twice; a resent fragment gets a
 * new number, so an ACK always says which transmission arrived. A
 * datagram is at most SK_RMSG_MAX_DGRAM (1195) bytes.
 *
 * The layers: sk_rmsg_decode() checks a whole datagram, whoever sent it,
 * and returns views into it; sk_rmsg_encode() writes exactly what the
 * decoder accepts. struct sk_rmsg_srv and struct sk_rmsg_client are the
 * server's session and the client's side: the caller hands them
 * datagrams and the time, and asks them for the datagrams to send and
 * when to ask again. They own no memory but what the caller gives them.
 */
#ifndef SK_RMSG_H
#define SK_RMSG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sk_limits.h"

/* ---- the wire ------------------------------------------------------ */

/* The common header as it sits on the wire. */
struct sk_rmsg_hdr_wire {
	uint8_t magic;    /* SK_RMSG_MAGIC */
	uint8_t type;     /* enum sk_rmsg_type */
	uint8_t flags;    /* SK_RMSG_F_*, by type; undefined bits are 0 */
	uint8_t reserved; /* 0 */
	uint32_t pn;      /* the sender's packet number */
};

#define SK_RMSG_MAGIC 0xa1
#define SK_RMSG_HEADER 8

_Static_assert(sizeof(struct sk_rmsg_hdr_wire) == SK_RMSG_HEADER, "header");
_Static_assert(__builtin_offsetof(struct sk_rmsg_hdr_wire, magic) == 0,
	       "magic");
_Static_assert(__builtin_offsetof(struct sk_rmsg_hdr_wire, type) == 1, "type");
_Static_assert(__builtin_offsetof(struct sk_rmsg_hdr_wire, flags) == 2,
	       "flags");
_Static_assert(__builtin_offsetof(struct sk_rmsg_hdr_wire, reserved) == 3,
	       "reserved");
_Static_assert(__builtin_offsetof(struct sk_rmsg_hdr_wire, pn) == 4, "pn");

/* Datagram types. 0 and 7-255 are unknown. */
enum sk_rmsg_type {
	SK_RMSG_REQUEST = 0x01,     /* client: run this command, once */
	SK_RMSG_DATA = 0x02,        /* server: a fragment of the output */
	SK_RMSG_ACK = 0x03,         /* client: packet numbers received */
	SK_RMSG_IN_PROGRESS = 0x04, /* server: the request runs; wait */
	SK_RMSG_ERROR = 0x05,       /* server: the request is refused */
	SK_RMSG_CANCEL = 0x06,      /* client: kill it; forget the output */
};

/* DATA flags. */
#define SK_RMSG_F_FIN 0x01       /* the fragment ends the stream */
#define SK_RMSG_F_TRUNCATED 0x02 /* with FIN: the output was cut at the
				  * cap, and ends with ERROR TRUNCATED */

/*
 * REQUEST, client to server, flags 0:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                     Header (type 0x01)                        |
 *    +                                                               +
 *  4 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |                     Request ID (64 bits)                      |
 *    +                                                               +
 * 12 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 16 .     One exec EXEC frame on stream 1, header and payload       .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A request is one datagram: an EXEC frame over SK_RMSG_MAX_EXEC (1179)
 * bytes cannot go over UDP. The id is not 0. A repeat (the client's
 * retry, or a poll while it waits) carries the same id and command and
 * a new packet number.
 */
struct sk_rmsg_request_wire {
	struct sk_rmsg_hdr_wire h; /* type REQUEST */
	uint8_t id[8];             /* the request id */
};

#define SK_RMSG_REQUEST_FIXED 16
#define SK_RMSG_MAX_EXEC (SK_RMSG_MAX_DGRAM - SK_RMSG_REQUEST_FIXED)
/* The stream id of every frame in a request and its output. */
#define SK_RMSG_STREAM 1

_Static_assert(sizeof(struct sk_rmsg_request_wire) == SK_RMSG_REQUEST_FIXED,
	       "REQUEST fixed part");
_Static_assert(__builtin_offsetof(struct sk_rmsg_request_wire, id) == 8, "id");

/*
 * DATA, server to client, flags FIN and TRUNCATED:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                     Header (type 0x02)                        |
 *    +                                                               +
 *  4 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |                     Request ID (64 bits)                      |
 *    +                                                               +
 * 12 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 16 |                    Offset in the stream                       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 20 .          Stream bytes (1 to SK_RMSG_MAX_DATA of them)         .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The bytes are the stream's [Offset, Offset + length), where the length
 * is what is left of the datagram; the end is at most SK_RMSG_OUTPUT_MAX.
 * FIN: the stream ends with this fragment's last byte. TRUNCATED only
 * with FIN.
 */
struct sk_rmsg_data_wire {
	struct sk_rmsg_hdr_wire h; /* type DATA */
	uint8_t id[8];             /* the request whose output this is */
	uint32_t offset;           /* of the first byte in the stream */
};

#define SK_RMSG_DATA_FIXED 20
#define SK_RMSG_MAX_DATA (SK_RMSG_MAX_DGRAM - SK_RMSG_DATA_FIXED)

_Static_assert(sizeof(struct sk_rmsg_data_wire) == SK_RMSG_DATA_FIXED,
	       "DATA fixed part");
_Static_assert(__builtin_offsetof(struct sk_rmsg_data_wire, id) == 8, "id");
_Static_assert(__builtin_offsetof(struct sk_rmsg_data_wire, offset) == 16,
	       "offset");
_Static_assert(SK_RMSG_OUTPUT_MAX <= UINT32_MAX, "offset field");

/*
 * ACK, client to server, flags 0: the server's packet numbers received,
 * as ranges from the newest down (as QUIC's ACK frame, with fixed-size
 * fields):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                     Header (type 0x03)                        |
 *    +                                                               +
 *  4 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |                    Largest Acknowledged                       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 12 |        Ack Delay (us)         |          First Range          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * 16 |              Gap              |         Range Length          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .          ... up to SK_RMSG_ACK_RANGES - 1 such pairs          .
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The first range is [Largest - First Range, Largest]. Each pair then
 * gives the next range down: its top is Gap + 2 below the previous
 * range's bottom (so Gap + 1 numbers are missing between them) and it
 * holds Range Length + 1 numbers. A range that would go below 0 is
 * malformed. Ack Delay: microseconds between the arrival of Largest and
 * this ACK, at most 65535.
 */
struct sk_rmsg_ack_wire {
	struct sk_rmsg_hdr_wire h; /* type ACK */
	uint32_t largest;          /* the newest packet number received */
	uint16_t delay;            /* microseconds it waited for this ACK */
	uint16_t first;            /* numbers below largest in its range */
};

struct sk_rmsg_ack_pair_wire {
	uint16_t gap; /* numbers missing below the previous range, less 1 */
	uint16_t len; /* numbers in this range, less 1 */
};

#define SK_RMSG_ACK_FIXED 16
#define SK_RMSG_ACK_PAIR 4

_Static_assert(sizeof(struct sk_rmsg_ack_wire) == SK_RMSG_ACK_FIXED,
	       "ACK fixed part");
_Static_assert(__builtin_offsetof(struct sk_rmsg_ack_wire, largest) == 8,
	       "largest");
_Static_assert(__builtin_offsetof(struct sk_rmsg_ack_wire, delay) == 12,
	       "delay");
_Static_assert(__builtin_offsetof(struct sk_rmsg_ack_wire, first) == 14,
	       "first");
_Static_assert(sizeof(struct sk_rmsg_ack_pair_wire) == SK_RMSG_ACK_PAIR,
	       "ACK pair");
_Static_assert(SK_RMSG_ACK_FIXED + (SK_RMSG_ACK_RANGES - 1) * SK_RMSG_ACK_PAIR
		       <= SK_RMSG_MAX_DGRAM,
	       "a full ACK fits a datagram");

/*
 * IN_PROGRESS (server) and CANCEL (client), flags 0: a request id alone.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  0 |                 Header (type 0x04 or 0x06)                    |
 *    +                                                               +
 *  4 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  8 |                     Request ID (64 bits)                      |
 *    +                                                               +
 * 12 |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * ERROR, server, flags 0: the same, then a 16-bit code (enum
 * sk_rmsg_code; not 0) at offset 16, 18 bytes in all.
 */
struct sk_rmsg_id_wire {
	struct sk_rmsg_hdr_wire h; /* type IN_PROGRESS, CANCEL or ERROR */
	uint8_t id[8];             /* the request */
	uint8_t code[2];           /* ERROR only */
};

#define SK_RMSG_ID_LEN 16
#define SK_RMSG_ERROR_LEN 18

_Static_assert(__builtin_offsetof(struct sk_rmsg_id_wire, id) == 8, "id");
_Static_assert(__builtin_offsetof(struct sk_rmsg_id_wire, code) ==
		       SK_RMSG_ID_LEN,
	       "code");
_Static_assert(__builtin_offsetof(struct sk_rmsg_id_wire, code) + 2 ==
		       SK_RMSG_ERROR_LEN,
	       "ERROR");

/* ERROR codes: why a request gets no output. */
enum sk_rmsg_code {
	SK_RMSG_CODE_REPLAY = 1,   /* the id is below the replay window: it
				    * may have run; it will not run now */
	SK_RMSG_CODE_EXPIRED = 2,  /* it ran (or was refused), and its output
				    * was delivered, cancelled or expired */
	SK_RMSG_CODE_TOO_MANY = 3, /* the session runs SK_RMSG_SLOTS
				    * commands: it did not run; a new id
				    * may be tried later */
};

/* Codec errors. A datagram the decoder refuses is dropped unread. */
enum sk_rmsg_err {
	SK_RMSG_E_SHORT = -1,    /* shorter than its type's fixed part */
	SK_RMSG_E_TOOBIG = -2,   /* over SK_RMSG_MAX_DGRAM */
	SK_RMSG_E_MAGIC = -3,    /* not 0xA1: another protocol or version */
	SK_RMSG_E_TYPE = -4,     /* an unknown type, or the wrong side's */
	SK_RMSG_E_FLAGS = -5,    /* an undefined flag, or reserved not 0 */
	SK_RMSG_E_LENGTH = -6,   /* a length wrong for the type */
	SK_RMSG_E_VALUE = -7,    /* id 0, code 0, offset past the maximum */
	SK_RMSG_E_RANGE = -8,    /* ACK ranges below 0, or too many */
	SK_RMSG_E_FRAME = -9,    /* REQUEST without exactly one EXEC frame */
	SK_RMSG_E_SPACE = -10,   /* encoders: the output does not fit */
	/* The state machines' own. */
	SK_RMSG_E_NOENT = -11,   /* no such request running (cancelled,
				  * forgotten, or its stream ended) */
	SK_RMSG_E_STATE = -12,   /* a call out of order */
	SK_RMSG_E_ACK = -13,     /* an ACK of a number never sent */
	SK_RMSG_E_EXHAUSTED = -14, /* 2^32 packet numbers used: close the
				    * session */
};

/* One range of packet numbers, both ends included. */
struct sk_rmsg_range {
	uint32_t lo; /* the smallest */
	uint32_t hi; /* the largest */
};

/* A datagram, decoded (views into the caller's buffer) or to encode. */
struct sk_rmsg_dgram {
	unsigned type;          /* enum sk_rmsg_type */
	unsigned flags;         /* SK_RMSG_F_* (DATA) */
	uint32_t pn;            /* packet number */
	uint64_t id;            /* all but ACK: the request id */
	uint32_t offset;        /* DATA: of data[0] in the stream */
	const uint8_t *data;    /* DATA: stream bytes; REQUEST: the EXEC
				 * frame, header included */
	size_t len;             /* bytes at data */
	unsigned code;          /* ERROR: enum sk_rmsg_code */
	uint32_t ack_delay;     /* ACK: microseconds, at most 65535 */
	size_t nranges;         /* ACK: 1..SK_RMSG_ACK_RANGES */
	struct sk_rmsg_range ranges[SK_RMSG_ACK_RANGES]; /* ACK: newest
				 * first, disjoint, not adjacent */
};

/*
 * Check the datagram buf[0..len) and fill *d. Returns 0 or a negative
 * enum sk_rmsg_err; *d is then undefined. Everything is checked: the
 * length first, then the magic, type, flags, each field, and for a
 * REQUEST that the rest is exactly one frame that sk_frame_check()
 * accepts from a client, an EXEC on SK_RMSG_STREAM (its payload is the
 * service's to decode). Which side may send the type is the caller's
 * check (sk_rmsg_from_client()).
 */
int sk_rmsg_decode(const uint8_t *buf, size_t len, struct sk_rmsg_dgram *d);

/*
 * Write d as a datagram into out (cap bytes); returns its size or a
 * negative enum sk_rmsg_err. It refuses what the decoder would refuse,
 * with one help for ACK: ranges are given as [lo, hi] pairs, and a range
 * or gap too wide for 16 bits ends the list there (the first range is
 * then cut to 65536 numbers): acknowledging fewer is always safe.
 * Ack delays over 65535 are written as 65535.
 */
int sk_rmsg_encode(uint8_t *out, size_t cap, const struct sk_rmsg_dgram *d);

/* 1 if a client sends this type, 0 if a server does or it is unknown. */
int sk_rmsg_from_client(unsigned type);

/* The text of a negative enum sk_rmsg_err. */
const char *sk_rmsg_strerror(int err);

/* "REPLAY", "EXPIRED", "TOO_MANY", or "UNKNOWN". */
const char *sk_rmsg_code_name(unsigned code);

/* ---- timers -------------------------------------------------------- */

/*
 * Times are microseconds on any monotonic clock, passed in by the
 * caller; UINT64_MAX means never.
 *
 * The server's retransmission timer is RFC 6298's and RFC 9002's:
 * SRTT + max(4 RTTVAR, granularity) + the client's maximum ACK delay,
 * at least SK_RMSG_RTO_MIN_US, doubled each time it fires in a row and
 * at most SK_RMSG_RTO_MAX_US. Before the first sample, RTT is the
 * caller's hint or SK_RMSG_INITIAL_RTT_US.
 */
#define SK_RMSG_INITIAL_RTT_US 100000u /* 100 ms, before any sample */
#define SK_RMSG_GRANULARITY_US 1000u   /* 1 ms: a timer's resolution */
#define SK_RMSG_ACK_DELAY_US 2000u     /* the longest a client holds an ACK:
					* a 1 ms timer may fire 2 ms late */
#define SK_RMSG_RTO_MIN_US 3000u       /* 3 ms: the granularity and the
					* ACK delay */
#define SK_RMSG_RTO_MAX_US 1000000u    /* 1 s, as mosh */
/* A packet is lost once one sent this many later is acknowledged, or
 * once it has gone unacknowledged 9/8 of an RTT after a later one was
 * (RFC 9002's kPacketThreshold and kTimeThreshold). When a packet taken
 * for lost that way is acknowledged after all (the path reorders), the
 * session raises the first to the distance seen and the second by 1/8,
 * up to these (as Linux's RACK adapts its reordering window). */
#define SK_RMSG_PACKET_THRESHOLD 3
#define SK_RMSG_PACKET_THRESHOLD_MAX (SK_RMSG_WINDOW / 2)
#define SK_RMSG_TIME_THRESHOLD_MAX 16 /* eighths of an RTT: 2 RTTs */
/* Pacing: a window per RTT, sent at 5/4 of that rate, in bursts of this
 * many datagrams, or of a timer granularity's worth if that is more. */
#define SK_RMSG_PACE_BURST 10

/* The client's REQUEST timer: the first retry after this long (unless
 * the caller says otherwise; and, once a first REQUEST of the session
 * was answered, after SK_RMSG_RTT_MULT times the quickest such answer,
 * at least SK_RMSG_RTO_MIN_US and at most that), doubled at each retry
 * up to the maximum;
 * once the server has answered, a repeat (a poll) goes out only after
 * SK_RMSG_POLL_US of silence, doubled the same way. */
#define SK_RMSG_RETRY_US 250000u       /* 250 ms */
#define SK_RMSG_RETRY_MAX_US 4000000u  /* 4 s */
#define SK_RMSG_POLL_US 1000000u       /* 1 s */
#define SK_RMSG_RTT_MULT 3u

/* The largest final frame of a stream (an ERROR with the longest text):
 * the output may fill the cap only up to this much less, so that the
 * final frame always fits. */
#define SK_RMSG_TAIL_MAX (SK_FRAME_HEADER + 2 + SK_FRAME_MAX_TEXT)

/* ---- the server's session ------------------------------------------ */

/*
 * Memory for cached output, from the caller (who can hold it to a
 * budget shared by all sessions): like realloc(), with size 0 freeing p
 * and returning NULL. NULL from a growth means no memory: that request's
 * output is cut there as at the cap.
 */
struct sk_rmsg_mem {
	void *(*realloc)(void *ctx, void *p, size_t size); /* the allocator */
	void *ctx;                                         /* its argument */
};

/* Settings of a session. A 0 takes the default. */
struct sk_rmsg_srv_cfg {
	size_t output_cap;       /* stream bytes per request, from
				  * SK_RMSG_OUTPUT_MIN to SK_RMSG_OUTPUT_MAX;
				  * 0: SK_RMSG_OUTPUT_DEFAULT */
	uint64_t ttl_us;         /* 0: SK_RMSG_CACHE_TTL_US */
	uint64_t initial_rtt_us; /* 0: SK_RMSG_INITIAL_RTT_US; the DTLS
				  * handshake's round trip is a good hint */
	struct sk_rmsg_mem mem;  /* for cached output */
};

/* Where a request is in the table. */
enum sk_rmsg_slot_state {
	SK_RMSG_FREE = 0,    /* the slot holds nothing */
	SK_RMSG_RUNNING = 1, /* given to the service; its stream is open */
	SK_RMSG_DONE = 2,    /* its stream ended; being delivered, cached */
};

/* One request the session remembers. */
struct sk_rmsg_slot {
	uint64_t id;        /* the request id; 0 when free */
	uint8_t state;      /* enum sk_rmsg_slot_state */
	uint8_t started;    /* EXEC_OK is in the stream */
	uint8_t truncated;  /* the output was cut: FIN carries TRUNCATED */
	uint8_t last_type;  /* the type of the frame at `last` */
	uint8_t *buf;       /* the stream but its final frame (mem) */
	size_t len;         /* bytes in buf */
	size_t alloc;       /* buf's size */
	size_t last;        /* where in buf the last output frame starts,
			     * or SIZE_MAX: output may join it while no
			     * byte of its header has been sent */
	uint8_t tail[SK_RMSG_TAIL_MAX]; /* the final frame, EXIT or ERROR */
	size_t tail_len;    /* its size; 0 while the stream is open */
	uint32_t sent;      /* stream bytes [0, sent) went out once */
	unsigned recs;      /* its datagrams in flight or lost */
	uint64_t touched;   /* its end, or later the client's last
			     * REQUEST or ACK about it: the TTL's start */
};

/* A datagram of output sent and not yet acknowledged. */
struct sk_rmsg_sent {
	uint8_t state;      /* 0 free, 1 in flight, 2 lost: to resend */
	uint8_t fin;        /* it carried FIN */
	uint8_t has_prev;   /* prev_pn is set */
	uint8_t slot;       /* the request, an index into slot[] */
	uint8_t how;        /* why it was last taken for lost: 0 never, 1
			     * by count, 2 by time, 3 by the timer */
	uint32_t pn;        /* the packet number it went out with last */
	uint32_t prev_pn;   /* the one before: an ACK of it counts too */
	uint32_t off;       /* its bytes in the stream */
	uint32_t len;       /* their number, 1..SK_RMSG_MAX_DATA */
	uint64_t sent_at;   /* when it went out last */
};

/* A reply waiting to be sent. */
struct sk_rmsg_ctl {
	uint8_t type;  /* IN_PROGRESS or ERROR */
	uint16_t code; /* ERROR's code */
	uint64_t id;   /* the request */
};

/* What a session did, for logs and tests. */
struct sk_rmsg_srv_stats {
	uint64_t data;        /* DATA datagrams sent */
	uint64_t resent;      /* of which resends of lost ones */
	uint64_t lost_pkt;    /* declared lost by the packet threshold */
	uint64_t lost_time;   /* declared lost by the time threshold */
	uint64_t rtos;        /* retransmission timer expiries */
	uint64_t spurious;    /* lost ones acknowledged after all (or
			       * their first transmission was) */
	uint64_t acks;        /* ACKs taken */
	uint64_t repeats;     /* repeated REQUESTs */
	uint64_t dropped;     /* datagrams refused (malformed, wrong side,
			       * an ACK of numbers never sent) */
};

/* One session, from the server's side. About 8 KiB; no pointer into it
 * is kept, so it may live anywhere. */
struct sk_rmsg_srv {
	struct sk_rmsg_mem mem;    /* the caller's allocator */
	size_t cap;                /* the output cap per request */
	uint64_t ttl;              /* the cache's time to live */
	struct sk_rmsg_slot slot[SK_RMSG_SLOTS]; /* the request table */
	uint64_t max_id;           /* the highest request id seen */
	uint64_t seen;             /* bit i: id max_id - i was seen */
	struct sk_rmsg_sent rec[SK_RMSG_WINDOW]; /* output unacknowledged */
	unsigned inflight;         /* records in flight */
	unsigned lost;             /* records lost, waiting to go again */
	uint32_t next_pn;          /* our next packet number */
	uint32_t largest_acked;    /* the largest the client acknowledged */
	int acked_any;             /* largest_acked is set */
	uint64_t srtt;             /* smoothed RTT */
	uint64_t rttvar;           /* its variation */
	uint64_t min_rtt;          /* the smallest sample */
	uint64_t latest_rtt;       /* the last sample */
	int sampled;               /* an RTT sample was taken */
	unsigned rto_count;        /* timer expiries in a row */
	int stalled;               /* SK_RMSG_MAX_RTOS expired: nothing goes
				    * until the client is heard */
	unsigned pkt_thresh;       /* the packet threshold now */
	unsigned time_thresh;      /* the time threshold, in eighths */
	uint64_t last_sent;        /* when the last DATA went out */
	uint64_t pace_tat;         /* the pacer's theoretical arrival time */
	unsigned rr;               /* the next slot to send for */
	struct sk_rmsg_ctl ctl[SK_RMSG_CTL_QUEUE]; /* replies to send */
	unsigned nctl;             /* their number */
	struct sk_rmsg_srv_stats stats; /* counters */
};

/* What a datagram from the client means for the service. */
enum sk_rmsg_srv_ev {
	SK_RMSG_SRV_NONE = 0, /* nothing: the session handled it */
	SK_RMSG_SRV_EXEC,     /* id, frame: run this command, which is new */
	SK_RMSG_SRV_CANCEL,   /* id: kill it; its output is dropped */
};

struct sk_rmsg_srv_event {
	enum sk_rmsg_srv_ev kind; /* what to do */
	uint64_t id;              /* the request */
	struct sk_frame frame;    /* EXEC: the EXEC frame, parsed; its
				   * payload points into the datagram */
};

/* Start a session (at time now) with cfg (NULL: all defaults). */
void sk_rmsg_srv_init(struct sk_rmsg_srv *s, const struct sk_rmsg_srv_cfg *cfg,
		      uint64_t now);

/* End it: every cached output is freed. The service kills the commands
 * it still runs for the session; their ids are its own to remember. */
void sk_rmsg_srv_fini(struct sk_rmsg_srv *s);

/*
 * Take one datagram from the client, buf[0..len), at time now. Returns
 * 0 with *ev filled, or a negative enum sk_rmsg_err: the datagram was
 * dropped and nothing changed (but stats.dropped). Nothing is logged:
 * that is the caller's, in summaries. A new request is SK_RMSG_SRV_EXEC
 * exactly once per id: its repeats get IN_PROGRESS, or the output
 * again, or an ERROR (queued for sk_rmsg_srv_poll()); they never run it
 * again.
 */
int sk_rmsg_srv_input(struct sk_rmsg_srv *s, uint64_t now, const uint8_t *buf,
		      size_t len, struct sk_rmsg_srv_event *ev);

/*
 * The service's side of a running request id. They return 0 or a
 * negative enum sk_rmsg_err: SK_RMSG_E_NOENT when the id is not running
 * (never given, cancelled, forgotten, or its stream already ended; the
 * service just carries on killing or reaping), SK_RMSG_E_STATE out of
 * order, SK_RMSG_E_VALUE for arguments the frame codec refuses.
 *
 * started(): the command runs; EXEC_OK goes into the stream. Before
 * output() and exit(). SK_RMSG_CUT (as below) if no memory is to be
 * had even for that.
 * output(): n bytes (n > 0) of STDOUT or STDERR (the frame type). Returns
 * 0 when all were taken, or SK_RMSG_CUT when the cap (or memory) was
 * reached: the bytes that fit were taken, the stream now ends with ERROR
 * TRUNCATED and FIN with TRUNCATED, and the service must kill the
 * command; its exit() is then SK_RMSG_E_NOENT.
 * exit(): how the command ended; the stream ends with EXIT.
 * error(): the stream ends with ERROR code (enum sk_frame_code) and text,
 * before started() (refused: NOT_FOUND, POLICY, BAD_FRAME for an EXEC
 * the service cannot decode...) or after it (TIMEOUT...).
 */
#define SK_RMSG_CUT 1
int sk_rmsg_srv_started(struct sk_rmsg_srv *s, uint64_t now, uint64_t id);
int sk_rmsg_srv_output(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		       unsigned type, const void *p, size_t n);
int sk_rmsg_srv_exit(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		     const struct sk_frame_exit *x);
int sk_rmsg_srv_error(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		      unsigned code, const char *text, size_t len);

/*
 * The next datagram to send at time now, written into out (cap at least
 * SK_RMSG_MAX_DGRAM): returns its size, 0 when nothing is to be sent
 * now, or SK_RMSG_E_EXHAUSTED (close the session). Timers that are due
 * run first (loss detection, retransmission, the cache's TTL). Replies
 * come before output, resends before new output; output goes within the
 * window, the pacer and the client's receive window. Call it until it
 * returns 0 after each input, each call of the service's side, and
 * when the time from sk_rmsg_srv_next_timeout() has come.
 */
int sk_rmsg_srv_poll(struct sk_rmsg_srv *s, uint64_t now, uint8_t *out,
		     size_t cap);

/* When to call sk_rmsg_srv_poll() again: a time (if it is not after
 * now, call it at once), or UINT64_MAX when only a datagram or the
 * service can give it work. Meaningful after poll() returned 0. */
uint64_t sk_rmsg_srv_next_timeout(const struct sk_rmsg_srv *s, uint64_t now);

/* Requests the session holds (running or cached). A session holding
 * none, and idle, may be closed. */
unsigned sk_rmsg_srv_active(const struct sk_rmsg_srv *s);

/* The current retransmission timeout, backoff included (for tests and
 * logs). */
uint64_t sk_rmsg_srv_rto(const struct sk_rmsg_srv *s);

/* ---- the client ---------------------------------------------------- */

/* Settings of the client. A 0 takes the default. */
struct sk_rmsg_client_cfg {
	unsigned attempts; /* REQUEST transmissions without an answer before
			    * "no reply", 1..SK_RMSG_ATTEMPTS_MAX; 0:
			    * SK_RMSG_ATTEMPTS */
	uint64_t retry_us; /* the first wait for an answer; 0:
			    * SK_RMSG_RETRY_US (a few handshake RTTs is
			    * better when known) */
};

/* Where the client's request is. */
enum sk_rmsg_status {
	SK_RMSG_IDLE = 0,      /* no request yet */
	SK_RMSG_WAITING = 1,   /* sent; the server has not answered */
	SK_RMSG_RECEIVING = 2, /* the server answered; the stream comes */
	SK_RMSG_COMPLETE = 3,  /* the whole stream arrived (maybe not yet
				* all read) */
	SK_RMSG_NO_REPLY = 4,  /* attempts ran out without an answer */
	SK_RMSG_REFUSED = 5,   /* ERROR: code says why */
	SK_RMSG_CANCELLED = 6, /* the caller gave up */
};

/* What one datagram from the server means for the caller. */
enum sk_rmsg_client_ev {
	SK_RMSG_CLI_NONE = 0,    /* nothing new (a repeat, another request,
				  * a packet acknowledged only) */
	SK_RMSG_CLI_PROGRESS,    /* IN_PROGRESS: the command runs */
	SK_RMSG_CLI_DATA,        /* new bytes to read */
	SK_RMSG_CLI_COMPLETE,    /* the stream is whole: read the rest */
	SK_RMSG_CLI_REFUSED,     /* ERROR, the code in sk_rmsg_client.code */
};

/* The client's side of a session: one request at a time, then the next
 * on the same session. About 290 KiB (the receive window): allocate it,
 * do not put it on the stack. */
struct sk_rmsg_client {
	unsigned attempts;     /* the setting */
	uint64_t retry_us;     /* the setting */
	uint32_t next_pn;      /* our next packet number */
	/* The server's packet numbers received, newest first. */
	struct sk_rmsg_range recv[SK_RMSG_ACK_RANGES];
	size_t nrecv;          /* ranges in recv */
	uint64_t largest_at;   /* when recv[0].hi arrived */
	unsigned unacked;      /* DATA received since our last ACK */
	int ack_now;           /* an ACK is due at once */
	uint64_t ack_at;       /* else at this time; UINT64_MAX: none due */
	/* The request. */
	enum sk_rmsg_status status; /* where it is */
	uint64_t id;           /* its id; 0 before the first */
	uint8_t exec[SK_RMSG_MAX_EXEC]; /* its EXEC frame */
	size_t exec_len;       /* the frame's size */
	unsigned tries;        /* REQUESTs since the server was last heard */
	uint64_t sent_at;      /* when its first REQUEST went out */
	uint64_t rtt;          /* the quickest answer to a first REQUEST on
				* this session (a round trip and the
				* server's start), or 0 before one */
	uint64_t retry_at;     /* the next REQUEST goes out then */
	uint64_t wait;         /* the wait after the last one */
	int cancel;            /* a CANCEL is to be sent */
	unsigned code;         /* REFUSED: ERROR's code */
	int truncated;         /* COMPLETE: FIN carried TRUNCATED */
	/* The stream. */
	uint32_t read;         /* bytes the caller has read */
	uint32_t have;         /* bytes received in order (read <= have) */
	uint32_t final;        /* its size once FIN came; else UINT32_MAX */
	uint32_t top;          /* the end of the furthest byte received */
	uint8_t ring[SK_RMSG_RECV_WINDOW]; /* bytes [read, read + window) */
	uint8_t got[SK_RMSG_RECV_WINDOW / 8]; /* which of them arrived */
};

/* Set the client up (cfg NULL: the defaults). No request is sent yet. */
void sk_rmsg_client_init(struct sk_rmsg_client *c,
			 const struct sk_rmsg_client_cfg *cfg);

/*
 * Send a request: id (not 0, and greater than the session's previous
 * ones; a random start then +1 is the integrator's rule), and exec, one
 * whole EXEC frame on SK_RMSG_STREAM of at most SK_RMSG_MAX_EXEC bytes
 * (copied). The previous request must have ended (COMPLETE, NO_REPLY,
 * REFUSED, CANCELLED) or there must be none. The REQUEST goes out at the
 * next sk_rmsg_client_poll(); every retry carries the same id. Returns 0
 * or a negative enum sk_rmsg_err.
 */
int sk_rmsg_client_start(struct sk_rmsg_client *c, uint64_t now, uint64_t id,
			 const uint8_t *exec, size_t len);

/*
 * Take one datagram from the server, buf[0..len), at time now. Returns 0
 * with *ev set, or a negative enum sk_rmsg_err: the datagram was dropped
 * and nothing changed. DATA of any request is acknowledged (so a server
 * stops resending what a finished request no longer needs); only the
 * current one's is kept.
 */
int sk_rmsg_client_input(struct sk_rmsg_client *c, uint64_t now,
			 const uint8_t *buf, size_t len,
			 enum sk_rmsg_client_ev *ev);

/*
 * Copy up to cap bytes of the stream, in order, that arrived and were
 * not yet read, into out; returns how many. Read everything after each
 * input: bytes left unread keep the receive window from moving, and
 * what the server sends past it is dropped (and sent again later).
 */
size_t sk_rmsg_client_read(struct sk_rmsg_client *c, uint8_t *out, size_t cap);

/*
 * The next datagram to send at time now (REQUEST, ACK or CANCEL) into
 * out (cap at least SK_RMSG_MAX_DGRAM): returns its size, 0 for none, or
 * SK_RMSG_E_EXHAUSTED. When the last attempt's wait has passed without
 * an answer, the status becomes SK_RMSG_NO_REPLY (and poll returns 0).
 */
int sk_rmsg_client_poll(struct sk_rmsg_client *c, uint64_t now, uint8_t *out,
			size_t cap);

/* When to call sk_rmsg_client_poll() again: a time (if it is not after
 * now, call it at once), or UINT64_MAX. Meaningful after poll() returned
 * 0. */
uint64_t sk_rmsg_client_next_timeout(const struct sk_rmsg_client *c,
				     uint64_t now);

/* Give the request up: one CANCEL goes out at the next poll (the server
 * kills the command if the CANCEL arrives), and its stream is dropped.
 * Nothing happens if it has already ended. */
void sk_rmsg_client_cancel(struct sk_rmsg_client *c);

#endif
