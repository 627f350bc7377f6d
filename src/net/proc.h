/*
 * proc.h: starting a command for a service: a new session (so its own
 * process group, which a kill reaches whole, grandchildren included),
 * resource limits set before it runs, and its stdin, stdout and stderr on
 * pipes.
 *
 * libuv's uv_spawn() cannot set resource limits in the child, and
 * posix_spawn() cannot either; setting them with prlimit() after the
 * start leaves the command running unlimited for a moment. So the child
 * is made here with vfork(), as glibc's posix_spawn() does it: every
 * signal blocked around it, handlers reset in the child before anything
 * else, then setsid(), setrlimit(), the pipes, chdir() and execve(). An
 * exec that fails is reported back through a close-on-exec pipe as its
 * errno.
 *
 * The exit is watched through a pidfd (Linux 5.3), which the caller
 * polls on its loop, and reaped with sk_proc_reap().
 */
#ifndef SK_PROC_H
#define SK_PROC_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* What to start. */
struct sk_proc_opts {
	const char *file;    /* the program; a name without '/' is looked up
			      * in PATH of envp (or /usr/bin:/bin) */
	char *const *argv;   /* NULL-terminated, argv[0] included */
	char *const *envp;   /* NULL-terminated */
	const char *cwd;     /* directory to run in; NULL: the daemon's */
	rlim_t cpu;          /* RLIMIT_CPU seconds; 0: unchanged */
	rlim_t nofile;       /* RLIMIT_NOFILE; 0: unchanged */
	rlim_t nproc;        /* RLIMIT_NPROC; 0: unchanged */
};

/* A started command. */
struct sk_proc {
	pid_t pid;   /* also its process group and session */
	int pidfd;   /* readable once it has exited */
	int in;      /* our end of its stdin, non-blocking */
	int out;     /* our end of its stdout, non-blocking */
	int err;     /* our end of its stderr, non-blocking */
};

/*
 * Start o. Returns 0 and fills p (every fd close-on-exec), or a negative
 * errno: the exec's own error (-ENOENT, -EACCES, ...) when the program
 * could not be run, with nothing left behind.
 */
int sk_proc_spawn(const struct sk_proc_opts *o, struct sk_proc *p);

/* Send sig to p's whole process group. Returns 0 or a negative errno
 * (-ESRCH once it is all gone). */
int sk_proc_kill(const struct sk_proc *p, int sig);

/* Has p exited? Returns 1 and sets *status (as waitpid's), 0 while it
 * runs, or a negative errno. With peek, p stays a zombie: its pid, and
 * so its process group's id, cannot be reused until it is reaped, which
 * keeps a later sk_proc_kill() from reaching a stranger. Closes nothing. */
int sk_proc_reap(struct sk_proc *p, int *status, int peek);

#endif
