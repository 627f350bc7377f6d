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

/* One chat line, its LF and CR not counted: a member cannot make the
 * room hold or relay more than this per message. A longer line is
 * refused once and skipped up to its LF without being buffered. */
#define SK_CHAT_LINE_MAX 4096

/* A chat connection's input buffer: a line of the maximum and its CR LF.
 * The line splitter never needs more held, as an unfinished line that
 * would not fit is already known to be too long, so a peer that never
 * sends LF cannot make a member's buffer grow. */
#define SK_CHAT_INBUF (SK_CHAT_LINE_MAX + 2)

/* A chat nick; bounds the prefix of every relayed line and the size of
 * the room's nick table entries. */
#define SK_CHAT_NICK_MAX 24

/* Bytes of an unknown chat command's name echoed back in the error
 * notice, so a 4 KiB "/xxxx..." does not come back 4 KiB long. */
#define SK_CHAT_CMD_SHOW 32

/* The chat sanitiser's worst case, in output bytes per input byte. Each
 * step reads k >= 1 bytes (one character, or one invalid sequence or
 * forbidden character) and writes them unchanged or writes U+FFFD (3
 * bytes) instead; a single byte replaced (a C0 control, DEL, a stray
 * 0x80-0xFF byte) is the worst: 1 in, 3 out. src/proto/chat.c asserts
 * this statically. */
#define SK_CHAT_CLEAN_GROWTH 3
#define SK_CHAT_CLEAN_MAX(len) ((len) * SK_CHAT_CLEAN_GROWTH)

/* One formatted chat output line: the longest form, "<NICK> TEXT" and
 * LF, with the longest nick and a line of the maximum that the sanitiser
 * grew as much as it can (12316 bytes). It bounds what one message puts
 * in every member's write queue. */
#define SK_CHAT_OUT_MAX                                                        \
	(1 + SK_CHAT_NICK_MAX + 2 + SK_CHAT_CLEAN_MAX(SK_CHAT_LINE_MAX) + 1)

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

/* Bytes queued for one TCP peer before it is disconnected (a service may
 * set its own): a receiver that never reads cannot make a fan-out grow
 * without end, whoever the writer is. */
#define SK_CONN_MAX_OUTPUT (1024 * 1024)

/* Bytes queued for all TCP peers together before a write that would go
 * over is refused and its peer disconnected: thousands of peers that
 * each stay under their own cap cannot take the host's memory. */
#define SK_OUTPUT_TOTAL_DEFAULT (64u * 1024 * 1024)

/* Connections one IPv4 address or IPv6 /64 may hold to one service; one
 * client cannot take every place. */
#define SK_CONN_PER_SOURCE_DEFAULT 256

/* Seconds a request may take to arrive once its first byte has; bytes
 * trickled in do not extend it, so slowloris peers are cut off. */
#define SK_CONN_REQUEST_DEFAULT 30

/* Milliseconds we keep reading (and discarding) after our FIN before
 * closing, so unread input does not make the kernel reset the
 * connection and destroy replies the peer was owed (STYLE 21). */
#define SK_LINGER_MS 2000

/* Connections one listener accepts per loop turn; the rest wait in the
 * kernel's backlog for the next turn, so a connection flood cannot hold
 * the loop (and a SIGTERM) for long. */
#define SK_ACCEPTS_PER_TURN 64

/* Nanoseconds of service work each of a loop turn's two phases may do
 * (the peers waiting on the ready list, then the new input); past it,
 * input waits on the ready list for the next turn, so a signal, a timer
 * or a new peer is seen within about twice this long however many peers
 * are busy (thousands of pipelining peers once held the loop, and a
 * SIGTERM, for seconds). */
#define SK_TURN_BUDGET_NS (20 * 1000 * 1000)

/* Slices handed to one writev(); bounds a write's stack and work. */
#define SK_WRITE_IOV 16

/* Closed TCP connections kept for reuse (about 4.5 KiB each). */
#define SK_CONN_CACHE 256

/* Concurrent TCP connections per service; beyond it, new ones are
 * closed. The daemon's total is also kept within its open-file limit. */
#define SK_CONN_MAX_DEFAULT 4096

/* A service with deferred writes (chat) holds a peer's output for the
 * end of the loop turn only while it is under this many bytes; past it,
 * it is written at once. */
#define SK_CONN_DEFER_MAX (16 * 1024)

/* Queued output peaking over this many bytes is given back to the system
 * (malloc_trim) once every queue has drained: a fan-out to ten thousand
 * members leaves a megabyte of freed chunks in the heap otherwise. */
#define SK_TRIM_PEAK (1024 * 1024)

/* A shared buffer of at most this many bytes is copied into a peer's
 * queue rather than referenced, when its writes are deferred: a chat
 * line is cheaper to copy than to track, and copies coalesce. */
#define SK_CONN_COPY_MAX 512

/* Seconds a TCP connection may stay idle; stops slowloris peers. */
#define SK_CONN_IDLE_DEFAULT 300

/* One exec frame's payload (the 16-bit length field could say 64 KiB). A
 * header announcing more is a connection error read from the header
 * alone, before anything is buffered, so a peer cannot make us reserve
 * 64 KiB per frame per connection or hold a large partial frame. */
#define SK_FRAME_MAX_PAYLOAD (16 * 1024)

/* Arguments of one EXEC (argv[0] included); stops a request of thousands
 * of empty strings from making the server build a huge argv or hold a
 * large array of views per request. */
#define SK_EXEC_MAX_ARGS 256

/* "K=V" pairs of one EXEC, before the server's allow-list; bounds the
 * decoder's array and the server's filtering work per request. */
#define SK_EXEC_MAX_ENV 64

/* Bytes of UTF-8 text in one exec ERROR; a peer cannot make us log or
 * print kilobytes for each error it sends. */
#define SK_FRAME_MAX_TEXT 256

/* Bytes of a signal name on the wire ("KILL", "USR1"); longer than any
 * real one, so a name is never more than a short, printable token. */
#define SK_FRAME_MAX_SIGNAME 16

/* Initial flow-control window of an exec stream, in payload bytes of
 * STDOUT+STDERR (server to client) and of STDIN (client to server): a
 * command that floods output, or a client that floods input, cannot make
 * the other side buffer more than this per stream until it grants more. */
#define SK_EXEC_WINDOW (256 * 1024)
/* The window sockit's client gives a command's output once it has some
 * to grant back (its first WINDOW_UPDATE adds the difference): bulk
 * output then moves in 1 MiB reads (SK_EXEC_PIPE_MAX), while a command
 * with little to say never makes the client hold more than
 * SK_EXEC_WINDOW. */
#define SK_EXEC_CLIENT_WINDOW (1024 * 1024)

/* Largest flow-control window (2^31 - 1, as HTTP/2); an update that
 * would pass it is a connection error, so credit never overflows. */
#define SK_EXEC_WINDOW_MAX 0x7fffffffu


/* exec over UDP, the reliable message layer (src/proto/rmsg.h).
 *
 * One of its datagrams is the plaintext of one DTLS 1.2 record, and the
 * whole must cross a 1280-byte IPv6 path (the minimum every IPv6 link
 * carries) without IP fragmentation, which many paths drop: 1280, less
 * IPv6 40 and UDP 8, less the record's 13-byte header, AES-GCM's 8-byte
 * explicit nonce and 16-byte tag, leaves 1195 bytes. A larger datagram
 * is refused by the decoder; an encoder never writes one. */
#define SK_RMSG_PATH_MTU 1280
#define SK_RMSG_IP_UDP_OVERHEAD (40 + 8)
#define SK_RMSG_DTLS_OVERHEAD (13 + 8 + 16)
#define SK_RMSG_MAX_DGRAM                                                      \
	(SK_RMSG_PATH_MTU - SK_RMSG_IP_UDP_OVERHEAD - SK_RMSG_DTLS_OVERHEAD)

/* Requests one session remembers at once, running or done with their
 * output cached: a client cannot make a session hold more commands or
 * more cached outputs than this. A new request when all are running is
 * refused (TOO_MANY); otherwise the oldest finished one is forgotten. */
#define SK_RMSG_SLOTS 16

/* The output stream of one UDP request (its exec frames, headers
 * included), by default and at most (a setting's bounds): the server
 * caches a request's whole output until it is delivered or expires, so
 * this, times SK_RMSG_SLOTS, bounds one session's memory. Past the cap
 * the output is cut and the stream ends with ERROR TRUNCATED. The
 * minimum leaves room for EXEC_OK, some output and the final frame. */
#define SK_RMSG_OUTPUT_DEFAULT (1024 * 1024)
#define SK_RMSG_OUTPUT_MIN 1024
#define SK_RMSG_OUTPUT_MAX (16 * 1024 * 1024)

/* Microseconds a finished request's cached output is kept after its end
 * or the client's last datagram about it, whichever is later; then it is
 * freed and a repeat of the request gets EXPIRED (it never runs again).
 * Stops a client that vanished from pinning a megabyte per request. */
#define SK_RMSG_CACHE_TTL_US (60ull * 1000 * 1000)

/* Datagrams of output in flight per session (the send window), and the
 * bytes of the stream the client buffers past the first one it lacks
 * (its receive window; the server never sends beyond it): a server
 * cannot flood the path, nor a client be made to hold more than this
 * out of order. */
#define SK_RMSG_WINDOW 64
#define SK_RMSG_RECV_WINDOW (256 * 1024)

/* Ranges in one ACK; a client keeps the ranges of the newest packet
 * numbers it received, so an ACK stays small and the server's work per
 * ACK bounded. An ACK with more is malformed. */
#define SK_RMSG_ACK_RANGES 32

/* Replies (IN_PROGRESS, ERROR) a session holds until they are sent; past
 * it, a repeated request is answered by its next repeat instead. */
#define SK_RMSG_CTL_QUEUE 8

/* Request ids a session remembers as seen below the highest one (the
 * replay window): an older id is refused, since whether it ran is no
 * longer known. */
#define SK_RMSG_REPLAY_WINDOW 64

/* Times the server's retransmission timer may fire in a row without an
 * ACK before it stops sending to the session, until the client is heard
 * again: a vanished client costs a few probes, not a stream of them. */
#define SK_RMSG_MAX_RTOS 10

/* REQUEST transmissions the client makes without hearing the server
 * (the default and the most a caller may ask for) before it gives up
 * with "no reply". */
#define SK_RMSG_ATTEMPTS 6
#define SK_RMSG_ATTEMPTS_MAX 32

/* DTLS sessions (src/net/dtls.h). One session costs its SSL (about
 * 20 KiB with its buffers) and what its service keeps: a service's
 * sessions at once, by default; the longest a session lives without a
 * datagram from its peer (a REPL's user may think for minutes; a client
 * waiting for output polls far more often than this); and the time a
 * handshake may take, retransmissions included. */
#define SK_DTLS_SESSIONS_DEFAULT 256
#define SK_DTLS_IDLE_MS_DEFAULT (300 * 1000)
#define SK_DTLS_HANDSHAKE_MS_DEFAULT (10 * 1000)
/* Sessions from one source (an IPv4 address or IPv6 /64, any port),
 * handshakes included: one host cannot take every session. */
#define SK_DTLS_PER_SOURCE 32
/* The largest plaintext datagram: one that crosses a 1280-byte path in
 * one record (see SK_RMSG_MAX_DGRAM). */
#define SK_DTLS_MAX_PLAIN SK_RMSG_MAX_DGRAM
/* The cookie's validity: a secret per period, the previous one still
 * accepted, so a cookie lives one to two periods. */
#define SK_DTLS_COOKIE_PERIOD_S 60
/* The DTLS handshake's retransmission timer: the first, and the most it
 * doubles to (see sk__timer_cb in src/net/dtls.c). */
#define SK_DTLS_TIMER_US 250000u
#define SK_DTLS_TIMER_MAX_US 2000000u

/* The control socket (src/net/status.h): a request line's most bytes,
 * clients at once (more are closed at once), and the time one has to
 * send its line. */
#define SK_STATUS_LINE_MAX 64
#define SK_STATUS_CLIENTS 8
#define SK_STATUS_TIMEOUT_MS 5000

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

/* Output of one of the tutorial's raw commands, gathered before the
 * reply (its client reads 1024 bytes); past it the command is killed. */
#define SK_EXEC_RAW_MAX (64 * 1024)
/* The tutorial's UDP client reads one recvfrom(1024): a raw UDP reply
 * goes in datagrams of at most this many bytes. */
#define SK_EXEC_UDP_RAW_DGRAM 1024
/* The largest datagram exec takes over UDP: a DTLS record of
 * SK_RMSG_MAX_DGRAM, a ClientHello (a few hundred bytes), or one of the
 * tutorial's command lines (it sends what fits its 1024-byte reads). */
#define SK_EXEC_UDP_MAX_IN 2048
/* The exec client over UDP opens a new DTLS session, rather than use
 * its old one, when it has heard nothing from the server for this long:
 * the server may have ended it for idleness (its udp-idle, 300 s by
 * default) and its close_notify may have been lost. */
#define SK_EXEC_UDP_REOPEN_MS (60 * 1000)

/* The exec server reads a command's output this many frames' worth at a
 * time (within the client's credit), and sends them in one write. */
#define SK_EXEC_READ_FRAMES 64
/* A command's stdout or stderr pipe that a read found full (the command
 * writes faster than the client takes it) grows to this, the kernel's
 * pipe-max-size by default, once the client has granted more than
 * SK_EXEC_WINDOW: a 1 MiB pipe and 1 MiB reads move bulk output 40%
 * faster than the 64 KiB a pipe starts with (`make bench`). It holds that
 * memory only while full, and a pipe the kernel will not grow (the user
 * is past pipe-user-pages-soft) stays as it is. */
#define SK_EXEC_PIPE_MAX (1024 * 1024)

/* The exec client's buffer for bytes from the server: one whole frame
 * always fits, with room to read more; a server cannot make it hold a
 * larger partial frame (the codec refuses the length first). */
#define SK_EXEC_CLIENT_IN (2 * (8 + SK_FRAME_MAX_PAYLOAD))

/* The exec client's queue of frames for the server: HELLO with a whole
 * EXEC, or a whole STDIN frame, and room for control frames. Stdin is
 * read only when a STDIN frame fits, so a server that stops reading
 * stops our reading of stdin, not our memory. */
#define SK_EXEC_CLIENT_OUT (3 * (8 + SK_FRAME_MAX_PAYLOAD))

/* A line read by an interactive client (the exec REPL) from a script
 * on its stdin: a longer one is taken as it stands, never grown. A
 * command line cannot be longer than a frame anyway. */
#define SK_EDIT_LINE_MAX (SK_FRAME_MAX_PAYLOAD + 1)

/* chat: members at once, at most (a setting's bound), and callers on
 * hold; the nick table is sized for both. */
#define SK_CHAT_MEMBERS_MAX 100000
#define SK_CHAT_HELD_MAX 10000
/* chat's own max-conn: the room's 10,000 members, with room to spare
 * for callers on hold. */
#define SK_CHAT_CONN_DEFAULT 16384
/* chat's max-output: what one member may have queued before it is
 * disconnected as too slow; 10,000 members stuck at it would hold
 * 2.5 GiB, which max-output-total caps first. */
#define SK_CHAT_OUTPUT_DEFAULT (256 * 1024)
/* chat's sndbuf: the kernel's send buffer for each member (SO_SNDBUF;
 * the kernel doubles it). Left to autotuning, one slow member could hold
 * megabytes of kernel memory on top of its max-output. */
#define SK_CHAT_SNDBUF_DEFAULT (32 * 1024)
/* chat over UDP: peers at once, at most (a setting's bound; the address
 * table has twice as many buckets). */
#define SK_CHAT_UDP_PEERS_MAX 4096
/* What a UDP peer that has not proven its address may be sent: this many
 * datagrams per datagram it sent, at most this many banked, each at most
 * SK_CHAT_UDP_GROWTH times the size of its last datagram: a spoofed
 * source cannot turn the room into a reflector. QUIC allows 3 times
 * before validation too. */
#define SK_CHAT_UDP_CREDIT 1
#define SK_CHAT_UDP_CREDIT_MAX 4
#define SK_CHAT_UDP_GROWTH 3
/* chat: joins and leaves told one by one, a second and at once; past
 * them the room gets one count a second. Each is sent to every member, so
 * a crowd arriving would otherwise cost members squared. */
#define SK_CHAT_NOTICE_RATE 10
#define SK_CHAT_NOTICE_BURST 20
/* ms a partial line waits for its LF before it is taken as whole (the
 * tutorial's client sends none, and waits for an answer). */
#define SK_CHAT_PARTIAL_MS 250
/* Lines of one member handled per call, so a flood from one member
 * cannot hold the loop (STYLE 10). */
#define SK_CHAT_LINES_PER_TURN 64

/* A line the daemon's operator types at its console (--chat-console);
 * longer ones are cut. */
#define SK_CONSOLE_LINE_MAX 4096
/* Output queued for the daemon's console; past it lines are dropped and
 * counted, so an operator's terminal that is not read cannot grow the
 * daemon. */
#define SK_CONSOLE_OUT_MAX (1024 * 1024)

/* TLS records on their way out, per connection: two full records (16 KiB
 * of plaintext each, with their overhead); a fuller ring is emptied into
 * the connection's queue, whose cap (max-output) bounds the rest. */
#define SK_TLS_WRING (2 * (16384 + 256))

/* A pre-shared key: 32 random bytes (256 bits), one per client identity. */
#define SK_KEY_LEN 32
/* A client identity in a key file (sent in clear in the TLS handshake). */
#define SK_KEY_ID_MAX 64
/* Identities one key file may hold; the file is read whole at start. */
#define SK_KEYS_MAX 256
/* One line of a key file; a longer one is an error, never cut. */
#define SK_KEY_LINE_MAX 512
/* A key file, read whole: SK_KEYS_MAX lines of an identity and a key,
 * with room for comments. */
#define SK_KEY_FILE_MAX (64 * 1024)

/* The configuration file, read whole into memory at start-up: a path
 * that names something endless or huge (/dev/zero, a log file given by
 * mistake) is refused at this size instead of filling memory. */
#define SK_CONF_MAX (1024 * 1024)
/* One line of the configuration file, its LF and a CR before it not
 * counted; a longer line is an error naming it, never cut in two (a cut
 * line's tail would be read as a setting of its own). A plain number:
 * src/proto/ini.c spells it in its error message. */
#define SK_CONF_LINE_MAX 4096

/* Services that one `sockit serve` may listen on at once. */
#define SK_MAX_LISTENERS 64

#endif
