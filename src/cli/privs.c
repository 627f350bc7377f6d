/*
 * privs.c: `serve --user`: after binding, become an unprivileged user,
 * and say which; and a daemon started unprivileged with capabilities
 * (systemd's AmbientCapabilities=) gives them up once it has bound its
 * sockets.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "../net/log.h"
#include "cli.h"

/* Set when LeakSanitizer checks this process at exit (ASan builds). */
#if defined(__SANITIZE_ADDRESS__)
#define SK__LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK__LEAK_CHECK 1
#endif
#endif
#ifndef SK__LEAK_CHECK
#define SK__LEAK_CHECK 0
#endif

#if SK__LEAK_CHECK
/*
 * Sanitizer builds only. LeakSanitizer's exit-time check runs with the
 * credentials --user left us: its tracer opens /proc/PID/task by absolute
 * path, then ptrace-attaches to our threads. Where the unprivileged user
 * cannot search "/" (a root directory of mode 0700, as in a chroot made
 * with mktemp -d), that open fails with EACCES and the check dies, which
 * the system tests rightly count as a failure. So such a build keeps
 * CAP_DAC_READ_SEARCH in its permitted set only, never effective while
 * serving, and raises it in an atexit handler, which runs before the
 * check the sanitizer registered at start-up. Where "/proc/self/task" is
 * readable anyway, it keeps nothing, and its credentials match production.
 * The kept capability grants no ptrace, and the kernel refuses to let a
 * process trace one whose permitted set is not a subset of its own, so
 * other processes of the user can trace this one no more than before.
 * Production builds compile none of this and keep no capability.
 */
#define SK__SEARCH_CAP (1u << CAP_DAC_READ_SEARCH)

/* Set our capability sets to these masks of the first 32 capabilities
 * (inheritable empty). Returns 0 or a negative errno. */
static int sk__capset(uint32_t permitted, uint32_t effective)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	data[0].permitted = permitted;
	data[0].effective = effective;
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	return 0;
}

static void sk__leak_check_search(void)
{
	sk__capset(SK__SEARCH_CAP, SK__SEARCH_CAP);
}

/* Before setresuid(): keep the permitted set across it, for
 * sk__leak_check_caps() to shrink. Returns 0 or a negative errno. */
static int sk__leak_check_keep(void)
{
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0)
		return -errno;
	return 0;
}

/* After setresuid(): shrink the permitted set to nothing, or to
 * CAP_DAC_READ_SEARCH if the leak check needs it. Returns 0 or a negative
 * errno; then the caller must not go on, as everything root had may still
 * be permitted. */
static int sk__leak_check_caps(void)
{
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (access("/proc/self/task", R_OK | X_OK) != 0 &&
	    sk__capset(SK__SEARCH_CAP, 0) == 0) {
		atexit(sk__leak_check_search);
		return 0;
	}
	return sk__capset(0, 0);
}
#else
static int sk__leak_check_keep(void)
{
	return 0;
}

static int sk__leak_check_caps(void)
{
	return 0;
}
#endif

/* A name for the user id (or group id, when group) for messages:
 * "nobody (65534)", or the bare number when it has no name. Looked up
 * before the switch, while the name service's files are surely
 * readable. */
static void sk__id_name(int group, unsigned id, char *out, size_t cap)
{
	char buf[4096];
	const char *name = NULL;

	if (group) {
		struct group gr, *g = NULL;

		if (getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &g) == 0 &&
		    g != NULL)
			name = g->gr_name;
	} else {
		struct passwd pw, *p = NULL;

		if (getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &p) == 0 &&
		    p != NULL)
			name = p->pw_name;
	}
	if (name != NULL)
		snprintf(out, cap, "%s (%u)", name, id);
	else
		snprintf(out, cap, "%u", id);
}

int sk_drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	char uname[128], gname[128];
	int rc;

	sk__id_name(0, (unsigned)uid, uname, sizeof(uname));
	sk__id_name(1, (unsigned)gid, gname, sizeof(gname));
	rc = sk__leak_check_keep();
	if (rc != 0) {
		sk_log_err(rc, "serve: --user %s: cannot keep capabilities",
			   user);
		return -1;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		sk_log_err(-errno, "serve: --user %s: cannot switch user", user);
		return -1;
	}
	rc = sk__leak_check_caps();
	if (rc != 0) {
		sk_log_err(rc, "serve: --user %s: cannot drop capabilities",
			   user);
		return -1;
	}
	sk_log_info("running as user %s, group %s", uname, gname);
	return 0;
}

int sk_drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int any = 0;

	if (getuid() == 0 || geteuid() == 0)
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0) {
		sk_log_warn(-errno, "serve: cannot read our capabilities");
		return -1;
	}
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		any |= data[i].permitted != 0 || data[i].inheritable != 0;
	if (!any)
		return 0;
	/* The ambient set first: it must stay within permitted and
	 * inheritable, and it is what a child would inherit. */
	memset(data, 0, sizeof(data));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 ||
	    syscall(SYS_capset, &hdr, data) != 0) {
		sk_log_warn(-errno, "serve: cannot drop our capabilities");
		return -1;
	}
	return 0;
}
