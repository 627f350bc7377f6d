/*
 * fuzz_rmsg.c: libFuzzer target for src/proto/rmsg.c.
 *
 * The first byte chooses a mode.
 *
 * Even: the rest is one datagram for the decoder. When it is accepted:
 * its length is within SK_RMSG_MAX_DGRAM, its views lie inside it, ACK
 * ranges run newest first, disjoint and not adjacent, ids and codes are
 * not 0, and encoding the decoded datagram writes the input again byte
 * for byte, into a heap buffer of exactly its size (one byte less is
 * SPACE). A fixed-size type's every shorter prefix is refused.
 *
 * Odd: a session. The server's session and a client with one request
 * talk over a link the input drives, one op per byte: poll either side
 * (what they send goes onto the link), deliver a datagram the input
 * picks (so reordered) to the other side, perhaps keeping a copy
 * (duplicated), drop one, let time pass, act as the service (start the
 * command, give it output, end it, refuse or cancel), cancel from the
 * client, or hand either side a datagram made of input bytes. Checked
 * after every op: no request id is ever given to the service twice; the
 * send window's books agree with its array and never pass it; cached
 * memory stays within the cap per request times the table; everything
 * either side sends decodes, comes from the right side and fits 1195
 * bytes; every REQUEST carries the client's one id; the client's read
 * point never passes what it received, nor that the window. At the end,
 * when the client has the whole stream and took no forged DATA, the
 * stream reads as a TCP exec stream would, and its stdout and stderr
 * are what the service gave (a prefix of it when the output was cut).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec_client.h"
#include "frame.h"
#include "rmsg.h"
#include "sk_limits.h"

/* ---- mode 0: the codec ---------------------------------------------- */

static void check_codec(const uint8_t *data, size_t size)
{
	struct sk_rmsg_dgram d;
	uint8_t *out;
	int n;

	if (sk_rmsg_decode(data, size, &d) != 0)
		return;
	if (size > SK_RMSG_MAX_DGRAM || size < SK_RMSG_HEADER)
		abort();
	if (d.type != SK_RMSG_ACK && d.id == 0)
		abort();
	if (d.len > 0 && (d.data < data || d.data + d.len > data + size))
		abort();
	if (d.type == SK_RMSG_DATA &&
	    (d.len == 0 || (uint64_t)d.offset + d.len > SK_RMSG_OUTPUT_MAX))
		abort();
	if (d.type == SK_RMSG_ERROR && d.code == 0)
		abort();
	if (d.type == SK_RMSG_ACK) {
		if (d.nranges < 1 || d.nranges > SK_RMSG_ACK_RANGES)
			abort();
		for (size_t i = 0; i < d.nranges; i++) {
			if (d.ranges[i].lo > d.ranges[i].hi)
				abort();
			if (i > 0 && d.ranges[i].hi + 1 >= d.ranges[i - 1].lo)
				abort();
		}
	}
	out = malloc(size);
	if (out == NULL)
		abort();
	if (sk_rmsg_encode(out, size - 1, &d) != SK_RMSG_E_SPACE)
		abort();
	n = sk_rmsg_encode(out, size, &d);
	if (n != (int)size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	if (d.type != SK_RMSG_DATA && d.type != SK_RMSG_ACK) {
		for (size_t k = 0; k < size; k++)
			if (sk_rmsg_decode(data, k, &d) == 0)
				abort();
	}
}

/* ---- mode 1: a session ---------------------------------------------- */

#define QCAP 32
#define IDS 64

/* Datagrams on their way one direction. */
struct queue {
	uint8_t b[QCAP][SK_RMSG_MAX_DGRAM]; /* their bytes */
	size_t len[QCAP];                   /* their sizes */
	size_t n;                           /* how many */
};

static struct sk_rmsg_client cli;     /* 290 KiB: not on the stack */
static struct sk_rmsg_srv srv;        /* the server's session */
static struct queue to_cli, to_srv;   /* the link */
static uint8_t got[SK_RMSG_OUTPUT_MAX]; /* the stream the client read */
static size_t ngot;
static uint8_t want[2][1 << 20];      /* stdout, stderr given */
static size_t nwant[2];
static uint64_t execd[IDS];           /* ids given to the service */
static size_t nexecd;
static size_t mem_used;               /* cached output held */
static size_t cap;                    /* the session's output cap */

static void *fz_realloc(void *ctx, void *p, size_t n)
{
	size_t *h = p == NULL ? NULL : (size_t *)p - 2;
	size_t old = h != NULL ? h[0] : 0;

	(void)ctx;
	if (n == 0) {
		mem_used -= old;
		free(h);
		return NULL;
	}
	h = realloc(h, n + 2 * sizeof(size_t));
	if (h == NULL)
		abort();
	mem_used = mem_used - old + n;
	h[0] = n;
	return h + 2;
}

static void push(struct queue *q, const uint8_t *b, size_t n)
{
	if (q->n == QCAP)
		return; /* a full link drops */
	memcpy(q->b[q->n], b, n);
	q->len[q->n++] = n;
}

/* Take datagram i off the queue into b; returns its size. */
static size_t take(struct queue *q, size_t i, uint8_t *b)
{
	size_t n = q->len[i];

	memcpy(b, q->b[i], n);
	q->n--;
	memmove(q->b[i], q->b[i + 1], (q->n - i) * sizeof(q->b[0]));
	memmove(&q->len[i], &q->len[i + 1], (q->n - i) * sizeof(q->len[0]));
	return n;
}

/* What a side sent: it decodes, from that side, and fits. */
static void check_sent(const uint8_t *b, int n, int from_client)
{
	struct sk_rmsg_dgram d;

	if (n < 0 || n > SK_RMSG_MAX_DGRAM)
		abort();
	if (sk_rmsg_decode(b, (size_t)n, &d) != 0)
		abort();
	if (sk_rmsg_from_client(d.type) != from_client)
		abort();
	if (from_client && d.type == SK_RMSG_REQUEST && d.id != cli.id)
		abort();
}

static void check_state(void)
{
	unsigned inflight = 0, lost = 0;

	for (unsigned k = 0; k < SK_RMSG_WINDOW; k++) {
		const struct sk_rmsg_sent *r = &srv.rec[k];

		if (r->state == 1)
			inflight++;
		else if (r->state == 2)
			lost++;
		else if (r->state != 0)
			abort();
		if (r->state != 0 &&
		    (r->slot >= SK_RMSG_SLOTS ||
		     srv.slot[r->slot].state == SK_RMSG_FREE ||
		     r->len == 0 || r->len > SK_RMSG_MAX_DATA ||
		     r->off + r->len > srv.slot[r->slot].sent))
			abort();
	}
	if (inflight != srv.inflight || lost != srv.lost ||
	    inflight + lost > SK_RMSG_WINDOW)
		abort();
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++) {
		const struct sk_rmsg_slot *sl = &srv.slot[i];

		if (sl->state == SK_RMSG_FREE)
			continue;
		if (sl->len + sl->tail_len > cap || sl->alloc > cap ||
		    sl->sent > sl->len + sl->tail_len)
			abort();
	}
	if (mem_used > (size_t)SK_RMSG_SLOTS * cap)
		abort();
	if (cli.read > cli.have || cli.have - cli.read > SK_RMSG_RECV_WINDOW ||
	    cli.nrecv > SK_RMSG_ACK_RANGES ||
	    (cli.final != UINT32_MAX && cli.have > cli.final))
		abort();
}

static void executed(uint64_t id)
{
	for (size_t i = 0; i < nexecd; i++)
		if (execd[i] == id)
			abort(); /* run twice */
	if (nexecd < IDS)
		execd[nexecd++] = id;
}

static void drain_client(void)
{
	size_t n;

	do {
		n = sk_rmsg_client_read(&cli, got + ngot, sizeof(got) - ngot);
		ngot += n;
	} while (n > 0);
}

/* The stream the client read, through the exec client's checks. */
static void check_stream(int cut)
{
	struct sk_exec_client xc;
	size_t off = 0, n[2] = { 0, 0 };
	int ended = 0;

	sk_exec_client_init(&xc, SK_RMSG_STREAM);
	xc.hello = 1;
	while (off < ngot) {
		struct sk_exec_event ev;
		int k = sk_exec_client_input(&xc, got + off, ngot - off, &ev);
		int w;

		if (k <= 0 || ended)
			abort();
		switch (ev.kind) {
		case SK_EXEC_EV_STDOUT:
		case SK_EXEC_EV_STDERR:
			w = ev.kind == SK_EXEC_EV_STDERR;
			if (n[w] + ev.data.len > nwant[w] ||
			    memcmp(want[w] + n[w], ev.data.p, ev.data.len) != 0)
				abort();
			n[w] += ev.data.len;
			sk_exec_client_written(&xc, ev.data.len);
			(void)sk_exec_client_grant(&xc);
			break;
		case SK_EXEC_EV_EXIT:
		case SK_EXEC_EV_REFUSED:
		case SK_EXEC_EV_ENDED:
			ended = 1;
			break;
		default:
			break;
		}
		off += (size_t)k;
	}
	if (!ended)
		abort();
	if (!cut && (n[0] != nwant[0] || n[1] != nwant[1]))
		abort();
}

/* The service's part in what the server made of a datagram: our id
 * runs (once), another is refused, a CANCEL stops ours. */
static void on_event(const struct sk_rmsg_srv_event *ev, uint64_t now,
		     uint64_t id, int *running)
{
	if (ev->kind == SK_RMSG_SRV_EXEC) {
		executed(ev->id);
		if (ev->id == id)
			*running = 1;
		else
			(void)sk_rmsg_srv_error(&srv, now, ev->id,
						SK_FRAME_CODE_POLICY, "no", 2);
	} else if (ev->kind == SK_RMSG_SRV_CANCEL && ev->id == id) {
		*running = 0;
	}
}

/* Output for stream w (0 stdout, 1 stderr): k bytes of a pattern. */
static int give(uint64_t now, uint64_t id, int w, size_t k)
{
	int n;

	if (nwant[w] + k > sizeof(want[w]))
		return 0;
	for (size_t i = 0; i < k; i++)
		want[w][nwant[w] + i] = (uint8_t)((nwant[w] + i) * 31u + w);
	n = sk_rmsg_srv_output(&srv, now, id,
			       w ? SK_FRAME_STDERR : SK_FRAME_STDOUT,
			       want[w] + nwant[w], k);
	if (n == 0 || n == SK_RMSG_CUT)
		nwant[w] += k;
	return n;
}

static void session(const uint8_t *data, size_t size)
{
	struct sk_rmsg_srv_cfg cfg;
	uint8_t b[SK_RMSG_MAX_DGRAM], f[64];
	uint64_t now = 1000000, id;
	int running = 0, ended = 0, cut = 0, forged = 0;
	size_t pos = 0, fl;
	struct sk_frame_exec *e;

	if (size < 3)
		return;
	memset(&cfg, 0, sizeof(cfg));
	cap = SK_RMSG_OUTPUT_MIN + (size_t)data[0] * 256;
	cfg.output_cap = cap;
	cfg.initial_rtt_us = 1000 + (uint64_t)data[1] * 1000;
	cfg.mem.realloc = fz_realloc;
	mem_used = 0;
	sk_rmsg_srv_init(&srv, &cfg, now);
	sk_rmsg_client_init(&cli, NULL);
	to_cli.n = to_srv.n = 0;
	ngot = nwant[0] = nwant[1] = nexecd = 0;
	id = 1 + data[2];
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	e->argc = 1;
	e->argv[0].p = "true";
	e->argv[0].len = 4;
	fl = (size_t)sk_frame_exec_encode(f, sizeof(f), SK_RMSG_STREAM, e);
	free(e);
	if (sk_rmsg_client_start(&cli, now, id, f, fl) != 0)
		abort();
	data += 3;
	size -= 3;
	while (pos < size) {
		unsigned op = data[pos++];
		unsigned arg = pos < size ? data[pos] : 0;
		struct sk_rmsg_srv_event ev;
		enum sk_rmsg_client_ev cev;
		int n;
		size_t len;

		switch (op % 12) {
		case 0: /* the server sends what it has */
			while ((n = sk_rmsg_srv_poll(&srv, now, b, sizeof(b))) >
			       0) {
				check_sent(b, n, 0);
				push(&to_cli, b, (size_t)n);
			}
			if (n < 0)
				abort();
			break;
		case 1: /* the client sends what it has */
			while ((n = sk_rmsg_client_poll(&cli, now, b,
							sizeof(b))) > 0) {
				check_sent(b, n, 1);
				push(&to_srv, b, (size_t)n);
			}
			if (n < 0)
				abort();
			break;
		case 2: /* one arrives at the client, maybe twice */
		case 3:
			if (to_cli.n == 0)
				break;
			pos++;
			len = take(&to_cli, arg % to_cli.n, b);
			if (arg & 0x80)
				push(&to_cli, b, len);
			n = sk_rmsg_client_input(&cli, now, b, len, &cev);
			if (n != 0 && !forged)
				abort(); /* what the server sends is good */
			drain_client();
			break;
		case 4: /* one arrives at the server, maybe twice */
		case 5:
			if (to_srv.n == 0)
				break;
			pos++;
			len = take(&to_srv, arg % to_srv.n, b);
			if (arg & 0x80)
				push(&to_srv, b, len);
			/* What the client sends is good, unless it was made
			 * to acknowledge a forged packet number. */
			if (sk_rmsg_srv_input(&srv, now, b, len, &ev) != 0 &&
			    !forged)
				abort();
			on_event(&ev, now, id, &running);
			break;
		case 6: /* one is lost */
			pos++;
			if ((arg & 1) && to_cli.n > 0)
				(void)take(&to_cli, (arg >> 1) % to_cli.n, b);
			else if (!(arg & 1) && to_srv.n > 0)
				(void)take(&to_srv, (arg >> 1) % to_srv.n, b);
			break;
		case 7: /* time passes */
			pos++;
			now += (arg & 0x80) ? (uint64_t)(arg & 0x7f) * 100000
					    : (uint64_t)arg * 100;
			break;
		case 8: /* the service */
			pos++;
			if (!running || ended)
				break;
			if (arg < 0x10) {
				n = sk_rmsg_srv_started(&srv, now, id);
				if (n == SK_RMSG_CUT)
					cut = ended = 1;
			} else if (arg < 0xe0) {
				n = give(now, id, arg & 1,
					 (size_t)(arg >> 1) * 37);
				if (n == SK_RMSG_CUT)
					cut = ended = 1;
			} else if (arg < 0xf0) {
				struct sk_frame_exit x = { .status = arg & 7 };

				if (sk_rmsg_srv_exit(&srv, now, id, &x) == 0)
					ended = 1;
			} else if (sk_rmsg_srv_error(&srv, now, id,
						     SK_FRAME_CODE_TIMEOUT, "t",
						     1) == 0) {
				ended = 1;
			}
			break;
		case 9: /* the client gives up */
			if (arg == 0xff)
				sk_rmsg_client_cancel(&cli);
			pos++;
			break;
		case 10: /* input bytes as a datagram, to either side */
		case 11:
			len = arg % 64;
			pos++;
			if (len > size - pos)
				len = size - pos;
			memset(b, 0, sizeof(b));
			memcpy(b, data + pos, len);
			pos += len;
			if (len > 0)
				b[0] = SK_RMSG_MAGIC; /* reach the fields */
			if (op % 12 == 10) {
				n = sk_rmsg_srv_input(&srv, now, b, len, &ev);
				if (n == 0)
					on_event(&ev, now, id, &running);
			} else if (sk_rmsg_client_input(&cli, now, b, len,
							&cev) == 0) {
				if (b[1] == SK_RMSG_DATA)
					forged = 1;
				drain_client();
			}
			break;
		}
		check_state();
		/* After a poll that sent nothing, the server's next timeout
		 * is later than now: nothing due is left undone. */
		if (op % 12 == 0 && sk_rmsg_srv_next_timeout(&srv, now) < now &&
		    srv.nctl == 0)
			abort();
	}
	if (cli.status == SK_RMSG_COMPLETE && !forged && cli.read == cli.final)
		check_stream(cut || cli.truncated);
	sk_rmsg_srv_fini(&srv);
	if (mem_used != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		check_codec(data + 1, size - 1);
	else
		session(data + 1, size - 1);
	return 0;
}
