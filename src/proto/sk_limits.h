/*
 * sk_limits.h: every maximum sockit enforces, in one place.
 *
 * Each limit names the attack or failure it stops. Going over one is a
 * clear error or a logged disconnect, never unbounded growth.
 */
#ifndef SK_LIMITS_H
#define SK_LIMITS_H

/* A timefmt format; stops a peer from making strftime() walk megabytes. */
#define SK_TIMEFMT_MAX_IN 256
/* A timefmt reply; bounds the bytes one request can make us send. */
#define SK_TIMEFMT_MAX_OUT 512
/* Field width inside a conversion such as %10Y; stops padding bombs. */
#define SK_TIMEFMT_MAX_WIDTH 99

/* A welcome banner after field expansion; the tutorial client reads 1024. */
#define SK_BANNER_MAX 1024

/* A host name or address literal in HOST:PORT, including the NUL. */
#define SK_HOST_MAX 256

/* One TCP line (timefmt), its CR and LF not counted. Longer lines are
 * answered with an error and skipped without being buffered. */
#define SK_LINE_MAX SK_TIMEFMT_MAX_IN

/* Input buffered per TCP connection; libuv reads no more than this, so a
 * peer that pipelines faster than it is served waits in the kernel. */
#define SK_CONN_INBUF 4096

/* Requests one TCP connection may have handled per loop turn; the rest
 * wait for the next turn, so one busy pipelining peer cannot stall the
 * loop for everyone else. */
#define SK_CONN_LINES_PER_TURN 32

/* Bytes queued for one TCP peer before we stop reading from it; stops a
 * peer that pipelines requests but never reads the replies. */
#define SK_CONN_MAX_WQUEUE (64 * 1024)

/* Closed TCP connections kept for reuse (about 4.5 KiB each). */
#define SK_CONN_CACHE 256

/* Concurrent TCP connections per daemon; beyond it, new ones are closed. */
#define SK_CONN_MAX_DEFAULT 4096

/* Seconds a TCP connection may stay idle; stops slowloris peers. */
#define SK_CONN_IDLE_DEFAULT 300


/* Receive buffer for one datagram: the largest UDP payload, so nothing is
 * silently truncated. */
#define SK_UDP_BUF (64 * 1024)

/* Kernel receive buffer asked for each UDP socket, so that a burst from
 * one flooding source is less likely to crowd others out before the rate
 * limiter sees them (the kernel may grant less). */
#define SK_UDP_RCVBUF (4 * 1024 * 1024)

/* Replies waiting in the kernel-full fallback queue per UDP socket. */
#define SK_UDP_MAX_PENDING 256

/* Per-source rate limiter slots (two-way hashed); sized so that the table
 * stays small while spoofed sources cannot grow it. */
#define SK_RL_SLOTS 4096

/* Milliseconds granted to in-flight replies after SIGTERM. */
#define SK_SHUTDOWN_GRACE_MS 5000

/* Bytes a client reads from a TCP service that sends and closes. */
#define SK_CLIENT_MAX_READ (64 * 1024)

/* Services that one `sockit serve` may listen on at once. */
#define SK_MAX_LISTENERS 64

#endif
