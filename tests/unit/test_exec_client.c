/*
 * test_exec_client.c: unit tests for src/proto/exec_client.c, the exec
 * client's state machine and credit books.
 *
 * Covers: the server's HELLO first (a frame before it, another version,
 * an ERROR instead of it) and only once; every prefix of a frame is
 * "need more"; the stream's order (EXEC_OK once, output and EXIT only
 * after it, nothing after EXIT or ERROR) and its ERRORs before and after
 * EXEC_OK; frames on a stream never opened, from the wrong side, of an
 * unknown type, or announcing too much; output credit exactly at the
 * window and one byte over it (FLOW), grants only from a quarter of the
 * window and then of everything written, so that the server's credit is
 * whole again; STDIN room bounded by the credit and the frame size,
 * WINDOW_UPDATE from the server adding to it and refused past 2^31-1;
 * after RESET, everything on the stream ignored; the next command on the
 * same connection keeps the HELLO, starts fresh books, ignores what
 * crosses a RESET of an earlier stream and refuses frames on an earlier
 * stream that ended. Each input ends right
 * before a guard page (frames over a page use a guarded mapping of their
 * own).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec_client.h"
#include "frame.h"
#include "guard.h"
#include "sk_limits.h"

/* ---- guarded input of up to SK_FRAME_MAX bytes ----------------------- */

static unsigned char *big;   /* pages of data, then a guard page */
static size_t big_size;      /* the data pages' size */

static const uint8_t *place(const void *p, size_t n)
{
	uint8_t *dst;

	if (n <= 4096)
		return sk_guard_place(p, n);
	if (big == NULL) {
		size_t ps = (size_t)sysconf(_SC_PAGESIZE);
		void *m;

		big_size = (SK_FRAME_MAX + ps - 1) / ps * ps;
		m = mmap(NULL, big_size + ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(m != MAP_FAILED);
		big = m;
		assert_int_equal(mprotect(big + big_size, ps, PROT_NONE), 0);
	}
	assert_true(n <= big_size);
	dst = big + big_size - n;
	memcpy(dst, p, n);
	return dst;
}

/* ---- frames from the server, through the codec ---------------------- */

static uint8_t fb[SK_FRAME_MAX + 16]; /* the last frame built */

static size_t f_hello(unsigned version)
{
	int n = sk_frame_hello_encode(fb, sizeof(fb), version);

	assert_true(n > 0);
	return (size_t)n;
}

static size_t f_data(unsigned type, uint32_t stream, size_t len, int fill)
{
	static uint8_t payload[SK_FRAME_MAX_PAYLOAD];
	int n;

	memset(payload, fill, len);
	n = sk_frame_encode(fb, sizeof(fb), type, 0, stream, payload, len);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t f_error(uint32_t stream, unsigned code, const char *text)
{
	int n = sk_frame_error_encode(fb, sizeof(fb), stream, code, text,
				      strlen(text));

	assert_true(n > 0);
	return (size_t)n;
}

static size_t f_window(uint32_t stream, uint32_t inc)
{
	int n = sk_frame_window_encode(fb, sizeof(fb), stream, inc);

	assert_true(n > 0);
	return (size_t)n;
}

static size_t f_exit(uint32_t stream, unsigned status, const char *sig,
		     int core)
{
	struct sk_frame_exit x;
	int n;

	memset(&x, 0, sizeof(x));
	x.signaled = sig != NULL;
	x.status = status;
	x.core = core;
	if (sig != NULL) {
		x.signal.p = sig;
		x.signal.len = strlen(sig);
	}
	n = sk_frame_exit_encode(fb, sizeof(fb), stream, &x);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t f_empty(unsigned type, unsigned flags, uint32_t stream)
{
	int n = sk_frame_header(fb, sizeof(fb), type, flags, stream, 0);

	assert_int_equal(n, SK_FRAME_HEADER);
	return SK_FRAME_HEADER;
}

static struct sk_exec_client xc;
static struct sk_exec_event ev;

/* Feed the frame in fb (n bytes); returns what the machine returned. */
static int feed(size_t n)
{
	return sk_exec_client_input(&xc, place(fb, n), n, &ev);
}

/* Feed and expect the whole frame taken, with event kind k. */
static void ok(size_t n, enum sk_exec_ev k)
{
	assert_int_equal(feed(n), (int)n);
	assert_int_equal(ev.kind, k);
}

/* Feed and expect a protocol error whose ERROR code is `code`. */
static void bad(size_t n, unsigned code, const char *what)
{
	assert_true(feed(n) < 0);
	assert_int_equal(ev.code, code);
	if (what != NULL)
		assert_non_null(strstr(ev.what, what));
}

/* A client whose HELLO was answered, and whose command started. */
static void started(void)
{
	sk_exec_client_init(&xc, 1);
	ok(f_hello(SK_FRAME_VERSION), SK_EXEC_EV_HELLO);
	ok(f_empty(SK_FRAME_EXEC_OK, 0, 1), SK_EXEC_EV_STARTED);
}

/* ---- the tests ------------------------------------------------------ */

static void test_hello_first_and_once(void **st)
{
	(void)st;
	sk_exec_client_init(&xc, 1);
	assert_int_equal(xc.state, SK_EXEC_OPENING);
	bad(f_data(SK_FRAME_STDOUT, 1, 3, 'a'), SK_FRAME_CODE_BAD_FRAME,
	    "STDOUT frame before the server's HELLO");
	sk_exec_client_init(&xc, 1);
	bad(f_empty(SK_FRAME_EXEC_OK, 0, 1), SK_FRAME_CODE_BAD_FRAME,
	    "EXEC_OK frame before the server's HELLO");
	sk_exec_client_init(&xc, 1);
	bad(f_hello(2), SK_FRAME_CODE_VERSION,
	    "the server speaks version 2; we speak 1");
	assert_int_equal(ev.version, 2);
	/* A refusal instead of a HELLO is the server's error, not ours. */
	sk_exec_client_init(&xc, 1);
	ok(f_error(0, SK_FRAME_CODE_SHUTDOWN, "bye"), SK_EXEC_EV_CONN_ERROR);
	assert_int_equal(ev.code, SK_FRAME_CODE_SHUTDOWN);
	assert_int_equal(ev.data.len, 3);
	assert_memory_equal(ev.data.p, "bye", 3);
	sk_exec_client_init(&xc, 1);
	ok(f_hello(SK_FRAME_VERSION), SK_EXEC_EV_HELLO);
	assert_int_equal(xc.hello, 1);
	bad(f_hello(SK_FRAME_VERSION), SK_FRAME_CODE_BAD_FRAME, "second HELLO");
}

static void test_every_prefix_needs_more(void **st)
{
	size_t n;

	(void)st;
	started();
	n = f_data(SK_FRAME_STDOUT, 1, 100, 'x');
	for (size_t k = 0; k < n; k++)
		assert_int_equal(sk_exec_client_input(&xc, place(fb, k), k, &ev),
				 0);
	/* Two frames back to back: one at a time. */
	{
		uint8_t two[2 * 200];
		size_t a = f_data(SK_FRAME_STDOUT, 1, 10, 'a'), b;

		memcpy(two, fb, a);
		b = f_data(SK_FRAME_STDERR, 1, 20, 'b');
		memcpy(two + a, fb, b);
		const uint8_t *p = place(two, a + b);

		assert_int_equal(sk_exec_client_input(&xc, p, a + b, &ev),
				 (int)a);
		assert_int_equal(ev.kind, SK_EXEC_EV_STDOUT);
		assert_int_equal(ev.data.len, 10);
		assert_ptr_equal(ev.data.p, (const char *)p + SK_FRAME_HEADER);
		assert_int_equal(sk_exec_client_input(&xc, p + a, b, &ev),
				 (int)b);
		assert_int_equal(ev.kind, SK_EXEC_EV_STDERR);
		assert_int_equal(ev.data.len, 20);
		assert_int_equal(ev.data.p[19], 'b');
	}
}

static void test_stream_order(void **st)
{
	(void)st;
	/* Output and EXIT only after EXEC_OK; EXEC_OK once. */
	sk_exec_client_init(&xc, 1);
	ok(f_hello(SK_FRAME_VERSION), SK_EXEC_EV_HELLO);
	bad(f_data(SK_FRAME_STDOUT, 1, 1, 'a'), SK_FRAME_CODE_BAD_STREAM,
	    "STDOUT frame on stream 1 before EXEC_OK");
	sk_exec_client_init(&xc, 1);
	xc.hello = 1;
	bad(f_exit(1, 0, NULL, 0), SK_FRAME_CODE_BAD_STREAM, "before EXEC_OK");
	started();
	assert_int_equal(xc.state, SK_EXEC_RUNNING);
	bad(f_empty(SK_FRAME_EXEC_OK, 0, 1), SK_FRAME_CODE_BAD_STREAM,
	    "a second EXEC_OK");
	/* EXIT ends the stream: nothing more may come on it. */
	started();
	ok(f_exit(1, 3, NULL, 0), SK_EXEC_EV_EXIT);
	assert_int_equal(ev.exit.signaled, 0);
	assert_int_equal(ev.exit.status, 3);
	assert_int_equal(xc.state, SK_EXEC_ENDED);
	assert_false(sk_exec_client_open(&xc));
	bad(f_data(SK_FRAME_STDOUT, 1, 1, 'a'), SK_FRAME_CODE_BAD_STREAM,
	    "which has ended");
	/* A signal, with a core. */
	started();
	ok(f_exit(1, 0, "SEGV", 1), SK_EXEC_EV_EXIT);
	assert_int_equal(ev.exit.signaled, 1);
	assert_int_equal(ev.exit.core, 1);
	assert_int_equal(ev.exit.signal.len, 4);
	assert_memory_equal(ev.exit.signal.p, "SEGV", 4);
	/* ERROR before EXEC_OK refuses; after it, it ends the command. */
	sk_exec_client_init(&xc, 1);
	ok(f_hello(SK_FRAME_VERSION), SK_EXEC_EV_HELLO);
	ok(f_error(1, SK_FRAME_CODE_NOT_FOUND, "no such file"),
	   SK_EXEC_EV_REFUSED);
	assert_int_equal(ev.code, SK_FRAME_CODE_NOT_FOUND);
	assert_int_equal(ev.data.len, 12);
	assert_int_equal(xc.state, SK_EXEC_ENDED);
	started();
	ok(f_error(1, SK_FRAME_CODE_TIMEOUT, ""), SK_EXEC_EV_ENDED);
	assert_int_equal(ev.code, SK_FRAME_CODE_TIMEOUT);
	assert_int_equal(ev.data.len, 0);
	bad(f_exit(1, 0, NULL, 0), SK_FRAME_CODE_BAD_STREAM, "has ended");
	/* An unknown code is passed on as it is; the caller names it. */
	started();
	ok(f_error(1, 999, "later"), SK_EXEC_EV_ENDED);
	assert_int_equal(ev.code, 999);
	/* ERROR on stream 0 after HELLO: the connection ends. */
	started();
	ok(f_error(0, SK_FRAME_CODE_FLOW, "you sent too much"),
	   SK_EXEC_EV_CONN_ERROR);
	assert_int_equal(ev.code, SK_FRAME_CODE_FLOW);
}

static void test_bad_frames(void **st)
{
	(void)st;
	started();
	bad(f_data(SK_FRAME_STDOUT, 3, 1, 'a'), SK_FRAME_CODE_BAD_STREAM,
	    "STDOUT frame on stream 3, which we never opened");
	started();
	bad(f_window(2, 10), SK_FRAME_CODE_BAD_STREAM, "never opened");
	/* Types only a client sends. */
	started();
	bad(f_data(SK_FRAME_STDIN, 1, 1, 'a'), SK_FRAME_CODE_BAD_FRAME,
	    "STDIN frame: frame type not sent by this side");
	started();
	bad(f_empty(SK_FRAME_RESET, 0, 1), SK_FRAME_CODE_BAD_FRAME, NULL);
	/* Unknown types, flags, empty output. */
	started();
	bad(f_empty(0x0c, 0, 1), SK_FRAME_CODE_UNKNOWN_TYPE,
	    "unknown frame: unknown frame type");
	started();
	bad(f_empty(SK_FRAME_EXEC_OK, 1, 1), SK_FRAME_CODE_BAD_FRAME,
	    "undefined frame flag");
	started();
	bad(f_empty(SK_FRAME_STDOUT, 0, 1), SK_FRAME_CODE_BAD_FRAME,
	    "payload length wrong");
	/* A malformed EXIT and ERROR. */
	started();
	fb[0] = 0;
	{
		int n = sk_frame_header(fb, sizeof(fb), SK_FRAME_EXIT, 0, 1, 2);

		assert_int_equal(n, SK_FRAME_HEADER);
		fb[8] = 7; /* How 7 */
		fb[9] = 0;
		bad(SK_FRAME_HEADER + 2, SK_FRAME_CODE_BAD_FRAME,
		    "EXIT frame: field value out of range");
	}
	/* A length over the limit: refused from the first 4 bytes. */
	started();
	fb[0] = SK_FRAME_STDOUT;
	fb[1] = 0;
	fb[2] = 0x40;
	fb[3] = 0x01;
	assert_true(sk_exec_client_input(&xc, place(fb, 4), 4, &ev) < 0);
	assert_int_equal(ev.code, SK_FRAME_CODE_BAD_FRAME);
	assert_non_null(strstr(ev.what, "more than 16384"));
}

static void test_output_credit(void **st)
{
	size_t total = 0;

	(void)st;
	started();
	assert_int_equal(xc.out_credit, SK_EXEC_WINDOW);
	/* Exactly the window, in full frames. */
	while (total < SK_EXEC_WINDOW) {
		ok(f_data(total % 2 ? SK_FRAME_STDERR : SK_FRAME_STDOUT, 1,
			  SK_FRAME_MAX_PAYLOAD, 'o'),
		   total % 2 ? SK_EXEC_EV_STDERR : SK_EXEC_EV_STDOUT);
		total += SK_FRAME_MAX_PAYLOAD;
	}
	assert_int_equal(xc.out_credit, 0);
	/* One byte more is FLOW. */
	bad(f_data(SK_FRAME_STDOUT, 1, 1, 'o'), SK_FRAME_CODE_FLOW,
	    "STDOUT frame of 1 bytes beyond the 0 bytes of credit granted");
	/* Grants: nothing under a quarter of the window, then all of it;
	 * the first one grows the window to SK_EXEC_CLIENT_WINDOW, the
	 * next ones give back only what was written. */
	started();
	xc.out_credit = 0;
	sk_exec_client_written(&xc, SK_EXEC_GRANT_MIN - 1);
	assert_int_equal(sk_exec_client_grant(&xc), 0);
	sk_exec_client_written(&xc, 1);
	assert_int_equal(sk_exec_client_grant(&xc),
			 SK_EXEC_GRANT_MIN + SK_EXEC_CLIENT_WINDOW -
				 SK_EXEC_WINDOW);
	assert_int_equal(sk_exec_client_grant(&xc), 0);
	assert_int_equal(xc.out_credit, SK_EXEC_GRANT_MIN +
						SK_EXEC_CLIENT_WINDOW -
						SK_EXEC_WINDOW);
	sk_exec_client_written(&xc, SK_EXEC_WINDOW - SK_EXEC_GRANT_MIN);
	assert_int_equal(sk_exec_client_grant(&xc),
			 SK_EXEC_WINDOW - SK_EXEC_GRANT_MIN);
	assert_int_equal(xc.out_credit, SK_EXEC_CLIENT_WINDOW);
	sk_exec_client_written(&xc, SK_EXEC_GRANT_MIN);
	assert_int_equal(sk_exec_client_grant(&xc), SK_EXEC_GRANT_MIN);
	assert_int_equal(xc.out_credit,
			 SK_EXEC_CLIENT_WINDOW + SK_EXEC_GRANT_MIN);
	/* A frame of exactly the credit left is fine. */
	started();
	xc.out_credit = 5;
	ok(f_data(SK_FRAME_STDERR, 1, 5, 'e'), SK_EXEC_EV_STDERR);
	bad(f_data(SK_FRAME_STDERR, 1, 1, 'e'), SK_FRAME_CODE_FLOW, NULL);
	/* No grant once the stream has ended. */
	started();
	sk_exec_client_written(&xc, SK_EXEC_WINDOW);
	ok(f_exit(1, 0, NULL, 0), SK_EXEC_EV_EXIT);
	assert_int_equal(sk_exec_client_grant(&xc), 0);
}

static void test_stdin_credit(void **st)
{
	(void)st;
	started();
	assert_int_equal(sk_exec_client_stdin_room(&xc), SK_FRAME_MAX_PAYLOAD);
	/* Use all but 100 bytes of the server's credit. */
	for (size_t left = SK_EXEC_WINDOW - 100; left > 0;) {
		size_t room = sk_exec_client_stdin_room(&xc);
		size_t n = room < left ? room : left;

		sk_exec_client_stdin_sent(&xc, n, 0);
		left -= n;
	}
	assert_int_equal(sk_exec_client_stdin_room(&xc), 100);
	sk_exec_client_stdin_sent(&xc, 100, 0);
	assert_int_equal(sk_exec_client_stdin_room(&xc), 0);
	/* The server grants more as the command reads. */
	ok(f_window(1, 7), SK_EXEC_EV_NONE);
	assert_int_equal(sk_exec_client_stdin_room(&xc), 7);
	ok(f_window(1, SK_EXEC_WINDOW_MAX - 7), SK_EXEC_EV_NONE);
	assert_int_equal(xc.in_credit, SK_EXEC_WINDOW_MAX);
	assert_int_equal(sk_exec_client_stdin_room(&xc), SK_FRAME_MAX_PAYLOAD);
	bad(f_window(1, 1), SK_FRAME_CODE_FLOW, "over 2^31-1");
	/* Credit may come before EXEC_OK; END closes stdin for good. */
	sk_exec_client_init(&xc, 1);
	ok(f_hello(SK_FRAME_VERSION), SK_EXEC_EV_HELLO);
	ok(f_window(1, 1000), SK_EXEC_EV_NONE);
	assert_int_equal(xc.in_credit, SK_EXEC_WINDOW + 1000);
	sk_exec_client_stdin_sent(&xc, 0, 1);
	assert_int_equal(sk_exec_client_stdin_room(&xc), 0);
	/* A malformed increment. */
	started();
	{
		int n = sk_frame_header(fb, sizeof(fb), SK_FRAME_WINDOW_UPDATE,
					0, 1, 4);

		assert_int_equal(n, SK_FRAME_HEADER);
		memset(fb + SK_FRAME_HEADER, 0, 4);
		bad(SK_FRAME_HEADER + 4, SK_FRAME_CODE_BAD_FRAME,
		    "WINDOW_UPDATE frame: field value out of range");
	}
}

static void test_reset_ignores_the_rest(void **st)
{
	(void)st;
	started();
	sk_exec_client_reset(&xc);
	assert_false(sk_exec_client_open(&xc));
	assert_int_equal(sk_exec_client_stdin_room(&xc), 0);
	xc.out_credit = 0;
	/* Even output beyond the credit: it crossed our RESET. */
	ok(f_data(SK_FRAME_STDOUT, 1, 10, 'z'), SK_EXEC_EV_NONE);
	ok(f_exit(1, 0, NULL, 0), SK_EXEC_EV_NONE);
	ok(f_error(1, SK_FRAME_CODE_INTERNAL, "x"), SK_EXEC_EV_NONE);
	sk_exec_client_written(&xc, SK_EXEC_WINDOW);
	assert_int_equal(sk_exec_client_grant(&xc), 0);
	/* The connection's own frames still count. */
	ok(f_error(0, SK_FRAME_CODE_SHUTDOWN, ""), SK_EXEC_EV_CONN_ERROR);
	bad(f_data(SK_FRAME_STDOUT, 2, 1, 'a'), SK_FRAME_CODE_BAD_STREAM, NULL);
}

static void test_next_command(void **st)
{
	(void)st;
	started();
	sk_exec_client_written(&xc, SK_EXEC_GRANT_MIN);
	assert_true(sk_exec_client_grant(&xc) > SK_EXEC_GRANT_MIN);
	ok(f_exit(1, 0, NULL, 0), SK_EXEC_EV_EXIT);
	/* Stream 1 ended: the next command opens stream 3, whose window
	 * starts small again. */
	sk_exec_client_next(&xc, 3);
	assert_true(xc.hello);
	assert_true(sk_exec_client_open(&xc));
	assert_int_equal(xc.out_credit, SK_EXEC_WINDOW);
	assert_int_equal(xc.in_credit, SK_EXEC_WINDOW);
	assert_false(xc.grown);
	/* Nothing may come on the stream that ended. */
	bad(f_data(SK_FRAME_STDOUT, 1, 1, 'a'), SK_FRAME_CODE_BAD_STREAM, NULL);
	ok(f_empty(SK_FRAME_EXEC_OK, 0, 3), SK_EXEC_EV_STARTED);
	ok(f_data(SK_FRAME_STDOUT, 3, 2, 'b'), SK_EXEC_EV_STDOUT);
	/* Stream 3 is reset and stream 5 opened: what crosses the RESET on
	 * 3 is ignored, even beyond its credit; 5 goes on. */
	sk_exec_client_reset(&xc);
	sk_exec_client_next(&xc, 5);
	ok(f_data(SK_FRAME_STDOUT, 3, SK_FRAME_MAX_PAYLOAD, 'c'),
	   SK_EXEC_EV_NONE);
	ok(f_exit(3, 0, NULL, 0), SK_EXEC_EV_NONE);
	ok(f_empty(SK_FRAME_EXEC_OK, 0, 5), SK_EXEC_EV_STARTED);
	ok(f_exit(5, 0, NULL, 0), SK_EXEC_EV_EXIT);
	/* Stream 7 after a stream that ended: 3 is still ignored, 5 not. */
	sk_exec_client_next(&xc, 7);
	ok(f_exit(3, 0, NULL, 0), SK_EXEC_EV_NONE);
	bad(f_exit(5, 0, NULL, 0), SK_FRAME_CODE_BAD_STREAM, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_first_and_once),
		cmocka_unit_test(test_every_prefix_needs_more),
		cmocka_unit_test(test_stream_order),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_output_credit),
		cmocka_unit_test(test_stdin_credit),
		cmocka_unit_test(test_reset_ignores_the_rest),
		cmocka_unit_test(test_next_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
