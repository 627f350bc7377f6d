/* bench.h: `sockit bench chat`, the chat room load generator
 * (bench_chat.c), as `sockit bench` (bench.c) calls it. */
#ifndef SK_BENCH_H
#define SK_BENCH_H

#include <sys/socket.h>

#define SK_CHAT_BENCH_MAX_MEMBERS 50000 /* members, each a descriptor */
#define SK_CHAT_BENCH_MAX_TALKERS 64     /* talkers */
#define SK_CHAT_BENCH_MAX_WINDOW 1024    /* lines in flight per talker */
#define SK_CHAT_BENCH_MAX_STEPS 32       /* --steps */
#define SK_CHAT_BENCH_SCALE_S 300        /* --steps: default time limit */
#define SK_CHAT_BENCH_MAX_SCALE_S 3600   /* --steps: longest time limit */
/* Bytes per line, LF included: room for the payload's 32 bytes of
 * header, and well within IRC's 512 with PRIVMSG's framing. */
#define SK_CHAT_BENCH_MIN_SIZE 48
#define SK_CHAT_BENCH_MAX_SIZE 400

/* The room's protocol. */
enum sk_chat_proto {
	SK_CHAT_LINE = 0, /* sockit's lines, or ncat --chat */
	SK_CHAT_IRC = 1,  /* IRC: PRIVMSG to one channel */
	SK_CHAT_REDIS = 2, /* Redis: PUBLISH to one channel */
};

/* What one run does. */
struct sk_bench_chat {
	enum sk_chat_proto proto; /* the protocol */
	unsigned members;         /* members in the room */
	unsigned talkers;         /* of them (Redis: besides them) talking */
	unsigned window;          /* lines in flight per talker */
	unsigned rate;            /* lines a second from all talkers; 0: as
				   * fast as the window allows */
	unsigned size;            /* bytes per line, its LF included */
	unsigned duration_ms;     /* how long they talk; with --steps, the
				   * time limit of the whole run */
	int latency;              /* record each delivery's delay */
	long pid;                 /* the server's process, for its CPU time
				   * and memory; 0: unknown */
	unsigned steps[SK_CHAT_BENCH_MAX_STEPS]; /* --steps: idle members */
	unsigned nsteps;          /* how many; 0: talk instead */
};

/* Run o against the server at sa (named name in messages), print its
 * line, and return an exit code (SK_EXIT_OK or SK_EXIT_FAIL). */
int sk_bench_chat(const struct sk_bench_chat *o, const struct sockaddr *sa,
		  const char *name);

#endif
