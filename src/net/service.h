/*
 * service.h: the contract between the platform (src/net) and a service
 * (src/svc).
 *
 * A service is one file in src/svc that exports one const struct
 * sk_service. The platform owns sockets, connections, timers, limits and
 * settings; it calls a service only through its table, and knows no
 * service by name. Services call back through the sk_conn_*, sk_udp_* and
 * sk_svc_* functions below.
 *
 * Lifecycle of one service in one server:
 *   settings parsed (opts) -> init -> listeners bound -> connections and
 *   datagrams, with any number of reloads (reload, then reloaded) ->
 *   stop (at shutdown: close own handles) -> connections drain -> loop
 *   ends -> fini (free).
 *
 * New settings apply to what starts after a reload: a connection or a
 * command already running reads the settings in force when it looks.
 *
 * Lifecycle of one connection:
 *   tcp_accept -> tcp_read ... -> tcp_close(reason), exactly once, when
 *   the connection starts to close for any reason; its service state
 *   (conn_size bytes, zeroed at accept) is freed by the platform later.
 */
#ifndef SK_NET_SERVICE_H
#define SK_NET_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../proto/addr.h"
#include "../proto/ratelimit.h"
#include "buf.h"

struct sk_conn;
struct sk_svc;
struct sk_udp;
struct sk_batch_ops;
struct uv_loop_s;

/* ---- settings ---- */

enum sk_opt_type {
	SK_OPT_UINT, /* unsigned, within [min, max] */
	SK_OPT_INT,  /* int, within [min, max] */
	SK_OPT_STR,  /* char[size], NUL-terminated, not empty */
	SK_OPT_FUNC, /* parsed by parse() */
};

#define SK_OPT_REPEAT 1u /* may be given more than once (parse appends) */
#define SK_OPT_BARE   2u /* also accepted without the service's prefix,
			  * in [serve] and on the command line (kept for
			  * names that predate per-service sections) */
#define SK_OPT_FILEONLY 4u /* config file only: the command line has a
			    * form of its own (a flag) */

/*
 * One setting of a service, declared in the service's own file. The
 * command line (--SERVICE-NAME), the config file ([SERVICE] NAME = ...)
 * and `sockit help serve` all come from these declarations.
 */
struct sk_opt {
	const char *name;      /* key, without the service prefix */
	enum sk_opt_type type; /* how the value is parsed */
	size_t off;            /* offset of the field in the settings struct */
	size_t size;           /* SK_OPT_STR: size of the field */
	long min, max;         /* numbers: inclusive bounds */
	const char *def;       /* default, as it would be written; NULL: 0 */
	const char *arg;       /* placeholder in the help: "N", "CIDR" */
	const char *help;      /* what it does; may hold '\n' for more lines */
	/* SK_OPT_FUNC: parse val into the settings; 0, or -1 with a message
	 * in err (without the key). */
	int (*parse)(void *settings, const char *val, char *err, size_t cap);
	unsigned flags;        /* SK_OPT_* */
	char short_opt;        /* a one-letter command-line form, or 0 */
};

/* A number setting of field f (an offset) in [lo, hi]. */
#define SK_OPT_NUM(t, nm, f, lo, hi, d, a, h)                              \
	{ .name = (nm), .type = (t), .off = (f), .min = (lo), .max = (hi),  \
	  .def = (d), .arg = (a), .help = (h) }
/* The end of a table. */
#define SK_OPT_END { .name = NULL }

/*
 * Limits the platform enforces for every service. Each service has its
 * own copy: the platform's defaults, then the service's own (limits
 * below), then [serve] keys (for every service), then [SERVICE] keys.
 */
struct sk_svc_limits {
	unsigned max_conn;        /* concurrent TCP connections */
	unsigned max_conn_source; /* of them, from one IPv4 address or IPv6
				   * /64: one client cannot fill the rest */
	unsigned idle_timeout;    /* s with no traffic at all; 0: never */
	unsigned request_timeout; /* s a request may take to arrive once it
				   * has begun; bytes trickled in do not
				   * extend it (slowloris); 0: never */
	unsigned max_output;      /* bytes queued for one peer before the
				   * connection is closed (hard cap) */
	unsigned pause_output;    /* bytes queued for one peer before we
				   * stop reading its requests (soft cap) */
	unsigned sndbuf;          /* the kernel's send buffer for each TCP
				   * peer, in bytes (SO_SNDBUF); 0: the
				   * kernel's own, which grows to tcp_wmem's
				   * maximum for a peer that reads slowly */
	struct sk_rate rate;      /* UDP datagrams in, per source */
	struct sk_rate global;    /* UDP datagrams in, all sources */
	struct sk_rate out;       /* UDP datagrams out, all peers: a relay
				   * cannot turn input into a flood */
};

/* ---- connections ---- */

enum sk_close_reason {
	SK_CLOSE_DONE,     /* the service ended it (sk_conn_end) */
	SK_CLOSE_PEER,     /* the peer closed its side and all was served */
	SK_CLOSE_RESET,    /* the peer reset, or a read or write failed */
	SK_CLOSE_IDLE,     /* no traffic for idle_timeout */
	SK_CLOSE_DEADLINE, /* a request took over request_timeout */
	SK_CLOSE_OVERFLOW, /* output over max_output, or over the daemon's
			    * total */
	SK_CLOSE_NOMEM,    /* out of memory */
	SK_CLOSE_SHUTDOWN, /* the daemon is stopping */
};

/* A name for a close reason, for logs. */
const char *sk_close_reason_str(enum sk_close_reason r);

/*
 * A weak reference to a connection: it never outlives the connection it
 * named. sk_conn_get() returns NULL once that connection has started to
 * close, even if its memory now serves another peer.
 */
typedef uint64_t sk_conn_id;

/*
 * A filter sits between a connection's socket and its service: it turns
 * the bytes that arrive into what the service reads, and what the service
 * writes into the bytes that leave (exec's TLS, through OpenSSL memory
 * BIOs, is the one planned). A service installs one in tcp_accept with
 * sk_conn_filter(); the platform frees its state with the connection.
 */
struct sk_filter {
	/* len bytes arrived (at most SK_CONN_INBUF per call), or buf is NULL
	 * because the service has made room: decode, and hand what the
	 * service should read to sk_conn_feed() while it takes it; keep the
	 * rest for the next call. Return 0; 1 when the peer ended its
	 * stream cleanly (as EOF); or a negative errno to close the
	 * connection. */
	int (*input)(struct sk_conn *c, void *state, const char *buf,
		     size_t len);
	/* The service wrote len bytes: encode them and queue the result
	 * with sk_conn_write_raw(). Return 0 or a negative errno. */
	int (*output)(struct sk_conn *c, void *state, const void *buf,
		      size_t len);
	/* The service is done: queue any goodbye (a TLS close_notify).
	 * May be NULL. */
	void (*end)(struct sk_conn *c, void *state);
	/* Free the state. May be NULL. */
	void (*free)(void *state);
};

/* ---- the service table ---- */

struct sk_service {
	const char *name;     /* as in /etc/services where one exists */
	unsigned transports;  /* SK_TCP, SK_UDP or both */
	uint16_t port;        /* default port */
	const char *summary;  /* one line for `sockit help serve` */

	/* Settings: a struct of settings_size bytes, described by opts
	 * (terminated by an entry with a NULL name). May be NULL/0. */
	const struct sk_opt *opts;
	size_t settings_size;
	/* Check the settings as a whole after they are all set; 0, or -1
	 * with a message in err. May be NULL. */
	int (*check)(void *settings, char *err, size_t cap);
	/* This service's limits, where they differ from the platform's;
	 * NULL: the platform's. */
	const struct sk_svc_limits *limits;

	/* Start: settings are final, the loop exists, nothing is bound.
	 * Return 0, or a negative errno to refuse to start. May be NULL. */
	int (*init)(struct sk_svc *s);
	/* Shutdown began: close the handles the service opened (timers,
	 * processes) so that the loop can end. Connections are ended by the
	 * platform afterwards. May be NULL. */
	void (*stop)(struct sk_svc *s);
	/* The loop has ended: free what init allocated. May be NULL. */
	void (*fini)(struct sk_svc *s);
	/* Reload (SIGHUP), first step: the config was read again, and next
	 * (settings_size bytes, checked) is what it now says of this
	 * service. Make what the new settings need that can fail (read a
	 * key file) into *pending, without changing what runs. A setting
	 * that takes a restart is put back to its running value in next,
	 * with a log line saying so. Return 0, or -1 with a message in err:
	 * the whole reload is then refused, and nothing changes anywhere.
	 * NULL: the settings are read where they are used, and nothing is
	 * derived from them. */
	int (*reload)(struct sk_svc *s, void *next, void **pending, char *err,
		      size_t cap);
	/* Second step, which cannot fail, after every first step that
	 * returned 0. With commit, next has been copied over the settings
	 * in place (sk_svc_settings() is the same pointer, so a pointer
	 * kept to it stays good) and the limits replaced: take pending
	 * into use. Without, the reload was refused: free pending. May be
	 * NULL. */
	void (*reloaded)(struct sk_svc *s, void *pending, int commit);

	/* TCP: bytes of service state for each connection (sk_conn_data),
	 * zeroed at accept and freed by the platform. */
	size_t conn_size;
	/* TCP: input buffered for the service, which must hold its largest
	 * request (a whole frame); 0: SK_CONN_INBUF. A connection holds
	 * the buffer only while it has input not yet handled. */
	size_t in_size;
	/* TCP: writes are queued and sent at the end of the loop turn,
	 * not at once: a service that fans many small messages out to many
	 * peers (chat) makes one write per peer per turn, however many
	 * messages the turn queued for it. */
	int defer_writes;
	/* TCP: a client connected. May be NULL. */
	void (*tcp_accept)(struct sk_conn *c);
	/* TCP: handle input; return the bytes used, keeping the rest for
	 * the next call. Handle a bounded amount per call (the platform
	 * calls again on a later loop turn with what is left) and stop early
	 * when sk_conn_paused(). Call sk_conn_progress() for each complete
	 * request. Returning 0 says the input is an incomplete request: the
	 * next call waits for more bytes (or sk_conn_kick()). NULL: the
	 * service never reads (send and close). */
	size_t (*tcp_read)(struct sk_conn *c, const char *buf, size_t len);
	/* TCP: the connection is closing, for reason; called once, whatever
	 * the path. Free what the connection holds. May be NULL. */
	void (*tcp_close)(struct sk_conn *c, enum sk_close_reason reason);

	/* UDP, after the platform's checks in STYLE 11's order: length
	 * (udp_max_in), then the mode (udp_check), then the rate limit.
	 * Exactly one of udp_recv, udp_reply and udp_batch is set for a
	 * service with SK_UDP. */
	size_t udp_max_in;    /* longer datagrams are dropped; 0: any */
	/* A cheap look at a datagram before the rate limiter is charged:
	 * 0 to go on, -1 to drop it as not ours. May be NULL. */
	int (*udp_check)(const char *in, size_t len);
	/* A datagram from `from` arrived on u; answer, or relay to other
	 * peers, with sk_udp_send(). */
	void (*udp_recv)(struct sk_udp *u, const struct sockaddr *from,
			 const char *in, size_t len);
	/* Simpler form for request/reply services: write the reply to one
	 * datagram into out (udp_max_out bytes) and return its length, or
	 * -1 to drop it. */
	int (*udp_reply)(struct sk_svc *s, const char *in, size_t len,
			 char *out, size_t cap);
	size_t udp_max_out;   /* largest reply udp_reply writes */
	/* UDP served in batches on worker threads instead (batch.h). */
	const struct sk_batch_ops *udp_batch;
};

/* ---- what a service may call ---- */

/* The service's settings (settings_size bytes; NULL when it has none). */
const void *sk_svc_settings(const struct sk_svc *s);
/* Its limits, after configuration. */
const struct sk_svc_limits *sk_svc_limits(const struct sk_svc *s);
/* Its private pointer, for init to set and the rest to use. */
void *sk_svc_data(const struct sk_svc *s);
void sk_svc_set_data(struct sk_svc *s, void *data);
/* The loop it runs on (a uv_loop_t). */
struct uv_loop_s *sk_svc_loop(const struct sk_svc *s);
/* The service a connection belongs to. */
struct sk_svc *sk_conn_svc(const struct sk_conn *c);

/* The connection's service state (conn_size bytes). */
void *sk_conn_data(struct sk_conn *c);
/* A weak reference to c, and the way back: NULL once c is closing or
 * gone. Ids are never reused within one server. */
sk_conn_id sk_conn_id_of(const struct sk_conn *c);
struct sk_conn *sk_conn_get(struct sk_svc *s, sk_conn_id id);

/*
 * Queue bytes for the peer. sk_conn_write() copies buf; sk_conn_send()
 * takes a reference to b (len bytes from off), so one message fanned out
 * to many peers is stored once. Returns 0, or a negative errno:
 * -EPIPE when the connection is ending, -ENOBUFS when this would take its
 * queue over max_output (the connection is then closed with
 * SK_CLOSE_OVERFLOW and one log line), -ENOMEM.
 */
int sk_conn_write(struct sk_conn *c, const void *buf, size_t len);
int sk_conn_send(struct sk_conn *c, struct sk_buf *b, size_t off, size_t len);
/* Put filter f (with its state, freed by f->free) in c's path; from
 * tcp_accept. Returns 0 or -ENOMEM. */
int sk_conn_filter(struct sk_conn *c, const struct sk_filter *f, void *state);
/* For filters: hand decoded input to the service's buffer; returns the
 * bytes it took (fewer when the buffer is full). */
size_t sk_conn_feed(struct sk_conn *c, const void *buf, size_t len);
/* For filters: the bytes sk_conn_feed() would take now. */
size_t sk_conn_inroom(const struct sk_conn *c);
/* c's filter state if its filter is f, else NULL. */
void *sk_conn_filter_state(struct sk_conn *c, const struct sk_filter *f);
/* For filters: queue encoded bytes for the socket, with the same caps
 * and errors as sk_conn_write(). */
int sk_conn_write_raw(struct sk_conn *c, const void *buf, size_t len);
/* Bytes queued for the peer and not yet taken by the kernel. */
size_t sk_conn_queued(const struct sk_conn *c);
/* True when the service should stop handling input for now: output is
 * over pause_output, or the connection is ending. */
int sk_conn_paused(const struct sk_conn *c);
/* Hold (1) or release (0) c's input: while held, the service's tcp_read
 * is not called and nothing more is read from the peer (a command is
 * running, a caller waits for a place). Releasing resumes on the next
 * loop turn. */
void sk_conn_hold(struct sk_conn *c, int hold);
/* Call tcp_read again on a later loop turn with the input buffered now,
 * even if no byte arrives (a line protocol's timer that takes a partial
 * line as whole, say). */
void sk_conn_kick(struct sk_conn *c);
/* A complete request was handled: the request deadline starts again. */
void sk_conn_progress(struct sk_conn *c);
/* Close once the queued output is sent (gracefully: see server.c). */
void sk_conn_end(struct sk_conn *c);
/* Close now, dropping queued output. */
void sk_conn_abort(struct sk_conn *c, enum sk_close_reason why);
/* The addresses; for a unix-socket peer, an AF_UNIX address. */
const struct sockaddr *sk_conn_peer(struct sk_conn *c);
const struct sockaddr *sk_conn_local(struct sk_conn *c);
/* "timefmt/tcp 127.0.0.1:8083", for log lines. */
const char *sk_conn_where(const struct sk_conn *c);

/* The service a UDP socket serves. A struct sk_udp lives as long as the
 * server, so a service may keep the pointer with a peer it remembers. */
struct sk_svc *sk_udp_svc(const struct sk_udp *u);

/*
 * Send one datagram from u to `to`, charged to the service's outbound
 * budget (limits.out). Returns 0, -ENOBUFS when over the budget or when
 * the kernel's queue and ours are full (counted, not sent), or another
 * negative errno. The rule of DESIGN.md is the service's to keep: never
 * send more to an address that has not been validated than it sent.
 */
int sk_udp_send(struct sk_udp *u, const struct sockaddr *to,
		const void *buf, size_t len);

#endif
