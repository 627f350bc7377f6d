/* proc.c: starting commands with limits, in their own session (proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int sk__pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * The child, between vfork() and execve(). It shares our memory, so it
 * only makes system calls on values prepared before the vfork, and never
 * returns: on failure it stores errno in *report (our memory: we read it
 * once vfork() returns, which is after the child's exec or exit, as
 * glibc's posix_spawn does) and _exit()s.
 */
__attribute__((noreturn)) static void
sk__child(const struct sk_proc_opts *o, const int fds[3],
	  volatile int *report)
{
	struct sigaction dfl;
	struct rlimit rl;
	sigset_t none;
	int e;

	/* Handlers are ours, and a signal now would run them in our memory:
	 * every caught signal goes back to its default (ignored ones too, so
	 * the command dies of SIGPIPE as commands expect). */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction cur;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &cur) == 0 &&
		    cur.sa_handler != SIG_DFL)
			sigaction(sig, &dfl, NULL);
	}
	if (setsid() < 0)
		goto fail;
	if (o->cpu != 0) {
		rl.rlim_cur = rl.rlim_max = o->cpu;
		if (setrlimit(RLIMIT_CPU, &rl) != 0)
			goto fail;
	}
	if (o->nofile != 0) {
		rl.rlim_cur = rl.rlim_max = o->nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			goto fail;
	}
	if (o->nproc != 0) {
		rl.rlim_cur = rl.rlim_max = o->nproc;
		if (setrlimit(RLIMIT_NPROC, &rl) != 0)
			goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	if (o->cwd != NULL && chdir(o->cwd) != 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(o->file, o->argv, o->envp);
fail:
	e = errno;
	*report = e != 0 ? e : EINVAL;
	_exit(127);
}

int sk_proc_spawn(const struct sk_proc_opts *o, struct sk_proc *p)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int child_fds[3];
	sigset_t all, old;
	pid_t pid;
	int rc, e = 0;
	volatile int report = 0;

	p->pid = -1;
	p->pidfd = p->in = p->out = p->err = -1;
	/* Our ends are non-blocking; the child's are blocking, as programs
	 * expect; all are close-on-exec (dup2 clears it on 0, 1, 2). */
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		rc = -errno;
		goto error;
	}
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) {
		rc = -errno;
		goto error;
	}
	child_fds[0] = in[0];
	child_fds[1] = out[1];
	child_fds[2] = err[1];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		sk__child(o, child_fds, &report);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = -e;
		goto error;
	}
	/* vfork() returns once the child has exec'd or exited: report
	 * holds its errno, or 0. */
	if (report != 0) {
		waitpid(pid, NULL, 0);
		rc = -report;
		goto error;
	}
	p->pidfd = sk__pidfd_open(pid);
	if (p->pidfd < 0) {
		rc = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto error;
	}
	p->pid = pid;
	p->in = in[1];
	p->out = out[0];
	p->err = err[0];
	close(in[0]);
	close(out[1]);
	close(err[1]);
	return 0;
error:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return rc;
}

int sk_proc_kill(const struct sk_proc *p, int sig)
{
	if (p->pid <= 0)
		return -ESRCH;
	return kill(-p->pid, sig) == 0 ? 0 : -errno;
}

int sk_proc_reap(struct sk_proc *p, int *status, int peek)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)p->pidfd, &si,
		   WEXITED | WNOHANG | (peek ? WNOWAIT : 0)) != 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	if (si.si_code == CLD_EXITED)
		*status = (si.si_status & 0xff) << 8;
	else
		*status = (si.si_status & 0x7f) |
			  (si.si_code == CLD_DUMPED ? 0x80 : 0);
	return 1;
}
