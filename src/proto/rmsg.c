/*
 * rmsg.c: exec over UDP, the reliable message layer (see rmsg.h and
 * docs/PROTOCOL.md, "exec (UDP): reliable messages").
 *
 * The codec walks a datagram once, bounds first. The server's session
 * is a table of requests (the replay window beside it), each with its
 * output stream; a fixed array of the datagrams of output that are in
 * flight or lost (the send window); the RTT estimator, loss detection
 * and retransmission timer of RFC 9002; and a pacer. The client is a
 * REQUEST timer, the set of the server's packet numbers it received
 * (for its ACKs) and a ring that reassembles the stream. Neither reads
 * a clock nor allocates: the time comes in, memory comes from the
 * caller's allocator.
 */
#include "rmsg.h"

#include <string.h>

#include "be.h"

static uint64_t sk__max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t sk__min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- the codec ----------------------------------------------------- */

int sk_rmsg_from_client(unsigned type)
{
	return type == SK_RMSG_REQUEST || type == SK_RMSG_ACK ||
	       type == SK_RMSG_CANCEL;
}

/* DATA's flags: FIN, and TRUNCATED only with it. */
static int sk__data_flags_ok(unsigned flags)
{
	const unsigned all = SK_RMSG_F_FIN | SK_RMSG_F_TRUNCATED;

	return (flags & ~all) == 0 && (flags & all) != SK_RMSG_F_TRUNCATED;
}

/* The one EXEC frame a REQUEST carries, from a client, on stream 1. */
static int sk__exec_frame(const uint8_t *p, size_t len, struct sk_frame *f)
{
	int n = sk_frame_parse(p, len, f);

	if (n <= 0 || (size_t)n != len)
		return SK_RMSG_E_FRAME;
	if (f->type != SK_FRAME_EXEC || f->stream != SK_RMSG_STREAM ||
	    sk_frame_check(f, SK_FRAME_CLIENT) != 0)
		return SK_RMSG_E_FRAME;
	return 0;
}

static int sk__decode_ack(const uint8_t *buf, size_t len,
			  struct sk_rmsg_dgram *d)
{
	size_t pairs;
	uint32_t largest, first, lo;

	if ((len - SK_RMSG_ACK_FIXED) % SK_RMSG_ACK_PAIR != 0)
		return SK_RMSG_E_LENGTH;
	pairs = (len - SK_RMSG_ACK_FIXED) / SK_RMSG_ACK_PAIR;
	if (pairs > SK_RMSG_ACK_RANGES - 1)
		return SK_RMSG_E_RANGE;
	largest = sk_be_get32(buf + 8);
	d->ack_delay = sk_be_get16(buf + 12);
	first = sk_be_get16(buf + 14);
	if (first > largest)
		return SK_RMSG_E_RANGE;
	d->ranges[0].hi = largest;
	d->ranges[0].lo = lo = largest - first;
	for (size_t i = 0; i < pairs; i++) {
		const uint8_t *q = buf + SK_RMSG_ACK_FIXED +
				   i * SK_RMSG_ACK_PAIR;
		uint32_t gap = sk_be_get16(q), n = sk_be_get16(q + 2), hi;

		if (lo < gap + 2)
			return SK_RMSG_E_RANGE;
		hi = lo - gap - 2;
		if (hi < n)
			return SK_RMSG_E_RANGE;
		lo = hi - n;
		d->ranges[i + 1].hi = hi;
		d->ranges[i + 1].lo = lo;
	}
	d->nranges = pairs + 1;
	return 0;
}

int sk_rmsg_decode(const uint8_t *buf, size_t len, struct sk_rmsg_dgram *d)
{
	struct sk_frame f;
	int rc;

	if (len < SK_RMSG_HEADER)
		return SK_RMSG_E_SHORT;
	if (len > SK_RMSG_MAX_DGRAM)
		return SK_RMSG_E_TOOBIG;
	if (buf[0] != SK_RMSG_MAGIC)
		return SK_RMSG_E_MAGIC;
	memset(d, 0, sizeof(*d));
	d->type = buf[1];
	d->flags = buf[2];
	d->pn = sk_be_get32(buf + 4);
	if (d->type < SK_RMSG_REQUEST || d->type > SK_RMSG_CANCEL)
		return SK_RMSG_E_TYPE;
	if (buf[3] != 0)
		return SK_RMSG_E_FLAGS;
	if (d->type == SK_RMSG_DATA) {
		if (!sk__data_flags_ok(d->flags))
			return SK_RMSG_E_FLAGS;
	} else if (d->flags != 0) {
		return SK_RMSG_E_FLAGS;
	}
	switch (d->type) {
	case SK_RMSG_ACK:
		if (len < SK_RMSG_ACK_FIXED)
			return SK_RMSG_E_SHORT;
		return sk__decode_ack(buf, len, d);
	case SK_RMSG_REQUEST:
		/* The id, then at least a frame header. */
		if (len < SK_RMSG_REQUEST_FIXED + SK_FRAME_HEADER)
			return SK_RMSG_E_SHORT;
		d->id = sk_be_get64(buf + 8);
		if (d->id == 0)
			return SK_RMSG_E_VALUE;
		d->data = buf + SK_RMSG_REQUEST_FIXED;
		d->len = len - SK_RMSG_REQUEST_FIXED;
		rc = sk__exec_frame(d->data, d->len, &f);
		return rc;
	case SK_RMSG_DATA:
		if (len < SK_RMSG_DATA_FIXED + 1)
			return SK_RMSG_E_SHORT;
		d->id = sk_be_get64(buf + 8);
		d->offset = sk_be_get32(buf + 16);
		d->data = buf + SK_RMSG_DATA_FIXED;
		d->len = len - SK_RMSG_DATA_FIXED;
		if (d->id == 0 || d->offset > SK_RMSG_OUTPUT_MAX ||
		    d->len > SK_RMSG_OUTPUT_MAX - d->offset)
			return SK_RMSG_E_VALUE;
		return 0;
	case SK_RMSG_ERROR:
		if (len < SK_RMSG_ERROR_LEN)
			return SK_RMSG_E_SHORT;
		if (len > SK_RMSG_ERROR_LEN)
			return SK_RMSG_E_LENGTH;
		d->id = sk_be_get64(buf + 8);
		d->code = sk_be_get16(buf + SK_RMSG_ID_LEN);
		if (d->id == 0 || d->code == 0)
			return SK_RMSG_E_VALUE;
		return 0;
	default: /* IN_PROGRESS, CANCEL */
		if (len < SK_RMSG_ID_LEN)
			return SK_RMSG_E_SHORT;
		if (len > SK_RMSG_ID_LEN)
			return SK_RMSG_E_LENGTH;
		d->id = sk_be_get64(buf + 8);
		if (d->id == 0)
			return SK_RMSG_E_VALUE;
		return 0;
	}
}

/* The ACK's ranges as the wire can say them: how many of d's ranges
 * (a gap or range too wide ends the list; the first is cut). Returns 0
 * when they are not disjoint, newest first and not adjacent. */
static size_t sk__ack_fit(const struct sk_rmsg_dgram *d, uint32_t *first)
{
	size_t n;

	if (d->nranges < 1 || d->nranges > SK_RMSG_ACK_RANGES ||
	    d->ranges[0].lo > d->ranges[0].hi)
		return 0;
	*first = d->ranges[0].hi - d->ranges[0].lo;
	if (*first > UINT16_MAX) {
		*first = UINT16_MAX;
		return 1;
	}
	for (n = 1; n < d->nranges; n++) {
		const struct sk_rmsg_range *p = &d->ranges[n - 1];
		const struct sk_rmsg_range *r = &d->ranges[n];

		if (r->lo > r->hi || r->hi >= p->lo || p->lo - r->hi < 2)
			return 0;
		if (p->lo - r->hi - 2 > UINT16_MAX ||
		    r->hi - r->lo > UINT16_MAX)
			break;
	}
	return n;
}

int sk_rmsg_encode(uint8_t *out, size_t cap, const struct sk_rmsg_dgram *d)
{
	size_t n = 0, nr = 0;
	uint32_t first = 0;

	switch (d->type) {
	case SK_RMSG_REQUEST: {
		struct sk_frame f;

		if (d->flags != 0)
			return SK_RMSG_E_FLAGS;
		if (d->id == 0)
			return SK_RMSG_E_VALUE;
		if (d->len > SK_RMSG_MAX_EXEC)
			return SK_RMSG_E_TOOBIG;
		if (sk__exec_frame(d->data, d->len, &f) != 0)
			return SK_RMSG_E_FRAME;
		n = SK_RMSG_REQUEST_FIXED + d->len;
		break;
	}
	case SK_RMSG_DATA:
		if (!sk__data_flags_ok(d->flags))
			return SK_RMSG_E_FLAGS;
		if (d->len == 0)
			return SK_RMSG_E_SHORT;
		if (d->len > SK_RMSG_MAX_DATA)
			return SK_RMSG_E_TOOBIG;
		if (d->id == 0 || d->offset > SK_RMSG_OUTPUT_MAX ||
		    d->len > SK_RMSG_OUTPUT_MAX - d->offset)
			return SK_RMSG_E_VALUE;
		n = SK_RMSG_DATA_FIXED + d->len;
		break;
	case SK_RMSG_ACK:
		if (d->flags != 0)
			return SK_RMSG_E_FLAGS;
		nr = sk__ack_fit(d, &first);
		if (nr == 0)
			return SK_RMSG_E_RANGE;
		n = SK_RMSG_ACK_FIXED + (nr - 1) * SK_RMSG_ACK_PAIR;
		break;
	case SK_RMSG_ERROR:
		if (d->flags != 0)
			return SK_RMSG_E_FLAGS;
		if (d->id == 0 || d->code == 0 || d->code > UINT16_MAX)
			return SK_RMSG_E_VALUE;
		n = SK_RMSG_ERROR_LEN;
		break;
	case SK_RMSG_IN_PROGRESS:
	case SK_RMSG_CANCEL:
		if (d->flags != 0)
			return SK_RMSG_E_FLAGS;
		if (d->id == 0)
			return SK_RMSG_E_VALUE;
		n = SK_RMSG_ID_LEN;
		break;
	default:
		return SK_RMSG_E_TYPE;
	}
	if (cap < n)
		return SK_RMSG_E_SPACE;
	out[0] = SK_RMSG_MAGIC;
	out[1] = (uint8_t)d->type;
	out[2] = (uint8_t)d->flags;
	out[3] = 0;
	sk_be_put32(out + 4, d->pn);
	switch (d->type) {
	case SK_RMSG_REQUEST:
		sk_be_put64(out + 8, d->id);
		memmove(out + SK_RMSG_REQUEST_FIXED, d->data, d->len);
		break;
	case SK_RMSG_DATA:
		sk_be_put64(out + 8, d->id);
		sk_be_put32(out + 16, d->offset);
		/* The caller may have put the bytes in place already. */
		memmove(out + SK_RMSG_DATA_FIXED, d->data, d->len);
		break;
	case SK_RMSG_ACK:
		sk_be_put32(out + 8, d->ranges[0].hi);
		sk_be_put16(out + 12, d->ack_delay > UINT16_MAX ? UINT16_MAX
							      : d->ack_delay);
		sk_be_put16(out + 14, first);
		for (size_t i = 1; i < nr; i++) {
			uint8_t *q = out + SK_RMSG_ACK_FIXED +
				     (i - 1) * SK_RMSG_ACK_PAIR;

			sk_be_put16(q, d->ranges[i - 1].lo - d->ranges[i].hi - 2);
			sk_be_put16(q + 2, d->ranges[i].hi - d->ranges[i].lo);
		}
		break;
	case SK_RMSG_ERROR:
		sk_be_put64(out + 8, d->id);
		sk_be_put16(out + SK_RMSG_ID_LEN, d->code);
		break;
	default:
		sk_be_put64(out + 8, d->id);
		break;
	}
	return (int)n;
}

const char *sk_rmsg_strerror(int err)
{
	switch (err) {
	case SK_RMSG_E_SHORT:
		return "datagram shorter than its type needs";
	case SK_RMSG_E_TOOBIG:
		return "datagram over 1195 bytes";
	case SK_RMSG_E_MAGIC:
		return "not an exec datagram of this version";
	case SK_RMSG_E_TYPE:
		return "unknown datagram type, or the other side's";
	case SK_RMSG_E_FLAGS:
		return "undefined flag or reserved bits";
	case SK_RMSG_E_LENGTH:
		return "datagram length wrong for its type";
	case SK_RMSG_E_VALUE:
		return "field value out of range";
	case SK_RMSG_E_RANGE:
		return "malformed ACK ranges";
	case SK_RMSG_E_FRAME:
		return "REQUEST without exactly one EXEC frame";
	case SK_RMSG_E_SPACE:
		return "datagram does not fit the buffer";
	case SK_RMSG_E_NOENT:
		return "no such request running";
	case SK_RMSG_E_STATE:
		return "call out of order";
	case SK_RMSG_E_ACK:
		return "ACK of a packet never sent";
	case SK_RMSG_E_EXHAUSTED:
		return "packet numbers exhausted";
	default:
		return "unknown rmsg error";
	}
}

const char *sk_rmsg_code_name(unsigned code)
{
	switch (code) {
	case SK_RMSG_CODE_REPLAY:
		return "REPLAY";
	case SK_RMSG_CODE_EXPIRED:
		return "EXPIRED";
	case SK_RMSG_CODE_TOO_MANY:
		return "TOO_MANY";
	default:
		return "UNKNOWN";
	}
}

/* ---- the server: the request table --------------------------------- */

#define SK__REC_FREE 0
#define SK__REC_INFLIGHT 1
#define SK__REC_LOST 2

void sk_rmsg_srv_init(struct sk_rmsg_srv *s, const struct sk_rmsg_srv_cfg *cfg,
		      uint64_t now)
{
	uint64_t rtt = SK_RMSG_INITIAL_RTT_US;

	memset(s, 0, sizeof(*s));
	s->cap = SK_RMSG_OUTPUT_DEFAULT;
	s->ttl = SK_RMSG_CACHE_TTL_US;
	if (cfg != NULL) {
		if (cfg->output_cap != 0)
			s->cap = cfg->output_cap;
		if (cfg->ttl_us != 0)
			s->ttl = cfg->ttl_us;
		if (cfg->initial_rtt_us != 0)
			rtt = cfg->initial_rtt_us;
		s->mem = cfg->mem;
	}
	if (s->cap < SK_RMSG_OUTPUT_MIN)
		s->cap = SK_RMSG_OUTPUT_MIN;
	if (s->cap > SK_RMSG_OUTPUT_MAX)
		s->cap = SK_RMSG_OUTPUT_MAX;
	if (rtt > SK_RMSG_RTO_MAX_US)
		rtt = SK_RMSG_RTO_MAX_US;
	s->srtt = rtt;
	s->rttvar = rtt / 2;
	s->pkt_thresh = SK_RMSG_PACKET_THRESHOLD;
	s->time_thresh = 9;
	s->last_sent = now;
	s->pace_tat = now;
}

/* Forget a request: its records go, its memory goes back. */
static void sk__slot_free(struct sk_rmsg_srv *s, unsigned i)
{
	struct sk_rmsg_slot *sl = &s->slot[i];

	for (unsigned k = 0; k < SK_RMSG_WINDOW && sl->recs > 0; k++) {
		struct sk_rmsg_sent *r = &s->rec[k];

		if (r->state == SK__REC_FREE || r->slot != i)
			continue;
		if (r->state == SK__REC_INFLIGHT)
			s->inflight--;
		else
			s->lost--;
		r->state = SK__REC_FREE;
		sl->recs--;
	}
	if (sl->buf != NULL && s->mem.realloc != NULL)
		s->mem.realloc(s->mem.ctx, sl->buf, 0);
	memset(sl, 0, sizeof(*sl));
}

void sk_rmsg_srv_fini(struct sk_rmsg_srv *s)
{
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		sk__slot_free(s, i);
}

unsigned sk_rmsg_srv_active(const struct sk_rmsg_srv *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		n += s->slot[i].state != SK_RMSG_FREE;
	return n;
}

static int sk__find(const struct sk_rmsg_srv *s, uint64_t id)
{
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		if (s->slot[i].state != SK_RMSG_FREE && s->slot[i].id == id)
			return (int)i;
	return -1;
}

static uint32_t sk__end(const struct sk_rmsg_slot *sl)
{
	return (uint32_t)(sl->len + sl->tail_len);
}

/* A finished request the client has whole is forgotten at once: its id
 * stays in the replay window, so a repeat gets EXPIRED. */
static void sk__maybe_delivered(struct sk_rmsg_srv *s, unsigned i)
{
	struct sk_rmsg_slot *sl = &s->slot[i];

	if (sl->state == SK_RMSG_DONE && sl->recs == 0 &&
	    sl->sent == sk__end(sl))
		sk__slot_free(s, i);
}

static void sk__queue(struct sk_rmsg_srv *s, unsigned type, uint64_t id,
		      unsigned code)
{
	if (s->nctl == SK_RMSG_CTL_QUEUE)
		return; /* the client's next repeat is answered instead */
	s->ctl[s->nctl].type = (uint8_t)type;
	s->ctl[s->nctl].code = (uint16_t)code;
	s->ctl[s->nctl].id = id;
	s->nctl++;
}

/* The replay window: 1 new, 0 seen, -1 older than the window. */
static int sk__replay_check(const struct sk_rmsg_srv *s, uint64_t id)
{
	uint64_t d;

	if (id > s->max_id)
		return 1;
	d = s->max_id - id;
	if (d >= SK_RMSG_REPLAY_WINDOW)
		return -1;
	return (s->seen >> d & 1) ? 0 : 1;
}

static void sk__replay_mark(struct sk_rmsg_srv *s, uint64_t id)
{
	if (id > s->max_id) {
		uint64_t shift = id - s->max_id;

		s->seen = shift >= SK_RMSG_REPLAY_WINDOW ? 0 : s->seen << shift;
		s->max_id = id;
	}
	s->seen |= (uint64_t)1 << (s->max_id - id);
}

/* A slot for a new request: a free one, or the finished one that ended
 * first; -1 when every one runs. */
static int sk__slot_take(struct sk_rmsg_srv *s)
{
	int old = -1;

	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++) {
		if (s->slot[i].state == SK_RMSG_FREE)
			return (int)i;
		if (s->slot[i].state == SK_RMSG_DONE &&
		    (old < 0 || s->slot[i].touched < s->slot[old].touched))
			old = (int)i;
	}
	if (old >= 0)
		sk__slot_free(s, (unsigned)old);
	return old;
}

/* ---- the server: RTT, loss, timers ---------------------------------- */

static uint64_t sk__rto_base(const struct sk_rmsg_srv *s)
{
	uint64_t var = 4 * s->rttvar;
	uint64_t rto;

	if (var < SK_RMSG_GRANULARITY_US)
		var = SK_RMSG_GRANULARITY_US;
	rto = s->srtt + var + SK_RMSG_ACK_DELAY_US;
	if (rto < SK_RMSG_RTO_MIN_US)
		rto = SK_RMSG_RTO_MIN_US;
	return sk__min64(rto, SK_RMSG_RTO_MAX_US);
}

uint64_t sk_rmsg_srv_rto(const struct sk_rmsg_srv *s)
{
	uint64_t rto = sk__rto_base(s);

	for (unsigned i = 0; i < s->rto_count && rto < SK_RMSG_RTO_MAX_US; i++)
		rto *= 2;
	return sk__min64(rto, SK_RMSG_RTO_MAX_US);
}

/* RFC 9002 5.3, with the ACK delay capped at what a client may hold. */
static void sk__rtt_sample(struct sk_rmsg_srv *s, uint64_t latest,
			   uint64_t ack_delay)
{
	uint64_t adjusted = latest, diff;

	s->latest_rtt = latest;
	if (!s->sampled) {
		s->sampled = 1;
		s->min_rtt = latest;
		s->srtt = latest;
		s->rttvar = latest / 2;
		return;
	}
	if (latest < s->min_rtt)
		s->min_rtt = latest;
	if (ack_delay > SK_RMSG_ACK_DELAY_US)
		ack_delay = SK_RMSG_ACK_DELAY_US;
	if (latest >= s->min_rtt + ack_delay)
		adjusted = latest - ack_delay;
	diff = s->srtt > adjusted ? s->srtt - adjusted : adjusted - s->srtt;
	s->rttvar = (3 * s->rttvar + diff) / 4;
	s->srtt = (7 * s->srtt + adjusted) / 8;
}

/* How long after a later packet was acknowledged an earlier one is
 * taken for lost: 9/8 of the RTT (more on a path that reorders), at
 * least the granularity. */
static uint64_t sk__loss_delay(const struct sk_rmsg_srv *s)
{
	uint64_t rtt = s->srtt > s->latest_rtt ? s->srtt : s->latest_rtt;
	uint64_t d = rtt * s->time_thresh / 8;

	return d < SK_RMSG_GRANULARITY_US ? SK_RMSG_GRANULARITY_US : d;
}

#define SK__BY_COUNT 1
#define SK__BY_TIME 2
#define SK__BY_TIMER 3

static void sk__mark_lost(struct sk_rmsg_srv *s, struct sk_rmsg_sent *r,
			  unsigned how)
{
	r->state = SK__REC_LOST;
	r->how = (uint8_t)how;
	s->inflight--;
	s->lost++;
}

/* Transmission pn of r, taken for lost, was acknowledged after all. If
 * the thresholds took it (not the timer), the path reorders more than
 * they allow: widen them, for the rest of the session. */
static void sk__spurious(struct sk_rmsg_srv *s, const struct sk_rmsg_sent *r,
			 uint32_t pn)
{
	s->stats.spurious++;
	if (r->how == SK__BY_COUNT && s->acked_any && s->largest_acked > pn) {
		uint32_t dist = s->largest_acked - pn + 1;

		if (dist > SK_RMSG_PACKET_THRESHOLD_MAX)
			dist = SK_RMSG_PACKET_THRESHOLD_MAX;
		if (dist > s->pkt_thresh)
			s->pkt_thresh = dist;
	} else if (r->how == SK__BY_TIME &&
		   s->time_thresh < SK_RMSG_TIME_THRESHOLD_MAX) {
		s->time_thresh++;
	}
}

/* RFC 9002 6.1: a packet below the largest acknowledged is lost once
 * SK_RMSG_PACKET_THRESHOLD later ones are, or once it is old enough. */
static void sk__detect_lost(struct sk_rmsg_srv *s, uint64_t now)
{
	uint64_t delay = sk__loss_delay(s);

	if (!s->acked_any)
		return;
	for (unsigned k = 0; k < SK_RMSG_WINDOW; k++) {
		struct sk_rmsg_sent *r = &s->rec[k];

		if (r->state != SK__REC_INFLIGHT || r->pn >= s->largest_acked)
			continue;
		if (s->largest_acked - r->pn >= s->pkt_thresh) {
			sk__mark_lost(s, r, SK__BY_COUNT);
			s->stats.lost_pkt++;
		} else if (now >= r->sent_at + delay) {
			sk__mark_lost(s, r, SK__BY_TIME);
			s->stats.lost_time++;
		}
	}
}

/* Declare the n oldest datagrams in flight lost, so they go again now. */
static void sk__probe(struct sk_rmsg_srv *s, unsigned n)
{
	while (n-- > 0 && s->inflight > 0) {
		struct sk_rmsg_sent *old = NULL;

		for (unsigned k = 0; k < SK_RMSG_WINDOW; k++) {
			struct sk_rmsg_sent *r = &s->rec[k];

			if (r->state == SK__REC_INFLIGHT &&
			    (old == NULL || r->pn < old->pn))
				old = r;
		}
		if (old == NULL)
			return;
		sk__mark_lost(s, old, SK__BY_TIMER);
	}
}

static int sk__stalled(const struct sk_rmsg_srv *s)
{
	return s->stalled;
}

/* The client was heard: a session that stopped sending starts again. */
static void sk__unstall(struct sk_rmsg_srv *s)
{
	if (!s->stalled)
		return;
	s->stalled = 0;
	s->rto_count = 0;
}

/* The timers that are due at now: the cache's TTL, loss by time, the
 * retransmission timer. */
static void sk__timers(struct sk_rmsg_srv *s, uint64_t now)
{
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		if (s->slot[i].state == SK_RMSG_DONE &&
		    now >= s->slot[i].touched + s->ttl)
			sk__slot_free(s, i);
	sk__detect_lost(s, now);
	if (s->inflight > 0 && !sk__stalled(s) &&
	    now >= s->last_sent + sk_rmsg_srv_rto(s)) {
		s->stats.rtos++;
		if (s->rto_count == SK_RMSG_MAX_RTOS) {
			s->stalled = 1; /* the last probe's time is up too */
			return;
		}
		/* Two probes: at heavy loss one alone is often lost too. The
		 * timer starts again from now (however late this call). */
		s->rto_count++;
		s->last_sent = now;
		sk__probe(s, 2);
	}
}

/* ---- the server: datagrams from the client ------------------------- */

static int sk__acked(const struct sk_rmsg_dgram *d, uint32_t pn)
{
	for (size_t i = 0; i < d->nranges; i++)
		if (pn >= d->ranges[i].lo && pn <= d->ranges[i].hi)
			return 1;
	return 0;
}

static void sk__on_ack(struct sk_rmsg_srv *s, uint64_t now,
		       const struct sk_rmsg_dgram *d)
{
	uint32_t largest = d->ranges[0].hi;
	unsigned newly = 0;

	s->stats.acks++;
	for (unsigned k = 0; k < SK_RMSG_WINDOW; k++) {
		struct sk_rmsg_sent *r = &s->rec[k];
		struct sk_rmsg_slot *sl;

		if (r->state == SK__REC_FREE)
			continue;
		if (sk__acked(d, r->pn)) {
			if (r->pn == largest && now >= r->sent_at)
				sk__rtt_sample(s, now - r->sent_at,
					       d->ack_delay);
			if (r->state == SK__REC_LOST)
				sk__spurious(s, r, r->pn);
		} else if (r->has_prev && sk__acked(d, r->prev_pn)) {
			/* The transmission before the one in flight. */
			sk__spurious(s, r, r->prev_pn);
		} else {
			continue;
		}
		if (r->state == SK__REC_LOST)
			s->lost--;
		else
			s->inflight--;
		r->state = SK__REC_FREE;
		sl = &s->slot[r->slot];
		sl->recs--;
		if (sl->state == SK_RMSG_DONE)
			sl->touched = now;
		newly++;
	}
	if (!s->acked_any || largest > s->largest_acked) {
		s->largest_acked = largest;
		s->acked_any = 1;
	}
	if (newly > 0)
		s->rto_count = 0;
	sk__detect_lost(s, now);
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		sk__maybe_delivered(s, i);
}

/* A repeat of a request the table holds. */
static void sk__on_repeat(struct sk_rmsg_srv *s, uint64_t now, unsigned i)
{
	struct sk_rmsg_slot *sl = &s->slot[i];

	s->stats.repeats++;
	if (sl->state == SK_RMSG_DONE)
		sl->touched = now;
	if (sl->recs > 0) {
		/* Output is on its way. The client heard nothing for a
		 * while: resend the oldest at once, at most once an RTT
		 * (the network may repeat the REQUEST itself many times). */
		sk__unstall(s);
		if (s->lost == 0 && now >= s->last_sent + s->srtt)
			sk__probe(s, 1);
	} else if (sl->state == SK_RMSG_RUNNING) {
		sk__queue(s, SK_RMSG_IN_PROGRESS, sl->id, 0);
	}
	/* Else it is done and part of it was never sent: it goes now. */
}

static void sk__on_request(struct sk_rmsg_srv *s, uint64_t now,
			   const struct sk_rmsg_dgram *d,
			   struct sk_rmsg_srv_event *ev)
{
	int i = sk__find(s, d->id);
	int fresh;

	if (i >= 0) {
		sk__on_repeat(s, now, (unsigned)i);
		return;
	}
	fresh = sk__replay_check(s, d->id);
	if (fresh < 0) {
		s->stats.repeats++;
		sk__queue(s, SK_RMSG_ERROR, d->id, SK_RMSG_CODE_REPLAY);
		return;
	}
	if (fresh == 0) {
		s->stats.repeats++;
		sk__queue(s, SK_RMSG_ERROR, d->id, SK_RMSG_CODE_EXPIRED);
		return;
	}
	i = sk__slot_take(s);
	if (i < 0) {
		/* Not marked as seen: it did not run, and may come again. */
		sk__queue(s, SK_RMSG_ERROR, d->id, SK_RMSG_CODE_TOO_MANY);
		return;
	}
	sk__replay_mark(s, d->id);
	s->slot[i].id = d->id;
	s->slot[i].state = SK_RMSG_RUNNING;
	s->slot[i].last = SIZE_MAX;
	s->slot[i].touched = now;
	ev->kind = SK_RMSG_SRV_EXEC;
	ev->id = d->id;
	(void)sk__exec_frame(d->data, d->len, &ev->frame);
}

int sk_rmsg_srv_input(struct sk_rmsg_srv *s, uint64_t now, const uint8_t *buf,
		      size_t len, struct sk_rmsg_srv_event *ev)
{
	struct sk_rmsg_dgram d;
	int rc = sk_rmsg_decode(buf, len, &d);

	memset(ev, 0, sizeof(*ev));
	if (rc == 0 && !sk_rmsg_from_client(d.type))
		rc = SK_RMSG_E_TYPE;
	if (rc == 0 && d.type == SK_RMSG_ACK && d.ranges[0].hi >= s->next_pn)
		rc = SK_RMSG_E_ACK;
	if (rc < 0) {
		s->stats.dropped++;
		return rc;
	}
	switch (d.type) {
	case SK_RMSG_REQUEST:
		sk__on_request(s, now, &d, ev);
		break;
	case SK_RMSG_ACK:
		sk__on_ack(s, now, &d);
		break;
	default: { /* CANCEL */
		int i = sk__find(s, d.id);

		if (i < 0)
			break;
		if (s->slot[i].state == SK_RMSG_RUNNING) {
			ev->kind = SK_RMSG_SRV_CANCEL;
			ev->id = d.id;
		}
		sk__slot_free(s, (unsigned)i);
		break;
	}
	}
	/* The client is there: a session that stopped sending starts
	 * again, with a probe. */
	if (sk__stalled(s)) {
		sk__unstall(s);
		if (s->lost == 0)
			sk__probe(s, 1);
	}
	return 0;
}

/* ---- the server: the service's side -------------------------------- */

/* The running request id, with its stream still open. */
static struct sk_rmsg_slot *sk__open(struct sk_rmsg_srv *s, uint64_t id)
{
	int i = sk__find(s, id);

	if (i < 0 || s->slot[i].state != SK_RMSG_RUNNING)
		return NULL;
	return &s->slot[i];
}

/* Room in buf for `need` bytes in all, within the output's share of the
 * cap; 0 or -1 (no memory, or past the share). */
static int sk__reserve(struct sk_rmsg_srv *s, struct sk_rmsg_slot *sl,
		       size_t need)
{
	size_t limit = s->cap - SK_RMSG_TAIL_MAX, n;
	void *p;

	if (need > limit)
		return -1;
	if (need <= sl->alloc)
		return 0;
	if (s->mem.realloc == NULL)
		return -1;
	n = sl->alloc < 4096 ? 4096 : sl->alloc * 2;
	if (n < need)
		n = need;
	if (n > limit)
		n = limit;
	p = s->mem.realloc(s->mem.ctx, sl->buf, n);
	if (p == NULL)
		return -1;
	sl->buf = p;
	sl->alloc = n;
	return 0;
}

/* End the stream with the final frame already in tail. */
static void sk__finish(struct sk_rmsg_slot *sl, uint64_t now)
{
	sl->state = SK_RMSG_DONE;
	sl->touched = now;
	sl->last = SIZE_MAX;
}

/* The cap (or memory) is reached: end with ERROR TRUNCATED. */
static int sk__cut(struct sk_rmsg_slot *sl, uint64_t now)
{
	static const char why[] = "output over the cap";
	int n = sk_frame_error_encode(sl->tail, sizeof(sl->tail),
				      SK_RMSG_STREAM, SK_FRAME_CODE_TRUNCATED,
				      why, sizeof(why) - 1);

	sl->tail_len = n > 0 ? (size_t)n : 0;
	sl->truncated = 1;
	sk__finish(sl, now);
	return SK_RMSG_CUT;
}

int sk_rmsg_srv_started(struct sk_rmsg_srv *s, uint64_t now, uint64_t id)
{
	struct sk_rmsg_slot *sl = sk__open(s, id);

	if (sl == NULL)
		return SK_RMSG_E_NOENT;
	if (sl->started)
		return SK_RMSG_E_STATE;
	if (sk__reserve(s, sl, sl->len + SK_FRAME_HEADER) < 0)
		return sk__cut(sl, now);
	sk_frame_header(sl->buf + sl->len, SK_FRAME_HEADER, SK_FRAME_EXEC_OK, 0,
			SK_RMSG_STREAM, 0);
	sl->len += SK_FRAME_HEADER;
	sl->started = 1;
	return 0;
}

int sk_rmsg_srv_output(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		       unsigned type, const void *p, size_t n)
{
	struct sk_rmsg_slot *sl = sk__open(s, id);
	const uint8_t *b = p;
	size_t limit = s->cap - SK_RMSG_TAIL_MAX;

	if (sl == NULL)
		return SK_RMSG_E_NOENT;
	if (!sl->started)
		return SK_RMSG_E_STATE;
	if ((type != SK_FRAME_STDOUT && type != SK_FRAME_STDERR) || n == 0 ||
	    p == NULL)
		return SK_RMSG_E_VALUE;
	while (n > 0) {
		size_t k, plen = 0;
		int join = sl->last != SIZE_MAX && sl->last >= sl->sent &&
			   sl->last_type == type;

		if (join) {
			plen = sk_be_get16(sl->buf + sl->last + 2);
			join = plen < SK_FRAME_MAX_PAYLOAD;
		}
		if (join) {
			/* Join the last frame: none of it has gone out. */
			k = SK_FRAME_MAX_PAYLOAD - plen;
			if (k > n)
				k = n;
			if (k > limit - sl->len)
				k = limit - sl->len;
			if (k == 0 || sk__reserve(s, sl, sl->len + k) < 0)
				return sk__cut(sl, now);
			memcpy(sl->buf + sl->len, b, k);
			sk_be_put16(sl->buf + sl->last + 2, (uint32_t)(plen + k));
		} else {
			if (limit - sl->len < SK_FRAME_HEADER + 1)
				return sk__cut(sl, now);
			k = n < SK_FRAME_MAX_PAYLOAD ? n : SK_FRAME_MAX_PAYLOAD;
			if (k > limit - sl->len - SK_FRAME_HEADER)
				k = limit - sl->len - SK_FRAME_HEADER;
			if (sk__reserve(s, sl, sl->len + SK_FRAME_HEADER + k) <
			    0)
				return sk__cut(sl, now);
			sk_frame_header(sl->buf + sl->len, SK_FRAME_HEADER,
					type, 0, SK_RMSG_STREAM, k);
			sl->last = sl->len;
			sl->last_type = (uint8_t)type;
			sl->len += SK_FRAME_HEADER;
			memcpy(sl->buf + sl->len, b, k);
		}
		sl->len += k;
		b += k;
		n -= k;
	}
	return 0;
}

int sk_rmsg_srv_exit(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		     const struct sk_frame_exit *x)
{
	struct sk_rmsg_slot *sl = sk__open(s, id);
	int n;

	if (sl == NULL)
		return SK_RMSG_E_NOENT;
	if (!sl->started)
		return SK_RMSG_E_STATE;
	n = sk_frame_exit_encode(sl->tail, sizeof(sl->tail), SK_RMSG_STREAM, x);
	if (n < 0)
		return SK_RMSG_E_VALUE;
	sl->tail_len = (size_t)n;
	sk__finish(sl, now);
	return 0;
}

int sk_rmsg_srv_error(struct sk_rmsg_srv *s, uint64_t now, uint64_t id,
		      unsigned code, const char *text, size_t len)
{
	struct sk_rmsg_slot *sl = sk__open(s, id);
	int n;

	if (sl == NULL)
		return SK_RMSG_E_NOENT;
	n = sk_frame_error_encode(sl->tail, sizeof(sl->tail), SK_RMSG_STREAM,
				  code, text, len);
	if (n < 0)
		return SK_RMSG_E_VALUE;
	sl->tail_len = (size_t)n;
	sk__finish(sl, now);
	return 0;
}

/* ---- the server: what to send -------------------------------------- */

/* The lowest stream byte of request i the client may still lack: the
 * client buffers SK_RMSG_RECV_WINDOW bytes from there. */
static uint32_t sk__lowest(const struct sk_rmsg_srv *s, unsigned i)
{
	uint32_t lo = s->slot[i].sent;

	for (unsigned k = 0; k < SK_RMSG_WINDOW; k++)
		if (s->rec[k].state != SK__REC_FREE && s->rec[k].slot == i &&
		    s->rec[k].off < lo)
			lo = s->rec[k].off;
	return lo;
}

/* How many new bytes of request i may go now (0: none). */
static size_t sk__new_bytes(const struct sk_rmsg_srv *s, unsigned i)
{
	const struct sk_rmsg_slot *sl = &s->slot[i];
	uint64_t limit, n;

	if (sl->state == SK_RMSG_FREE || sl->sent >= sk__end(sl))
		return 0;
	limit = (uint64_t)sk__lowest(s, i) + SK_RMSG_RECV_WINDOW;
	if (sl->sent >= limit)
		return 0;
	n = sk__min64(sk__end(sl) - sl->sent, limit - sl->sent);
	return (size_t)sk__min64(n, SK_RMSG_MAX_DATA);
}

/* The request whose new output goes next (round robin), or -1. */
static int sk__next_slot(const struct sk_rmsg_srv *s)
{
	if (s->lost > 0 || s->inflight >= SK_RMSG_WINDOW)
		return -1;
	for (unsigned j = 0; j < SK_RMSG_SLOTS; j++) {
		unsigned i = (s->rr + j) % SK_RMSG_SLOTS;

		if (sk__new_bytes(s, i) > 0)
			return (int)i;
	}
	return -1;
}

/* The pacer: a window per smoothed RTT, at 5/4 of that rate, in bursts
 * of SK_RMSG_PACE_BURST. Returns the time the next datagram may go. */
static uint64_t sk__interval(const struct sk_rmsg_srv *s)
{
	return s->srtt * 4 / (5 * SK_RMSG_WINDOW);
}

/* The burst the pacer allows, in us: SK_RMSG_PACE_BURST datagrams, or
 * what the rate allows in a timer's granularity if that is more (a
 * caller's timer cannot wait less, so a shorter wait would stall the
 * sender for a whole tick each time on a fast path). */
static uint64_t sk__tolerance(const struct sk_rmsg_srv *s)
{
	uint64_t tol = (SK_RMSG_PACE_BURST - 1) * sk__interval(s);

	return tol < SK_RMSG_GRANULARITY_US ? SK_RMSG_GRANULARITY_US : tol;
}

static uint64_t sk__pace_at(const struct sk_rmsg_srv *s, uint64_t now)
{
	uint64_t tol = sk__tolerance(s);
	/* A debt run up at an older, slower rate (before the first RTT
	 * sample) is never more than one burst at today's. */
	uint64_t tat = sk__min64(s->pace_tat, now + tol + sk__interval(s));

	return tat > tol ? tat - tol : 0;
}

static int sk__send_data(struct sk_rmsg_srv *s, uint64_t now,
			 struct sk_rmsg_sent *r, uint8_t *out, size_t cap)
{
	const struct sk_rmsg_slot *sl = &s->slot[r->slot];
	struct sk_rmsg_dgram d;
	uint8_t *p = out + SK_RMSG_DATA_FIXED;
	uint32_t off = r->off;
	size_t n = r->len;
	int rc;

	/* The bytes first, straight into the datagram, from the stream's
	 * two parts (the frames in buf, then the final frame). */
	if (cap < SK_RMSG_DATA_FIXED + n)
		return SK_RMSG_E_SPACE;
	if (off < sl->len) {
		size_t k = sl->len - off < n ? sl->len - off : n;

		memcpy(p, sl->buf + off, k);
		p += k;
		off += (uint32_t)k;
		n -= k;
	}
	if (n > 0)
		memcpy(p, sl->tail + (off - sl->len), n);
	memset(&d, 0, sizeof(d));
	d.type = SK_RMSG_DATA;
	d.flags = r->fin ? SK_RMSG_F_FIN : 0;
	if (r->fin && sl->truncated)
		d.flags |= SK_RMSG_F_TRUNCATED;
	d.pn = s->next_pn++;
	d.id = sl->id;
	d.offset = r->off;
	d.data = out + SK_RMSG_DATA_FIXED;
	d.len = r->len;
	rc = sk_rmsg_encode(out, cap, &d);
	r->pn = d.pn;
	r->sent_at = now;
	r->state = SK__REC_INFLIGHT;
	s->inflight++;
	s->last_sent = now;
	s->pace_tat = sk__min64(s->pace_tat > now ? s->pace_tat : now,
				now + sk__tolerance(s) + sk__interval(s)) +
		      sk__interval(s);
	s->stats.data++;
	return rc;
}

int sk_rmsg_srv_poll(struct sk_rmsg_srv *s, uint64_t now, uint8_t *out,
		     size_t cap)
{
	struct sk_rmsg_sent *r = NULL;
	int i;

	if (cap < SK_RMSG_MAX_DGRAM)
		return SK_RMSG_E_SPACE;
	sk__timers(s, now);
	if (s->nctl == 0 && (sk__stalled(s) || now < sk__pace_at(s, now) ||
			     (s->lost == 0 && sk__next_slot(s) < 0)))
		return 0;
	if (s->next_pn == UINT32_MAX)
		return SK_RMSG_E_EXHAUSTED;
	if (s->nctl > 0) {
		struct sk_rmsg_dgram d;

		memset(&d, 0, sizeof(d));
		d.type = s->ctl[0].type;
		d.code = s->ctl[0].code;
		d.id = s->ctl[0].id;
		d.pn = s->next_pn++;
		memmove(&s->ctl[0], &s->ctl[1], --s->nctl * sizeof(s->ctl[0]));
		return sk_rmsg_encode(out, cap, &d);
	}
	if (s->lost > 0) {
		/* Resends first, the earliest lost first. */
		for (unsigned k = 0; k < SK_RMSG_WINDOW; k++)
			if (s->rec[k].state == SK__REC_LOST &&
			    (r == NULL || s->rec[k].pn < r->pn))
				r = &s->rec[k];
		if (r == NULL)
			return SK_RMSG_E_STATE; /* the books disagree: a bug */
		s->lost--;
		r->prev_pn = r->pn;
		r->has_prev = 1;
		s->stats.resent++;
		return sk__send_data(s, now, r, out, cap);
	}
	i = sk__next_slot(s);
	for (unsigned k = 0; k < SK_RMSG_WINDOW && r == NULL; k++)
		if (s->rec[k].state == SK__REC_FREE)
			r = &s->rec[k];
	if (i < 0 || r == NULL)
		return SK_RMSG_E_STATE; /* the books disagree: a bug */
	{
		struct sk_rmsg_slot *sl = &s->slot[i];
		size_t n = sk__new_bytes(s, (unsigned)i);

		memset(r, 0, sizeof(*r));
		r->slot = (uint8_t)i;
		r->off = sl->sent;
		r->len = (uint32_t)n;
		sl->sent += (uint32_t)n;
		r->fin = sl->state == SK_RMSG_DONE && sl->sent == sk__end(sl);
		sl->recs++;
		s->rr = ((unsigned)i + 1) % SK_RMSG_SLOTS;
	}
	return sk__send_data(s, now, r, out, cap);
}

uint64_t sk_rmsg_srv_next_timeout(const struct sk_rmsg_srv *s, uint64_t now)
{
	uint64_t t = UINT64_MAX;

	if (s->nctl > 0)
		return now;
	for (unsigned i = 0; i < SK_RMSG_SLOTS; i++)
		if (s->slot[i].state == SK_RMSG_DONE)
			t = sk__min64(t, s->slot[i].touched + s->ttl);
	if (s->acked_any) {
		uint64_t delay = sk__loss_delay(s);

		for (unsigned k = 0; k < SK_RMSG_WINDOW; k++)
			if (s->rec[k].state == SK__REC_INFLIGHT &&
			    s->rec[k].pn < s->largest_acked)
				t = sk__min64(t, s->rec[k].sent_at + delay);
	}
	if (sk__stalled(s))
		return t;
	if (s->inflight > 0)
		t = sk__min64(t, s->last_sent + sk_rmsg_srv_rto(s));
	if (s->lost > 0 || sk__next_slot(s) >= 0)
		t = sk__min64(t, sk__pace_at(s, now));
	return t;
}

/* ---- the client ---------------------------------------------------- */

void sk_rmsg_client_init(struct sk_rmsg_client *c,
			 const struct sk_rmsg_client_cfg *cfg)
{
	memset(c, 0, sizeof(*c));
	c->attempts = SK_RMSG_ATTEMPTS;
	c->retry_us = SK_RMSG_RETRY_US;
	if (cfg != NULL && cfg->attempts != 0)
		c->attempts = cfg->attempts < SK_RMSG_ATTEMPTS_MAX
				      ? cfg->attempts
				      : SK_RMSG_ATTEMPTS_MAX;
	if (cfg != NULL && cfg->retry_us != 0)
		c->retry_us = cfg->retry_us;
	c->ack_at = UINT64_MAX;
	c->retry_at = UINT64_MAX;
	c->final = UINT32_MAX;
}

static int sk__live(const struct sk_rmsg_client *c)
{
	return c->status == SK_RMSG_WAITING || c->status == SK_RMSG_RECEIVING;
}

int sk_rmsg_client_start(struct sk_rmsg_client *c, uint64_t now, uint64_t id,
			 const uint8_t *exec, size_t len)
{
	struct sk_frame f;

	if (sk__live(c))
		return SK_RMSG_E_STATE;
	if (id == 0 || id <= c->id)
		return SK_RMSG_E_VALUE;
	if (len > SK_RMSG_MAX_EXEC)
		return SK_RMSG_E_TOOBIG;
	if (exec == NULL || sk__exec_frame(exec, len, &f) != 0)
		return SK_RMSG_E_FRAME;
	memcpy(c->exec, exec, len);
	c->exec_len = len;
	c->id = id;
	c->status = SK_RMSG_WAITING;
	c->tries = 0;
	c->retry_at = now;
	c->wait = c->retry_us;
	/* A path answered before: a lost REQUEST costs a few round trips,
	 * not the default wait for a path we know nothing of. */
	if (c->rtt != 0)
		c->wait = sk__max64(SK_RMSG_RTO_MIN_US,
				    sk__min64(SK_RMSG_RTT_MULT * c->rtt,
					      c->retry_us));
	c->cancel = 0;
	c->code = 0;
	c->truncated = 0;
	c->read = c->have = c->top = 0;
	c->final = UINT32_MAX;
	memset(c->got, 0, sizeof(c->got));
	return 0;
}

void sk_rmsg_client_cancel(struct sk_rmsg_client *c)
{
	if (!sk__live(c))
		return;
	c->status = SK_RMSG_CANCELLED;
	c->cancel = 1;
}

/* The server answered: the attempts start again, and a repeat goes out
 * only after SK_RMSG_POLL_US of silence. */
static void sk__heard(struct sk_rmsg_client *c, uint64_t now)
{
	/* The answer to a REQUEST sent once times the path: only then is it
	 * known which transmission it answers. */
	if (c->status == SK_RMSG_WAITING && c->tries == 1 && now >= c->sent_at &&
	    (c->rtt == 0 || now - c->sent_at < c->rtt))
		c->rtt = now - c->sent_at > 0 ? now - c->sent_at : 1;
	c->status = SK_RMSG_RECEIVING;
	c->tries = 0;
	c->wait = SK_RMSG_POLL_US;
	c->retry_at = now + SK_RMSG_POLL_US;
}

/* Note the server's packet number pn: 1 new, 0 had, -1 older than every
 * range we keep, and a new range would not fit (not noted). */
static int sk__recv_add(struct sk_rmsg_client *c, uint32_t pn)
{
	struct sk_rmsg_range *r = c->recv;
	size_t i;

	for (i = 0; i < c->nrecv && r[i].lo > pn; i++)
		;
	if (i < c->nrecv && pn >= r[i].lo && pn <= r[i].hi)
		return 0;
	/* r[i - 1] lies above pn, r[i] below. */
	if (i > 0 && r[i - 1].lo == pn + 1) {
		r[i - 1].lo = pn;
		if (i < c->nrecv && r[i].hi + 1 == pn) {
			r[i - 1].lo = r[i].lo;
			memmove(&r[i], &r[i + 1],
				(c->nrecv - i - 1) * sizeof(*r));
			c->nrecv--;
		}
		return 1;
	}
	if (i < c->nrecv && r[i].hi + 1 == pn) {
		r[i].hi = pn;
		return 1;
	}
	if (c->nrecv == SK_RMSG_ACK_RANGES) {
		if (i == c->nrecv)
			return -1;
		c->nrecv--; /* the oldest range is forgotten */
	}
	memmove(&r[i + 1], &r[i], (c->nrecv - i) * sizeof(*r));
	r[i].lo = r[i].hi = pn;
	c->nrecv++;
	return 1;
}

#define SK__BIT(c, pos) ((c)->got[(pos) / 8] >> ((pos) % 8) & 1)

/* Keep DATA bytes [off, off + n) of the current stream. Returns 1 if
 * any was new, 0 if all were had, -1 if they reach past the receive
 * window (nothing kept). */
static int sk__store(struct sk_rmsg_client *c, uint32_t off,
		     const uint8_t *p, size_t n)
{
	int fresh = 0;

	if ((uint64_t)off + n > (uint64_t)c->read + SK_RMSG_RECV_WINDOW)
		return -1;
	for (uint32_t i = off < c->have ? c->have : off; i < off + n; i++) {
		uint32_t pos = i % SK_RMSG_RECV_WINDOW;

		if (SK__BIT(c, pos))
			continue;
		c->ring[pos] = p[i - off];
		c->got[pos / 8] |= (uint8_t)(1u << (pos % 8));
		fresh = 1;
	}
	while (c->have - c->read < SK_RMSG_RECV_WINDOW &&
	       SK__BIT(c, c->have % SK_RMSG_RECV_WINDOW))
		c->have++;
	if (off + n > c->top)
		c->top = (uint32_t)(off + n);
	return fresh;
}

/* DATA for the current request. Returns 0 (event set), 1 (taken, not to
 * be acknowledged: past the window), or a negative error (malformed
 * against what came before: dropped). */
static int sk__on_data(struct sk_rmsg_client *c, uint64_t now,
		       const struct sk_rmsg_dgram *d,
		       enum sk_rmsg_client_ev *ev, int *urgent)
{
	uint32_t end = d->offset + (uint32_t)d->len;
	uint32_t before = c->have;
	int fin = (d->flags & SK_RMSG_F_FIN) != 0;
	int rc;

	/* A stream has one end: data past it, or another end, is a lie. */
	if (c->final != UINT32_MAX &&
	    (end > c->final || (fin && end != c->final)))
		return SK_RMSG_E_VALUE;
	if (fin && c->final == UINT32_MAX && c->top > end)
		return SK_RMSG_E_VALUE;
	rc = sk__store(c, d->offset, d->data, d->len);
	if (rc < 0)
		return 1;
	if (rc == 0)
		*urgent = 1; /* a resend of what we have: our ACK was lost */
	sk__heard(c, now);
	if (fin) {
		c->final = end;
		c->truncated = (d->flags & SK_RMSG_F_TRUNCATED) != 0;
	}
	if (c->have == c->final) {
		c->status = SK_RMSG_COMPLETE;
		c->retry_at = UINT64_MAX;
		*ev = SK_RMSG_CLI_COMPLETE;
		*urgent = 1;
	} else if (c->have > before) {
		*ev = SK_RMSG_CLI_DATA;
	}
	return 0;
}

int sk_rmsg_client_input(struct sk_rmsg_client *c, uint64_t now,
			 const uint8_t *buf, size_t len,
			 enum sk_rmsg_client_ev *ev)
{
	struct sk_rmsg_dgram d;
	int rc = sk_rmsg_decode(buf, len, &d);
	int urgent = 0, added, first = c->nrecv == 0;
	uint32_t largest = first ? 0 : c->recv[0].hi;

	*ev = SK_RMSG_CLI_NONE;
	if (rc < 0)
		return rc;
	if (sk_rmsg_from_client(d.type))
		return SK_RMSG_E_TYPE;
	if (d.type != SK_RMSG_DATA) {
		if (d.id != c->id || !sk__live(c))
			return 0;
		if (d.type == SK_RMSG_IN_PROGRESS) {
			sk__heard(c, now);
			*ev = SK_RMSG_CLI_PROGRESS;
		} else {
			c->status = SK_RMSG_REFUSED;
			c->code = d.code;
			c->retry_at = UINT64_MAX;
			*ev = SK_RMSG_CLI_REFUSED;
		}
		return 0;
	}
	if (d.id == c->id && sk__live(c)) {
		rc = sk__on_data(c, now, &d, ev, &urgent);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return 0; /* past the window: not acknowledged */
	} else {
		urgent = 1; /* another request's, or ours, finished: stop it */
	}
	added = sk__recv_add(c, d.pn);
	if (added < 0)
		return 0;
	if (added == 0)
		return 0; /* the network repeated it: no new ACK for that */
	if (first || d.pn != largest + 1)
		urgent = 1; /* the first, out of order, or after a gap */
	if (d.pn == c->recv[0].hi)
		c->largest_at = now;
	if (++c->unacked >= 2 || urgent)
		c->ack_now = 1;
	else if (c->ack_at == UINT64_MAX)
		c->ack_at = now + SK_RMSG_ACK_DELAY_US;
	return 0;
}

size_t sk_rmsg_client_read(struct sk_rmsg_client *c, uint8_t *out, size_t cap)
{
	size_t n = c->have - c->read, done = 0;

	if (n > cap)
		n = cap;
	while (done < n) {
		uint32_t pos = c->read % SK_RMSG_RECV_WINDOW;
		size_t k = SK_RMSG_RECV_WINDOW - pos;

		if (k > n - done)
			k = n - done;
		memcpy(out + done, c->ring + pos, k);
		for (size_t i = pos; i < pos + k; i++)
			c->got[i / 8] &= (uint8_t)~(1u << (i % 8));
		c->read += (uint32_t)k;
		done += k;
	}
	return n;
}

int sk_rmsg_client_poll(struct sk_rmsg_client *c, uint64_t now, uint8_t *out,
			size_t cap)
{
	struct sk_rmsg_dgram d;

	if (cap < SK_RMSG_MAX_DGRAM)
		return SK_RMSG_E_SPACE;
	memset(&d, 0, sizeof(d));
	if (c->cancel) {
		d.type = SK_RMSG_CANCEL;
		d.id = c->id;
		c->cancel = 0;
	} else if (c->nrecv > 0 && (c->ack_now || now >= c->ack_at)) {
		d.type = SK_RMSG_ACK;
		d.ack_delay = now < c->largest_at ? 0
			      : (uint32_t)sk__min64(now - c->largest_at,
						    UINT16_MAX);
		d.nranges = c->nrecv;
		memcpy(d.ranges, c->recv, c->nrecv * sizeof(c->recv[0]));
		c->ack_now = 0;
		c->ack_at = UINT64_MAX;
		c->unacked = 0;
	} else if (sk__live(c) && now >= c->retry_at) {
		if (c->tries >= c->attempts) {
			c->status = SK_RMSG_NO_REPLY;
			c->retry_at = UINT64_MAX;
			return 0;
		}
		d.type = SK_RMSG_REQUEST;
		d.id = c->id;
		d.data = c->exec;
		d.len = c->exec_len;
		if (c->tries == 0)
			c->sent_at = now;
		c->tries++;
		c->retry_at = now + c->wait;
		c->wait = sk__min64(c->wait * 2, SK_RMSG_RETRY_MAX_US);
	} else {
		return 0;
	}
	if (c->next_pn == UINT32_MAX)
		return SK_RMSG_E_EXHAUSTED;
	d.pn = c->next_pn++;
	return sk_rmsg_encode(out, cap, &d);
}

uint64_t sk_rmsg_client_next_timeout(const struct sk_rmsg_client *c,
				     uint64_t now)
{
	uint64_t t = UINT64_MAX;

	if (c->cancel || (c->nrecv > 0 && c->ack_now))
		return now;
	if (c->nrecv > 0)
		t = c->ack_at;
	if (sk__live(c))
		t = sk__min64(t, c->retry_at);
	return t;
}
