/*
 * fuzz_exec_client.c: libFuzzer target for src/proto/exec_client.c.
 *
 * The input is what a server sends, fed to the client's state machine
 * as a reader would: whole frames one at a time until it needs more or
 * refuses. Between frames, the first input byte's bits stand for the
 * client's own moves (writing output out and granting it back, sending
 * STDIN within its room, RESET), so the books see every order.
 *
 * Checked: a frame taken is the header plus its payload and fits what
 * was left; the views of an event lie inside that frame; output comes
 * only on our stream, after EXEC_OK, and never beyond the credit (the
 * credit, what is held and what was written but not granted always add
 * up to the window); a refusal names a code to send, 1 to 14, and a
 * reason; nothing is taken after the stream ended but a refusal or a
 * frame on stream 0; the STDIN room never passes the credit or one
 * frame, and is 0 once stdin ended or the stream is not open; credit
 * never passes SK_EXEC_WINDOW_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec_client.h"
#include "frame.h"
#include "sk_limits.h"

static void inside(struct sk_frame_str s, const uint8_t *frame, size_t n)
{
	if (s.len == 0)
		return;
	if ((const uint8_t *)s.p < frame + SK_FRAME_HEADER ||
	    (const uint8_t *)s.p + s.len > frame + n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_exec_client c;
	struct sk_exec_event ev;
	uint64_t held = 0; /* output taken, not yet written out */
	unsigned moves;
	size_t off = 1;

	if (size < 1)
		return 0;
	moves = data[0];
	sk_exec_client_init(&c, 1);
	while (off < size) {
		int ended = c.state == SK_EXEC_ENDED || c.state == SK_EXEC_RESET;
		size_t room = sk_exec_client_stdin_room(&c);
		int n = sk_exec_client_input(&c, data + off, size - off, &ev);

		if (n == 0)
			break;
		if (n < 0) {
			if (ev.code < 1 || ev.code > 14 || ev.what[0] == '\0')
				abort();
			break;
		}
		if ((size_t)n > size - off || (size_t)n < SK_FRAME_HEADER ||
		    (size_t)n > SK_FRAME_MAX)
			abort();
		switch (ev.kind) {
		case SK_EXEC_EV_STDOUT:
		case SK_EXEC_EV_STDERR:
			if (ended || c.state != SK_EXEC_RUNNING ||
			    ev.data.len == 0)
				abort();
			inside(ev.data, data + off, (size_t)n);
			held += ev.data.len;
			break;
		case SK_EXEC_EV_REFUSED:
		case SK_EXEC_EV_ENDED:
		case SK_EXEC_EV_CONN_ERROR:
			inside(ev.data, data + off, (size_t)n);
			if (ev.kind != SK_EXEC_EV_CONN_ERROR &&
			    c.state != SK_EXEC_ENDED)
				abort();
			break;
		case SK_EXEC_EV_EXIT:
			if (c.state != SK_EXEC_ENDED)
				abort();
			if (ev.exit.signaled)
				inside(ev.exit.signal, data + off, (size_t)n);
			break;
		case SK_EXEC_EV_STARTED:
			if (c.state != SK_EXEC_RUNNING)
				abort();
			break;
		default:
			break;
		}
		if (ended && c.state != SK_EXEC_RESET &&
		    ev.kind != SK_EXEC_EV_CONN_ERROR)
			abort(); /* only stream 0 after the end */
		/* Credit, output held, output written but not granted:
		 * always the window (grown by the first grant), as nothing
		 * else moves bytes. */
		if ((uint64_t)c.out_credit + held + c.out_written !=
		    (c.grown ? SK_EXEC_CLIENT_WINDOW : SK_EXEC_WINDOW))
			abort();
		if (c.in_credit > SK_EXEC_WINDOW_MAX || room > c.in_credit ||
		    room > SK_FRAME_MAX_PAYLOAD)
			abort();
		off += (size_t)n;
		/* Our own moves, by the bits of the first byte. */
		if ((moves & 1) && held > 0) {
			size_t w = held > 20000 ? 20000 : (size_t)held;

			sk_exec_client_written(&c, w);
			held -= w;
		}
		if (moves & 2)
			(void)sk_exec_client_grant(&c);
		if ((moves & 4) && room > 0)
			sk_exec_client_stdin_sent(&c, room, (moves & 8) != 0);
		if ((moves & 0x80) && off * 2 > size)
			sk_exec_client_reset(&c);
		moves = moves >> 1 | (moves & 1) << 7;
		if (c.stdin_ended && sk_exec_client_stdin_room(&c) != 0)
			abort();
		if (!sk_exec_client_open(&c) &&
		    sk_exec_client_stdin_room(&c) != 0)
			abort();
	}
	return 0;
}
