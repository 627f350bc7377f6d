/*
 * batch.h: UDP served in batches on worker threads, for hot services (NTP).
 *
 * Each worker thread runs its own libuv loop and owns one socket bound
 * with SO_REUSEPORT to the listener's address, so the kernel spreads
 * clients over the workers. A worker polls its socket (uv_poll) and reads
 * with recvmmsg(), which also brings each datagram's kernel receive time
 * (SO_TIMESTAMPNS); it answers with one sendmmsg(). libuv's own UDP
 * receive path is not used: it gives no timestamps, and libuv 1.44's
 * recvmmsg mode hangs with buffers under 64 KiB.
 */
#ifndef SK_BATCH_H
#define SK_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Datagrams read per recvmmsg() and answered per sendmmsg(). */
#define SK_BATCH_MSGS 64
/* Replies per sendmmsg(), each group stamped right before it is sent;
 * bounds how stale a transmit timestamp can be when it leaves. */
#define SK_BATCH_TX 16
/* recvmmsg() rounds per wake-up; bounds one socket's turn. */
#define SK_BATCH_ROUNDS 4
/* Longest busy-poll turn before the loop runs its timers again. */
#define SK_BATCH_SPIN_MAX_NS 10000000ull
/* Bytes kept of one datagram; longer ones arrive marked truncated. */
#define SK_BATCH_IN 1024
/* Bytes of one reply. */
#define SK_BATCH_OUT 64
/* After a poll error the socket is polled again only after a back-off,
 * which doubles with each error in a row from MIN to MAX: a socket that
 * keeps reporting an error costs at most one wake-up a second instead of
 * a spinning thread. */
#define SK_BATCH_RETRY_MIN_MS 10
#define SK_BATCH_RETRY_MAX_MS 1000
/* Seconds between log lines about one worker's poll errors: the first of
 * a run is logged at once, the rest only counted and logged this often;
 * a run ends after this long without one. Stops a log flood. */
#define SK_BATCH_ERR_LOG_S 60

/* One datagram of a batch and its reply. */
struct sk_dgram {
	struct sockaddr_storage peer; /* the sender */
	socklen_t peerlen;            /* its size */
	const uint8_t *in;            /* the request */
	size_t len;                   /* its length */
	int truncated;                /* longer than SK_BATCH_IN */
	int64_t rx_ns;                /* kernel receive time, Unix ns */
	uint8_t out[SK_BATCH_OUT];    /* the reply */
	size_t outlen;                /* its length; 0: no reply */
};

/* Counters a worker adds to; the main loop reads them for summaries. */
struct sk_batch_stats {
	unsigned long bad;      /* malformed or not for us */
	unsigned long denied;   /* refused by access control */
	unsigned long limited;  /* over the rate limit, dropped */
	unsigned long kod;      /* over the rate limit, answered with KoD */
	unsigned long unsent;   /* replies the kernel would not take */
	unsigned long received; /* datagrams read */
	unsigned long sent;     /* replies the kernel took */
};

/* The counters, which are summed as an array. */
#define SK_BATCH_NSTATS 7
_Static_assert(sizeof(struct sk_batch_stats) ==
		       SK_BATCH_NSTATS * sizeof(unsigned long),
	       "counters are summed as an array");

struct sk_batch_ops {
	/* The service's name, for log lines. */
	const char *name;
	/* Worker threads per address and busy-poll time (us, 0: none) for
	 * these settings (the service's own). */
	void (*params)(const void *cfg, unsigned *threads, unsigned *spin_us);
	/* Make one worker's private state. NULL on failure. */
	void *(*worker_new)(const void *cfg);
	void (*worker_free)(void *w);
	/* Called once a second on each worker (and at start). */
	void (*worker_tick)(void *w);
	/* Decide on a batch: fill out/outlen of the datagrams to answer and
	 * count the rest in st (the worker's own counters). */
	void (*handle)(void *w, struct sk_dgram *d, size_t n,
		       struct sk_batch_stats *st);
	/* Stamp n replies with the transmit time, as late as possible:
	 * called right before the sendmmsg() that sends them. */
	void (*stamp)(void *w, struct sk_dgram *const *r, size_t n,
		      int64_t now_ns);
};

struct sk_batch;

/*
 * Bind `threads` sockets to addr with SO_REUSEPORT and start a worker on
 * each. When addr's port is 0, the first bind picks it and the others
 * follow. With spin_us, a worker busy-polls that long after each
 * datagram before sleeping again. *bound gets the address bound. Returns
 * 0 and sets *out, or a negative errno (nothing is left running).
 * Where the kernel cannot steer each client to one worker
 * (SO_ATTACH_REUSEPORT_CBPF), a single worker is started instead, with a
 * warning, so that per-client rate limits still hold.
 */
int sk_batch_start(const struct sk_batch_ops *ops, const void *cfg,
		   const struct sockaddr *addr, unsigned threads, unsigned spin_us,
		   struct sockaddr_storage *bound, struct sk_batch **out);

/*
 * The same on a UDP socket that is already bound (fd, handed to the
 * daemon by systemd): one worker, whose socket it is from then on (it is
 * closed on failure too). A socket made elsewhere cannot be joined by
 * more SO_REUSEPORT sockets of ours (the kernel lets only the user who
 * made it do so), hence one worker.
 */
int sk_batch_adopt(const struct sk_batch_ops *ops, const void *cfg, int fd,
		   unsigned spin_us, struct sockaddr_storage *bound,
		   struct sk_batch **out);

/* A reload: give each worker a new state, made now by worker_new(cfg),
 * which it takes in place of its own on its next loop turn. worker_new
 * must copy what it needs of cfg: it is not kept. Returns 0, or -ENOMEM
 * when some worker could not get one (it keeps its old state). */
int sk_batch_reload(struct sk_batch *b, const void *cfg);

/* Sum the workers' counters and reset them. */
void sk_batch_take_stats(struct sk_batch *b, struct sk_batch_stats *sum);

/* Stop every worker, join the threads, add their last counts to *sum
 * and free b. A worker whose loop will not close (handles left open) is
 * logged as such and counted in sk_batch_unclosed(). */
void sk_batch_stop(struct sk_batch *b, struct sk_batch_stats *sum);

/* Worker loops that sk_batch_stop() found with handles still open, since
 * the process started. A daemon that exits non-zero when its own loop
 * will not close should also do so when this is not 0. */
unsigned long sk_batch_unclosed(void);

#endif
