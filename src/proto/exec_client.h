/*
 * exec_client.h: the client's side of an exec connection that runs one
 * command, as a state machine with no I/O (docs/PROTOCOL.md, "exec
 * (TCP): frames").
 *
 * It reads the server's frames one at a time and says what each one
 * means for the caller (output to write, the command started or ended, a
 * connection error), after checking everything the client must check:
 * the header rules, the server's HELLO first and once, the one stream
 * the client opened and its order (EXEC_OK, then output, then EXIT or
 * ERROR), and both flow-control windows. It keeps the credit books: how
 * much STDOUT and STDERR the server may still send (the client grants
 * more as the caller writes output out), and how much STDIN the client
 * may still send (the server grants more with WINDOW_UPDATE).
 *
 * The caller encodes its own frames with frame.h and owns every buffer.
 */
#ifndef SK_EXEC_CLIENT_H
#define SK_EXEC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sk_limits.h"

/*
 * Output bytes written out before the client grants them back in one
 * WINDOW_UPDATE: a quarter of the window, so a server that streams
 * output never waits for credit (it still holds three quarters), and a
 * command that prints a byte at a time does not cost a frame per byte.
 */
#define SK_EXEC_GRANT_MIN (SK_EXEC_WINDOW / 4)

/* Where the command's stream is. */
enum sk_exec_state {
	SK_EXEC_OPENING = 1, /* EXEC sent; no EXEC_OK yet */
	SK_EXEC_RUNNING = 2, /* EXEC_OK received */
	SK_EXEC_ENDED = 3,   /* EXIT or ERROR received; nothing more may come */
	SK_EXEC_RESET = 4,   /* we sent RESET; what comes is ignored */
};

/* One command's connection, from the client's side. */
struct sk_exec_client {
	uint32_t stream;        /* the id of the stream the EXEC opened */
	int hello;              /* the server's HELLO has arrived */
	enum sk_exec_state state; /* the stream's state */
	uint32_t out_credit;    /* STDOUT+STDERR bytes the server may send */
	uint32_t out_written;   /* output written out, not yet granted back */
	int grown;              /* the first grant grew the window to
				 * SK_EXEC_CLIENT_WINDOW */
	uint32_t in_credit;     /* STDIN bytes we may send */
	int stdin_ended;        /* we sent STDIN with END */
	uint32_t reset_upto;    /* frames on streams up to this one, other
				 * than ours, are ignored: we reset them */
};

/* What one frame from the server means. */
enum sk_exec_ev {
	SK_EXEC_EV_NONE = 0,    /* nothing for the caller (a credit, or a
				 * frame on a stream we reset) */
	SK_EXEC_EV_HELLO,       /* the server's HELLO, our version */
	SK_EXEC_EV_STARTED,     /* EXEC_OK */
	SK_EXEC_EV_STDOUT,      /* data: bytes for our stdout */
	SK_EXEC_EV_STDERR,      /* data: bytes for our stderr */
	SK_EXEC_EV_EXIT,        /* exit: the command ended; stream over */
	SK_EXEC_EV_REFUSED,     /* code, data: ERROR before EXEC_OK */
	SK_EXEC_EV_ENDED,       /* code, data: ERROR after EXEC_OK (killed) */
	SK_EXEC_EV_CONN_ERROR,  /* code, data: ERROR on stream 0; the server
				 * closes the connection */
};

/* The meaning of one frame, or of a protocol error. */
struct sk_exec_event {
	enum sk_exec_ev kind;      /* what happened */
	unsigned code;             /* ERROR's code; or, on a protocol error,
				    * the code to send in our ERROR */
	struct sk_frame_str data;  /* output bytes, or ERROR's text (views
				    * into the caller's buffer) */
	struct sk_frame_exit exit; /* EXIT: how the command ended */
	unsigned version;          /* a HELLO's version, when it is not ours */
	char what[128];            /* on a protocol error: what was wrong,
				    * for people and for our ERROR's text */
};

/* Start the books for a command on stream `stream` (nonzero), whose HELLO
 * and EXEC the caller sends (or has sent). */
void sk_exec_client_init(struct sk_exec_client *c, uint32_t stream);

/*
 * Take the frame at the start of buf[0..len), bytes from the server.
 * Returns its size with *ev filled; 0 when more bytes are needed; or a
 * negative enum sk_frame_err for a protocol error (a connection error:
 * the caller sends ERROR ev->code with the text ev->what on stream 0 and
 * closes). Output is charged to the server's credit here; a frame beyond
 * it is SK_FRAME_E_FLOW. Views in *ev point into buf.
 */
int sk_exec_client_input(struct sk_exec_client *c, const uint8_t *buf,
			 size_t len, struct sk_exec_event *ev);

/*
 * Open the next command's books on the same connection (the REPL runs
 * one command after another): stream must be greater than the current
 * one. The server's HELLO stays had. If the current stream was reset,
 * frames that still come on it (they crossed our RESET) are ignored from
 * now on, as are those of any stream reset before it.
 */
void sk_exec_client_next(struct sk_exec_client *c, uint32_t stream);

/* The caller wrote n bytes of the command's output out. */
void sk_exec_client_written(struct sk_exec_client *c, size_t n);

/*
 * The WINDOW_UPDATE increment to send now, or 0: all the output written
 * out and not yet granted back, once that is SK_EXEC_GRANT_MIN bytes or
 * more; the first one also grows the window from SK_EXEC_WINDOW to
 * SK_EXEC_CLIENT_WINDOW. The increment is counted as sent: the caller
 * must send it.
 *
 * This cannot stall the server: its credit, the output the caller still
 * holds and the output written but not granted back always add up to the
 * window, so when the server has no credit left and the caller has
 * written everything out, the whole window is there to grant. The caller
 * must be able to hold SK_EXEC_CLIENT_WINDOW bytes of output.
 */
uint32_t sk_exec_client_grant(struct sk_exec_client *c);

/* How many STDIN bytes may go in the next frame: the server's credit, at
 * most SK_FRAME_MAX_PAYLOAD; 0 once the stream is not open, or stdin
 * ended. */
size_t sk_exec_client_stdin_room(const struct sk_exec_client *c);

/* The caller sent a STDIN frame of n bytes (at most the room), with END
 * when `end` is set. */
void sk_exec_client_stdin_sent(struct sk_exec_client *c, size_t n, int end);

/* May the caller send STDIN, SIGNAL or RESET now (the stream is open)? */
int sk_exec_client_open(const struct sk_exec_client *c);

/* The caller sent RESET: frames that still come on the stream are
 * ignored. */
void sk_exec_client_reset(struct sk_exec_client *c);

#endif
