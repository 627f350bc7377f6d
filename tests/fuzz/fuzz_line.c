/*
 * fuzz_line.c: libFuzzer target for src/proto/line.c.
 *
 * The first two input bytes seed the chunking; the rest is a TCP byte
 * stream, fed in chunks copied to buffers of exactly their size, and the
 * framer is driven as line.h says (again with the rest until PARTIAL).
 * Checks: PARTIAL uses all input, no call uses more than it got, lines
 * are at most SK_LINE_MAX bytes without LF, the whole stream is consumed,
 * and the events equal what a plain reference splitter expects from the
 * whole stream at once, so chunking never changes the outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"
#include "sk_limits.h"

/* One expected or seen event: a line (its bytes) or TOOLONG. */
struct ev {
	int rc;           /* SK_LINE_READY or SK_LINE_TOOLONG */
	const uint8_t *p; /* READY: the line in the whole stream */
	size_t len;       /* READY: its length */
	int crlf;         /* READY: ended in CRLF */
};

/* What the framer must report for the whole stream s[0..len). */
static size_t reference(const uint8_t *s, size_t len, struct ev *ev)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i < len; i++) {
		size_t l = i - start;
		int cr;

		if (s[i] != '\n')
			continue;
		cr = l > 0 && s[i - 1] == '\r';
		if (l - (size_t)cr > SK_LINE_MAX) {
			ev[n++] = (struct ev){ SK_LINE_TOOLONG, NULL, 0, 0 };
		} else {
			ev[n++] = (struct ev){ SK_LINE_READY, s + start,
					       l - (size_t)cr, cr };
		}
		start = i + 1;
	}
	/* An unfinished line is reported once it cannot fit any more. */
	if (len - start > SK_LINE_MAX + 1)
		ev[n++] = (struct ev){ SK_LINE_TOOLONG, NULL, 0, 0 };
	return n;
}

/* Compare one event of the framer with the expected one. */
static void check_event(const struct ev *want, int rc, const char *line,
			size_t ll, int crlf)
{
	if (rc != want->rc)
		abort();
	if (rc != SK_LINE_READY)
		return;
	if (ll > SK_LINE_MAX || (crlf != 0 && crlf != 1))
		abort();
	if (memchr(line, '\n', ll) != NULL)
		abort();
	if (want->len != ll || want->crlf != crlf ||
	    memcmp(want->p, line, ll) != 0)
		abort();
}

/* Feed one chunk, exactly as line.h says; returns the bytes used. */
static size_t feed(struct sk_line *lb, const char *in, size_t left,
		   const struct ev *want, size_t nwant, size_t *nseen)
{
	size_t total = 0;

	for (;;) {
		const char *line = NULL;
		size_t used = 0, ll = 0;
		int crlf = 0;
		int rc = sk_line_next(lb, in, left, &used, &line, &ll, &crlf);

		if (used > left)
			abort();
		total += used;
		if (rc == SK_LINE_PARTIAL) {
			/* "all input used" */
			if (used != left)
				abort();
			return total;
		}
		if (rc != SK_LINE_READY && rc != SK_LINE_TOOLONG)
			abort();
		if (used == 0 || *nseen >= nwant)
			abort();
		check_event(&want[*nseen], rc, line, ll, crlf);
		(*nseen)++;
		in += used;
		left -= used;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_line lb;
	struct ev *want;
	size_t nwant, nseen = 0, off = 0, total = 0;
	uint32_t rng;

	if (size < 2)
		return 0;
	rng = (uint32_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;

	want = malloc((size + 1) * sizeof(*want));
	if (want == NULL)
		abort();
	nwant = reference(data, size, want);
	sk_line_init(&lb);

	while (off < size) {
		size_t clen;
		char *chunk;

		/* Chunks of 1..600 bytes, mostly tiny, from a small LCG. */
		rng = rng * 1103515245u + 12345u;
		clen = (rng >> 16) % 8 == 0 ? 1 + (rng >> 8) % 600
					     : 1 + (rng >> 20) % 16;
		if (clen > size - off)
			clen = size - off;
		/* Exactly clen bytes, so ASan sees a read past the chunk. */
		chunk = malloc(clen);
		if (chunk == NULL)
			abort();
		memcpy(chunk, data + off, clen);
		total += feed(&lb, chunk, clen, want, nwant, &nseen);
		if (lb.len > SK_LINE_MAX + 1)
			abort();
		free(chunk);
		off += clen;
	}
	if (total != size || nseen != nwant)
		abort();
	free(want);
	return 0;
}
