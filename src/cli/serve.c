/*
 * serve.c: `sockit serve`. Settings come from the embedded defaults, then
 * the config file (--config), then the command line; all three go through
 * one setter, so a key means the same thing everywhere.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <ini.h>
#include <uv.h>

#include "../net/log.h"
#include "../net/server.h"
#include "../net/sockaddr.h"
#include "../proto/acl.h"
#include "../proto/addr.h"
#include "../proto/banner.h"
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

/* The listener specs to serve, from the command line or the config. */
struct sk__specs {
	struct sk_spec spec[SK_MAX_LISTENERS]; /* parsed specs */
	const char *text[SK_MAX_LISTENERS];    /* as written, for errors */
	size_t n;                              /* how many */
};

/* What the config-file reader carries between calls. */
struct sk__ini {
	struct sk_config *cfg;   /* settings being filled */
	struct sk__specs *specs; /* `service =` lines */
	char err[256];           /* the first error */
	char texts[SK_MAX_LISTENERS][128]; /* copies of spec lines */
};

static void sk__defaults(struct sk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->banner_len = (size_t)sk_banner_compile(
		SK_BANNER_DEFAULT, cfg->banner, sizeof(cfg->banner));
	cfg->udp_rate.rate = 20;
	cfg->udp_rate.burst = 40;
	cfg->udp_global.rate = 10000;
	cfg->udp_global.burst = 10000;
	cfg->log_interval = 10;
	cfg->max_conn = SK_CONN_MAX_DEFAULT;
	cfg->idle_timeout = SK_CONN_IDLE_DEFAULT;
	/* chrony's `ratelimit` defaults. */
	cfg->ntp.ratelimit = 1;
	cfg->ntp.interval = 3;
	cfg->ntp.burst = 8;
	cfg->ntp.leak = 2;
	cfg->ntp.stratum = 2;
}

static int sk__add_spec(struct sk__specs *sp, const char *text, char *err,
			size_t errcap)
{
	struct sk_spec *s;
	const struct sk_service *svc;
	int rc;

	if (sp->n >= SK_MAX_LISTENERS) {
		snprintf(err, errcap, "'%s': more than %d services", text,
			 SK_MAX_LISTENERS);
		return -1;
	}
	s = &sp->spec[sp->n];
	rc = sk_spec_parse(text, s);
	if (rc != 0) {
		snprintf(err, errcap, "'%s': %s", text, sk_addr_strerror(rc));
		return -1;
	}
	svc = sk_service_find(s->service);
	if (svc == NULL) {
		char names[128] = "";
		size_t off = 0;

		for (size_t i = 0; sk_services[i] != NULL && off < sizeof(names);
		     i++)
			off += (size_t)snprintf(names + off, sizeof(names) - off,
						"%s%s", i ? ", " : "",
						sk_services[i]->name);
		snprintf(err, errcap, "'%s': unknown service '%s' (know %s)",
			 text, s->service, names);
		return -1;
	}
	if (s->transports != 0 && !(svc->transports & s->transports)) {
		snprintf(err, errcap, "'%s': %s has no %s transport", text,
			 svc->name, s->transports == SK_TCP ? "tcp" : "udp");
		return -1;
	}
	sp->text[sp->n++] = text;
	return 0;
}

/* Apply one setting. Returns 0, or -1 with a message in err. */
static int sk__set(struct sk_config *cfg, const char *key, const char *val,
		   char *err, size_t errcap)
{
	unsigned long v;
	int rc;

	if (strcmp(key, "banner") == 0) {
		rc = sk_banner_compile(val, cfg->banner, sizeof(cfg->banner));
		if (rc < 0) {
			snprintf(err, errcap, "banner: %s", sk_banner_strerror(rc));
			return -1;
		}
		cfg->banner_len = (size_t)rc;
		return 0;
	}
	if (strcmp(key, "quiet") == 0) {
		if (sk_parse_uint(val, 0, 1, &v) != 0) {
			snprintf(err, errcap, "quiet: '%s' is not 0 or 1", val);
			return -1;
		}
		sk_log_quiet((int)v);
		return 0;
	}
	if (strcmp(key, "ntp-allow") == 0) {
		struct sk_cidr c;

		if (sk_cidr_parse(val, &c) != 0) {
			snprintf(err, errcap, "ntp-allow: '%s' is not ADDR or "
				 "ADDR/BITS", val);
			return -1;
		}
		if (sk_acl_add(&cfg->ntp.allow, &c) != 0) {
			snprintf(err, errcap, "ntp-allow: more than %d entries",
				 SK_ACL_MAX);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "ntp-interval") == 0) {
		char *end;
		long iv;

		errno = 0;
		iv = strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0' || iv < -19 ||
		    iv > 12) {
			snprintf(err, errcap, "ntp-interval: '%s' is not a "
				 "whole number from -19 to 12", val);
			return -1;
		}
		cfg->ntp.interval = (int)iv;
		return 0;
	}
	if (strcmp(key, "user") == 0) {
		if (strlen(val) >= sizeof(cfg->user) || val[0] == '\0') {
			snprintf(err, errcap, "user: bad user name '%s'", val);
			return -1;
		}
		memcpy(cfg->user, val, strlen(val) + 1);
		return 0;
	}
	struct {
		const char *key;
		unsigned long min, max;
		uint32_t *u32;
		unsigned *u;
	} nums[] = {
		{ "rate", 0, 1000000, &cfg->udp_rate.rate, NULL },
		{ "burst", 1, 1000000, &cfg->udp_rate.burst, NULL },
		{ "global-rate", 0, 100000000, &cfg->udp_global.rate, NULL },
		{ "global-burst", 1, 100000000, &cfg->udp_global.burst, NULL },
		{ "log-interval", 1, 86400, NULL, &cfg->log_interval },
		{ "max-conn", 1, 1000000, NULL, &cfg->max_conn },
		{ "idle-timeout", 0, 86400, NULL, &cfg->idle_timeout },
		{ "ntp-threads", 0, 64, NULL, &cfg->ntp.threads },
		{ "ntp-busy-poll", 0, 1000000, NULL, &cfg->ntp.busy_poll },
		{ "ntp-ratelimit", 0, 1, NULL, (unsigned *)&cfg->ntp.ratelimit },
		{ "ntp-burst", 1, 255, NULL, &cfg->ntp.burst },
		{ "ntp-leak", 1, 4, NULL, &cfg->ntp.leak },
		{ "ntp-local-stratum", 0, 15, NULL, &cfg->ntp.local_stratum },
		{ "ntp-stratum", 1, 15, NULL, &cfg->ntp.stratum },
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(key, nums[i].key) != 0)
			continue;
		if (sk_parse_uint(val, nums[i].min, nums[i].max, &v) != 0) {
			snprintf(err, errcap,
				 "%s: '%s' is not a whole number from %lu to %lu",
				 key, val, nums[i].min, nums[i].max);
			return -1;
		}
		if (nums[i].u32 != NULL)
			*nums[i].u32 = (uint32_t)v;
		else
			*nums[i].u = (unsigned)v;
		return 0;
	}
	snprintf(err, errcap, "unknown setting '%s'", key);
	return -1;
}

static int sk__ini_line(void *user, const char *section, const char *name,
			const char *value)
{
	struct sk__ini *ini = user;
	char key[64];
	size_t i;

	if (ini->err[0] != '\0')
		return 0;
	if (strcmp(section, "serve") != 0) {
		snprintf(ini->err, sizeof(ini->err),
			 "unknown section [%s] (sockit reads [serve])", section);
		return 0;
	}
	/* Keys may use '_' or '-'. */
	for (i = 0; name[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = name[i] == '_' ? '-' : name[i];
	key[i] = '\0';
	if (strcmp(key, "service") == 0) {
		char *t = ini->texts[ini->specs->n % SK_MAX_LISTENERS];

		if (strlen(value) >= sizeof(ini->texts[0])) {
			snprintf(ini->err, sizeof(ini->err),
				 "service: '%.40s...' is too long", value);
			return 0;
		}
		memcpy(t, value, strlen(value) + 1);
		return sk__add_spec(ini->specs, t, ini->err,
				    sizeof(ini->err)) == 0;
	}
	return sk__set(ini->cfg, key, value, ini->err, sizeof(ini->err)) == 0;
}

/* Raise the open-file limit to the hard limit, for many idle peers, and
 * keep --max-conn within it (with room for listeners and workers). */
static void sk__raise_nofile(struct sk_config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256 &&
	    cfg->max_conn > rl.rlim_cur - 256) {
		sk_log_warnx("serve: --max-conn %u is over the open-file limit; "
			     "using %lu",
			     cfg->max_conn, (unsigned long)(rl.rlim_cur - 256));
		cfg->max_conn = (unsigned)(rl.rlim_cur - 256);
	}
}

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

static int sk__drop_privileges(const char *user)
{
	struct passwd *pw;
	int rc;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		sk_log_warnx("serve: --user %s: no such user", user);
		return -1;
	}
	rc = sk__leak_check_keep();
	if (rc != 0) {
		sk_log_warn(rc, "serve: --user %s: cannot keep capabilities",
			    user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		sk_log_warn(-errno, "serve: --user %s: cannot switch user", user);
		return -1;
	}
	rc = sk__leak_check_caps();
	if (rc != 0) {
		sk_log_warn(rc, "serve: --user %s: cannot drop capabilities",
			    user);
		return -1;
	}
	return 0;
}

/* Bind every listener for one spec. Returns 0 or -1 (already reported).
 * Without an address, a spec binds 127.0.0.1 and ::1; a host without
 * IPv6 loopback only gets a warning for the second. */
static int sk__bind_spec(struct sk_server *srv, const struct sk_spec *spec)
{
	const struct sk_service *svc = sk_service_find(spec->service);
	uint16_t port = spec->has_port ? spec->port : svc->port;
	const char *hosts[2] = { "127.0.0.1", "::1" };
	size_t nhosts = 2;
	unsigned want = spec->transports ? spec->transports : svc->transports;

	if (spec->host[0] != '\0') {
		hosts[0] = spec->host;
		nhosts = 1;
	}
	for (unsigned t = SK_TCP; t <= SK_UDP; t <<= 1) {
		const char *tn = t == SK_TCP ? "tcp" : "udp";

		if (!(want & t))
			continue;
		for (size_t h = 0; h < nhosts; h++) {
			struct sockaddr_storage addr[8], bound;
			char as[SK_ADDRSTR_MAX];
			int n, rc;

			n = sk_resolve(hosts[h], port,
				       t == SK_TCP ? SOCK_STREAM : SOCK_DGRAM, 1,
				       addr, 8);
			if (n < 0) {
				sk_log_warnx("%s/%s %s: %s", svc->name, tn,
					     hosts[h], gai_strerror(n));
				return -1;
			}
			for (int i = 0; i < n; i++) {
				struct sockaddr *sa = (struct sockaddr *)&addr[i];

				sk_sockaddr_str(sa, as, sizeof(as));
				rc = sk_server_listen(srv, svc, t, sa, &bound);
				if ((rc == UV_EADDRNOTAVAIL ||
				     rc == UV_EAFNOSUPPORT) &&
				    nhosts == 2 && h == 1) {
					sk_log_warn(rc, "%s/%s %s: skipped",
						    svc->name, tn, as);
					continue;
				}
				if (rc != 0) {
					sk_log_warnx("%s/%s %s: %s", svc->name,
						     tn, as, sk_strerror(rc));
					return -1;
				}
				sk_sockaddr_str((struct sockaddr *)&bound, as,
						sizeof(as));
				printf("sockit: %s/%s %s: listening\n",
				       svc->name, tn, as);
			}
		}
	}
	return 0;
}

int sk_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "banner", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 1 },
		{ "burst", required_argument, NULL, 2 },
		{ "global-rate", required_argument, NULL, 3 },
		{ "global-burst", required_argument, NULL, 4 },
		{ "log-interval", required_argument, NULL, 5 },
		{ "max-conn", required_argument, NULL, 6 },
		{ "idle-timeout", required_argument, NULL, 7 },
		{ "ntp-threads", required_argument, NULL, 8 },
		{ "ntp-busy-poll", required_argument, NULL, 16 },
		{ "ntp-ratelimit", required_argument, NULL, 9 },
		{ "ntp-interval", required_argument, NULL, 10 },
		{ "ntp-burst", required_argument, NULL, 11 },
		{ "ntp-leak", required_argument, NULL, 12 },
		{ "ntp-local-stratum", required_argument, NULL, 13 },
		{ "ntp-stratum", required_argument, NULL, 14 },
		{ "ntp-allow", required_argument, NULL, 15 },
		{ "user", required_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sk_config cfg;
	static struct sk__specs specs, cfg_specs;
	static struct sk__ini ini;
	const char *set_key[64], *set_val[64];
	size_t nset = 0;
	const char *config = NULL;
	struct sk_server *srv;
	char err[256];
	int c, idx, rc;

	sk__defaults(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:b:u:qh", opts, &idx)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'q':
			/* Applied with the other options, after the file. */
			if (nset >= sizeof(set_key) / sizeof(set_key[0]))
				return sk_usage_error("serve", "too many options");
			set_key[nset] = "quiet";
			set_val[nset++] = "1";
			break;
		case 'h':
			return sk_help("serve");
		case '?':
			return sk_usage_error("serve", "bad option");
		default:
			if (nset >= sizeof(set_key) / sizeof(set_key[0]))
				return sk_usage_error("serve", "too many options");
			for (idx = 0; opts[idx].name; idx++)
				if (opts[idx].val == c)
					break;
			set_key[nset] = opts[idx].name;
			set_val[nset++] = optarg;
			break;
		}
	}
	if (config != NULL) {
		ini.cfg = &cfg;
		ini.specs = &cfg_specs;
		rc = ini_parse(config, sk__ini_line, &ini);
		if (rc < 0) {
			fprintf(stderr, "sockit: serve: %s: %s\n", config,
				strerror(errno != 0 ? errno : ENOENT));
			return SK_EXIT_USAGE;
		}
		if (rc > 0) {
			fprintf(stderr, "sockit: serve: %s:%d: %s\n", config, rc,
				ini.err[0] ? ini.err : "syntax error");
			return SK_EXIT_USAGE;
		}
	}
	for (size_t i = 0; i < nset; i++)
		if (sk__set(&cfg, set_key[i], set_val[i], err, sizeof(err)) != 0)
			return sk_usage_error("serve", "--%s", err);
	for (int i = optind; i < argc; i++)
		if (sk__add_spec(&specs, argv[i], err, sizeof(err)) != 0)
			return sk_usage_error("serve", "%s", err);
	if (specs.n == 0)
		specs = cfg_specs;
	if (specs.n == 0) {
		static char names[SK_MAX_LISTENERS][SK_SERVICE_NAME_MAX];

		for (size_t i = 0; sk_services[i] != NULL; i++) {
			snprintf(names[i], sizeof(names[i]), "%s",
				 sk_services[i]->name);
			sk__add_spec(&specs, names[i], err, sizeof(err));
		}
	}

	tzset();
	sk__raise_nofile(&cfg);
	srv = sk_server_new(&cfg);
	if (srv == NULL) {
		sk_log_warnx("serve: out of memory");
		return SK_EXIT_FAIL;
	}
	for (size_t i = 0; i < specs.n; i++)
		if (sk__bind_spec(srv, &specs.spec[i]) != 0)
			return SK_EXIT_FAIL;
	if (cfg.user[0] != '\0' && sk__drop_privileges(cfg.user) != 0)
		return SK_EXIT_FAIL;
	printf("sockit: ready, %zu sockets, pid %ld\n",
	       sk_server_listeners(srv), (long)getpid());
	if (sk_server_run(srv) != 0) {
		sk_log_warnx("serve: handles left open at exit");
		return SK_EXIT_FAIL;
	}
	return SK_EXIT_OK;
}
