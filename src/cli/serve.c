/*
 * serve.c: `sockit serve`.
 *
 * Settings come from the embedded defaults, then the config file
 * (--config, or /etc/sockit/sockit.conf if it exists; its syntax is
 * src/proto/ini.h's), then the command line. Everything is checked
 * before the first socket is bound. Every key is declared once
 * (struct sk_opt): the daemon's own keys here, the limits every service
 * has in src/net/settings.c, and each service's keys in its own file.
 * The getopt table, the config-file sections and `sockit help serve` are
 * all built from those declarations, so this file names no service.
 *
 * Where a key is written:
 *   command line  --KEY (daemon keys; limits for every service; keys a
 *                 service marks SK_OPT_BARE), --SERVICE-KEY (one service)
 *   config file   [serve] KEY or SERVICE-KEY, [SERVICE] KEY
 * Precedence: the file before the command line; within each, keys for
 * every service before keys for one, so `--idle-timeout 60
 * --chat-idle-timeout 0` means what it says in any order.
 *
 * Under systemd (sd.c), the sockets it hands over are served too, each
 * by the service its FileDescriptorName= names, over the transport its
 * type says; they are checked with the rest, and then the embedded
 * defaults are not bound. READY=1 is sent once every socket is up and
 * privileges are dropped, STOPPING=1 when shutdown begins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "../net/log.h"
#include "../net/server.h"
#include "../net/settings.h"
#include "../net/sockaddr.h"
#include "../net/status.h"
#include "../proto/addr.h"
#include "../proto/ini.h"
#include "../proto/sk_limits.h"
#include "../svc/services.h"
#include "cli.h"

/* The configuration file read when -c is not given, if it exists;
 * SOCKIT_CONFIG in the environment names another (empty: none). */
#ifndef SK_CONF_DEFAULT
#define SK_CONF_DEFAULT "/etc/sockit/sockit.conf"
#endif

/* Assignments kept until every source has been read. */
#define SK__MAX_SETS 512
/* Command-line option names we build. */
#define SK__MAX_KEYS 512
/* Options after the keys in getopt's table: --config, --quiet, --syslog
 * and --help. */
#define SK__FIXED 4

/* The daemon's own settings. */
struct sk__daemon {
	char user[64];          /* drop privileges to this user, or "" */
	unsigned quiet;         /* 1: log only problems */
	unsigned syslog;        /* 1: log to syslog, not to stderr */
	unsigned log_time;      /* enum sk_log_time: when lines carry the
				 * time */
	unsigned log_interval;  /* seconds between drop summaries */
	unsigned max_output;    /* bytes queued for all TCP peers */
	char control[SK_UNIX_PATH_MAX]; /* the control socket; "": the
				 * default; "none": none */
};

#define SK__D(f) offsetof(struct sk__daemon, f)

/* log-time: auto, always or never. */
static int sk__parse_log_time(void *settings, const char *val, char *err,
			      size_t cap)
{
	static const struct {
		const char *name;   /* as written */
		enum sk_log_time v; /* what it means */
	} when[] = {
		{ "auto", SK_LOG_TIME_AUTO },
		{ "always", SK_LOG_TIME_ALWAYS },
		{ "never", SK_LOG_TIME_NEVER },
	};
	struct sk__daemon *d = settings;

	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		if (strcmp(val, when[i].name) == 0) {
			d->log_time = when[i].v;
			return 0;
		}
	}
	snprintf(err, cap, "'%.40s' is not auto, always or never", val);
	return -1;
}

static const struct sk_opt sk__daemon_opts[] = {
	{ .name = "user", .type = SK_OPT_STR, .off = SK__D(user),
	  .size = sizeof(((struct sk__daemon *)0)->user), .arg = "USER",
	  .help = "drop privileges to USER (a name or a numeric\n"
		  "user ID) after binding", .short_opt = 'u' },
	{ .name = "quiet", .type = SK_OPT_UINT, .off = SK__D(quiet), .max = 1,
	  .def = "0", .arg = "0|1",
	  .help = "log only problems (-q on the command line)",
	  .flags = SK_OPT_FILEONLY },
	{ .name = "syslog", .type = SK_OPT_UINT, .off = SK__D(syslog),
	  .max = 1, .def = "0", .arg = "0|1",
	  .help = "log to syslog (--syslog on the command line)",
	  .flags = SK_OPT_FILEONLY },
	{ .name = "log-time", .type = SK_OPT_FUNC, .parse = sk__parse_log_time,
	  .def = "auto", .arg = "WHEN",
	  .help = "start each log line with the time: auto (when\n"
		  "standard error is a file or a pipe), always or\n"
		  "never" },
	SK_OPT_NUM(SK_OPT_UINT, "log-interval", SK__D(log_interval), 1, 86400, "10", "S",
		   "seconds between drop summaries"),
	SK_OPT_NUM(SK_OPT_UINT, "max-output-total", SK__D(max_output), 65536, 4095u * 1024 * 1024, "67108864", "BYTES",
		   "output queued for all TCP peers together; a write\n"
	  "that would go over closes its peer"),
	{ .name = "control", .type = SK_OPT_STR, .off = SK__D(control),
	  .size = sizeof(((struct sk__daemon *)0)->control), .arg = "PATH",
	  .help = "the control socket for sockit status, or 'none'\n"
		  "(default: /run/sockit/control as root, else\n"
		  "$XDG_RUNTIME_DIR/sockit/control)" },
	SK_OPT_END,
};

/* What a key names. */
enum sk__kind { SK__DAEMON, SK__LIMIT, SK__SVC };

/* One setting, checked and kept for its turn (see the file comment). */
struct sk__set {
	enum sk__kind kind;     /* what it sets */
	int svc;                /* index in sk_services; -1: every service */
	const struct sk_opt *o; /* the declaration */
	char *val;              /* the value (owned) */
	int pass;               /* 0 file/all, 1 file/one, 2 argv/all, 3
				 * argv/one */
	char cli[64];           /* argv: the option as written ("-b",
				 * "--ntp-allow"); file: "" */
};

/* The listener specs to serve, from the command line or the config. */
struct sk__specs {
	struct sk_spec spec[SK_MAX_LISTENERS]; /* parsed specs */
	char text[SK_MAX_LISTENERS][SK_HOST_MAX + 64]; /* each as written */
	size_t n;                              /* how many */
};

/* Everything `serve` gathers before it starts. */
struct sk__serve {
	struct sk__daemon daemon;          /* daemon settings */
	struct sk__set set[SK__MAX_SETS];  /* service and limit settings */
	size_t nset;                       /* how many */
	void *scratch[SK_MAX_LISTENERS];   /* per service, for checking */
	struct sk_svc_limits lscratch;     /* for checking limits */
	struct sk__specs file_specs;       /* `service =` lines */
	struct sk__specs specs;            /* what to serve */
	struct sk_sd_socket handed[SK_MAX_LISTENERS]; /* from systemd */
	int handed_svc[SK_MAX_LISTENERS];  /* each one's index in
					    * sk_services */
	size_t nhanded;                    /* how many */
	uid_t uid;                         /* --user, resolved */
	gid_t gid;                         /* and its group */
	int in_file;                       /* reading the config file */
	char err[256];                     /* the first error (file) */
	int reloading;                     /* a reload: errors are kept in
					    * rerr for its log line, not
					    * printed */
	char rerr[512];                    /* the first of them */
	char conf[1024];                   /* the config file read, or "" */
};

/* An error in what serve was given: printed at start (with a pointer to
 * the help when hint), kept for the log line at a reload. Returns
 * SK_EXIT_USAGE. */
static int sk__fail(struct sk__serve *sv, int hint, const char *fmt, ...)
	SK_PRINTF(3, 4);
static int sk__fail(struct sk__serve *sv, int hint, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sv->reloading) {
		if (sv->rerr[0] == '\0')
			snprintf(sv->rerr, sizeof(sv->rerr), "%s", msg);
		return SK_EXIT_USAGE;
	}
	if (hint)
		return sk_usage_error("serve", "%s", msg);
	fprintf(stderr, "sockit: serve: %s\n", msg);
	return SK_EXIT_USAGE;
}

/* ---- looking keys up ---- */

static size_t sk__nsvc(void)
{
	size_t n = 0;

	while (sk_services[n] != NULL)
		n++;
	return n;
}

/*
 * Find what key names, seen in section sect (NULL: the command line;
 * "serve"; or a service's name). Fills kind, svc and o; returns 0, or -1
 * when nothing is called that.
 */
static int sk__lookup(const char *sect, const char *key, enum sk__kind *kind,
		      int *svc, const struct sk_opt **o)
{
	int general = sect == NULL || strcmp(sect, "serve") == 0;

	if (general) {
		if ((*o = sk_opt_find(sk__daemon_opts, key)) != NULL) {
			*kind = SK__DAEMON;
			*svc = -1;
			return 0;
		}
		if ((*o = sk_opt_find(sk_limit_opts, key)) != NULL) {
			*kind = SK__LIMIT;
			*svc = -1;
			return 0;
		}
		/* BARE keys of a service, and SERVICE-KEY. */
		for (int i = 0; sk_services[i] != NULL; i++) {
			const struct sk_service *d = sk_services[i];
			size_t n = strlen(d->name);

			*o = sk_opt_find(d->opts, key);
			if (*o != NULL && ((*o)->flags & SK_OPT_BARE)) {
				*kind = SK__SVC;
				*svc = i;
				return 0;
			}
			if (strncmp(key, d->name, n) != 0 || key[n] != '-')
				continue;
			*svc = i;
			if ((*o = sk_opt_find(d->opts, key + n + 1)) != NULL) {
				*kind = SK__SVC;
				return 0;
			}
			if ((*o = sk_opt_find(sk_limit_opts, key + n + 1)) != NULL) {
				*kind = SK__LIMIT;
				return 0;
			}
		}
		return -1;
	}
	for (int i = 0; sk_services[i] != NULL; i++) {
		if (strcmp(sk_services[i]->name, sect) != 0)
			continue;
		*svc = i;
		if ((*o = sk_opt_find(sk_services[i]->opts, key)) != NULL) {
			*kind = SK__SVC;
			return 0;
		}
		if ((*o = sk_opt_find(sk_limit_opts, key)) != NULL) {
			*kind = SK__LIMIT;
			return 0;
		}
		return -1;
	}
	return -1;
}

/* Check a value now (so that an error can name its line) and keep it
 * for later. Returns 0, or -1 with a message in err. */
static int sk__assign(struct sk__serve *sv, enum sk__kind kind, int svc,
		      const struct sk_opt *o, const char *val, char *err,
		      size_t cap)
{
	char e[200];
	void *target;
	struct sk__set *st;

	switch (kind) {
	case SK__DAEMON:
		if (sk_opt_set(o, &sv->daemon, val, e, sizeof(e)) != 0)
			goto bad;
		return 0; /* applied now: the file comes first anyway */
	case SK__LIMIT:
		target = &sv->lscratch;
		break;
	case SK__SVC:
	default:
		target = sv->scratch[svc];
		break;
	}
	if (sk_opt_set(o, target, val, e, sizeof(e)) != 0)
		goto bad;
	if (sv->nset >= SK__MAX_SETS) {
		snprintf(err, cap, "%s: more than %d settings", o->name,
			 SK__MAX_SETS);
		return -1;
	}
	st = &sv->set[sv->nset];
	st->val = strdup(val);
	if (st->val == NULL) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	st->kind = kind;
	st->svc = svc;
	st->o = o;
	st->pass = (sv->in_file ? 0 : 2) + (svc >= 0 ? 1 : 0);
	sv->nset++;
	return 0;
bad:
	if (svc >= 0 && !(o->flags & SK_OPT_BARE))
		snprintf(err, cap, "%s-%s: %s", sk_services[svc]->name, o->name,
			 e);
	else
		snprintf(err, cap, "%s: %s", o->name, e);
	return -1;
}

/* ---- specs ---- */

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
	if (s->transports == SK_UNIX && !(svc->transports & SK_TCP)) {
		snprintf(err, errcap, "'%s': %s has no stream transport for a "
			 "unix socket", text, svc->name);
		return -1;
	}
	if (s->transports != 0 && s->transports != SK_UNIX &&
	    !(svc->transports & s->transports)) {
		snprintf(err, errcap, "'%s': %s has no %s transport", text,
			 svc->name, s->transports == SK_TCP ? "tcp" : "udp");
		return -1;
	}
	snprintf(sp->text[sp->n], sizeof(sp->text[sp->n]), "%s", text);
	sp->n++;
	return 0;
}

/* Spec k of sp as it was written. */
static const char *sk__spec_text(const struct sk__specs *sp, size_t k)
{
	return sp->text[k];
}

/* ---- the config file ---- */

/* One setting of the file, in section (NUL-terminated strings). Returns
 * 1, or 0 with a message in sv->err. */
static int sk__ini_line(struct sk__serve *sv, const char *section,
			const char *name, const char *value)
{
	const struct sk_opt *o;
	enum sk__kind kind;
	char key[64];
	int svc;
	size_t i;

	if (section[0] == '\0') {
		snprintf(sv->err, sizeof(sv->err),
			 "'%s' is outside any [section] (sockit reads [serve] "
			 "and one per service)", name);
		return 0;
	}
	if (strcmp(section, "serve") != 0 &&
	    sk_service_find(section) == NULL) {
		snprintf(sv->err, sizeof(sv->err),
			 "unknown section [%s] (sockit reads [serve] and one "
			 "per service)", section);
		return 0;
	}
	/* Keys may use '_' or '-'. */
	for (i = 0; name[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = name[i] == '_' ? '-' : name[i];
	key[i] = '\0';
	if (strcmp(section, "serve") == 0 && strcmp(key, "service") == 0)
		return sk__add_spec(&sv->file_specs, value, sv->err,
				    sizeof(sv->err)) == 0;
	if (sk__lookup(section, key, &kind, &svc, &o) != 0) {
		snprintf(sv->err, sizeof(sv->err), "unknown setting '%s'", key);
		return 0;
	}
	return sk__assign(sv, kind, svc, o, value, sv->err,
			  sizeof(sv->err)) == 0;
}

/*
 * Read the file at path whole into *buf (malloc'd, the caller frees it)
 * and *len. It must be a regular file of at most SK_CONF_MAX bytes: it is
 * opened without blocking and checked before the first read, so a FIFO
 * without a writer, a device such as /dev/zero or a directory is refused
 * at once instead of hanging or filling memory. Returns 0; 1 when the
 * file does not exist and missing_ok; or -1 with a message in err.
 */
static int sk__conf_read(const char *path, int missing_ok, char **buf,
			 size_t *len, char *err, size_t cap)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int fd = -1, rc = -1;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (missing_ok && (errno == ENOENT || errno == ENOTDIR)) {
			rc = 1;
			goto out;
		}
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, cap, "%s: %s", path, strerror(EISDIR));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > SK_CONF_MAX)
		goto toobig;
	/* One byte more than the limit, to see a file that grew past it. */
	b = malloc(SK_CONF_MAX + 1);
	if (b == NULL) {
		snprintf(err, cap, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, SK_CONF_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > SK_CONF_MAX)
			goto toobig;
	}
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
	goto out;
toobig:
	snprintf(err, cap, "%s: larger than %d bytes", path, SK_CONF_MAX);
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Copy the span s[0..n) as a string into out[cap], or return -1 if it
 * does not fit. */
static int sk__span(const char *s, size_t n, char *out, size_t cap)
{
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Read and apply the config file at path. Returns -1 when all is well
 * (or, with missing_ok, when there is no such file), else an exit code
 * after the one-line error, which names the file and the line. */
static int sk__conf_load(struct sk__serve *sv, const char *path,
			 int missing_ok)
{
	static char value[SK_CONF_LINE_MAX + 1];
	char section[64] = "", key[64], err[512];
	struct sk_ini_item it;
	struct sk_ini p;
	char *buf;
	size_t len;
	int rc;

	rc = sk__conf_read(path, missing_ok, &buf, &len, err, sizeof(err));
	if (rc == 1)
		return -1;
	if (rc != 0) {
		return sk__fail(sv, 0, "%s", err);
	}
	sv->in_file = 1;
	snprintf(sv->conf, sizeof(sv->conf), "%s", path);
	sk_ini_init(&p, buf, len);
	while ((rc = sk_ini_next(&p, &it)) > 0) {
		if (rc == SK_INI_SECTION) {
			if (sk__span(it.name, it.name_len, section,
				     sizeof(section)) != 0) {
				snprintf(sv->err, sizeof(sv->err),
					 "unknown section [%.*s...]", 32,
					 it.name);
				break;
			}
			continue;
		}
		if (sk__span(it.name, it.name_len, key, sizeof(key)) != 0) {
			snprintf(sv->err, sizeof(sv->err),
				 "unknown setting '%.*s...'", 32, it.name);
			break;
		}
		/* Always fits: a value is shorter than its line. */
		sk__span(it.value, it.value_len, value, sizeof(value));
		if (!sk__ini_line(sv, section, key, value))
			break;
	}
	sv->in_file = 0;
	free(buf);
	if (rc < 0)
		snprintf(sv->err, sizeof(sv->err), "%s", sk_ini_strerror(rc));
	if (sv->err[0] != '\0') {
		return sk__fail(sv, 0, "%s:%zu: %s", path, p.line, sv->err);
	}
	return -1;
}

/* ---- the command line ---- */

/* What each long option we built stands for. */
struct sk__key {
	enum sk__kind kind;     /* what it sets */
	int svc;                /* service index, or -1 */
	const struct sk_opt *o; /* the declaration */
};

/* Build getopt's table from every declaration. Option values from 256
 * up index keys[]; the short forms are their letters. */
static int sk__options(struct option *opts, struct sk__key *keys,
		       char (*names)[64], char *shorts, size_t cap)
{
	size_t n = 0, ns = 0;

#define SK__ADD(nm, k, sv, op)                                               \
	do {                                                                 \
		if (n + 5 >= cap)                                            \
			return -1;                                           \
		snprintf(names[n], 64, "%s", nm);                            \
		opts[n].name = names[n];                                     \
		opts[n].has_arg = required_argument;                         \
		opts[n].flag = NULL;                                         \
		opts[n].val = 256 + (int)n;                                  \
		keys[n].kind = (k);                                          \
		keys[n].svc = (sv);                                          \
		keys[n].o = (op);                                            \
		n++;                                                         \
	} while (0)

	for (const struct sk_opt *o = sk__daemon_opts; o->name; o++)
		if (!(o->flags & SK_OPT_FILEONLY))
			SK__ADD(o->name, SK__DAEMON, -1, o);
	for (const struct sk_opt *o = sk_limit_opts; o->name; o++)
		SK__ADD(o->name, SK__LIMIT, -1, o);
	for (int i = 0; sk_services[i] != NULL; i++) {
		const struct sk_service *d = sk_services[i];
		char nm[64];

		for (const struct sk_opt *o = d->opts; o && o->name; o++) {
			snprintf(nm, sizeof(nm), "%s-%s", d->name, o->name);
			SK__ADD(nm, SK__SVC, i, o);
			if (o->flags & SK_OPT_BARE)
				SK__ADD(o->name, SK__SVC, i, o);
		}
		for (const struct sk_opt *o = sk_limit_opts; o->name; o++) {
			snprintf(nm, sizeof(nm), "%s-%s", d->name, o->name);
			SK__ADD(nm, SK__LIMIT, i, o);
		}
	}
#undef SK__ADD
	opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	opts[n++] = (struct option){ "syslog", no_argument, NULL, 'S' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	/* Leading ':': getopt reports nothing itself (sk_option_error). */
	ns += (size_t)snprintf(shorts, 32, ":c:qh");
	/* Short forms declared with a key: they stand for the key's long
	 * form, which the caller finds through keys[]. */
	for (size_t i = 0; i + SK__FIXED < n && ns + 3 < 32; i++) {
		if (keys[i].o->short_opt != 0 &&
		    (keys[i].kind == SK__DAEMON ||
		     (keys[i].o->flags & SK_OPT_BARE)) &&
		    strchr(shorts, keys[i].o->short_opt) == NULL) {
			shorts[ns++] = keys[i].o->short_opt;
			shorts[ns++] = ':';
			shorts[ns] = '\0';
		}
	}
	return (int)n;
}

/* ---- settings into services ---- */

/* Build one service's settings and limits from the defaults and the
 * kept assignments. Returns 0, or -1 with a message in err. */
static int sk__settle(const struct sk__serve *sv, int i, void **settings,
		      struct sk_svc_limits *lim, char *err, size_t cap)
{
	const struct sk_service *d = sk_services[i];
	char e[200];

	*settings = NULL;
	*lim = d->limits != NULL ? *d->limits : sk_limits_default;
	if (d->settings_size > 0) {
		*settings = calloc(1, d->settings_size);
		if (*settings == NULL) {
			snprintf(err, cap, "out of memory");
			return -1;
		}
		if (sk_opts_defaults(d->opts, *settings, e, sizeof(e)) != 0) {
			snprintf(err, cap, "%s: %s", d->name, e);
			return -1;
		}
	}
	for (int pass = 0; pass < 4; pass++) {
		for (size_t k = 0; k < sv->nset; k++) {
			const struct sk__set *st = &sv->set[k];

			if (st->pass != pass || (st->svc != i && st->svc != -1))
				continue;
			if (st->kind == SK__LIMIT)
				sk_opt_set(st->o, lim, st->val, e, sizeof(e));
			else if (st->svc == i)
				sk_opt_set(st->o, *settings, st->val, e,
					   sizeof(e));
		}
	}
	/* A hard cap below the pause mark would close peers that a pause
	 * would have slowed. */
	if (lim->pause_output > lim->max_output)
		lim->pause_output = lim->max_output;
	if (d->check != NULL && *settings != NULL &&
	    d->check(*settings, e, sizeof(e)) != 0) {
		snprintf(err, cap, "%s: %s", d->name, e);
		return -1;
	}
	return 0;
}

/* ---- help ---- */

void sk_serve_help(FILE *f)
{
	fputs("usage: sockit serve [OPTIONS] [SERVICE[/tcp|/udp][=[ADDR]:PORT] ...]\n"
	      "\n"
	      "Run the daemon. With no SERVICE it serves every service on 127.0.0.1\n"
	      "and ::1 on its default port; each SERVICE argument picks a service, and\n"
	      "optionally one transport and an address. An empty ADDR means 127.0.0.1\n"
	      "and ::1; 0.0.0.0 means every IPv4 address and [::] every IPv6 address.\n"
	      "PORT 0 picks a free port. SERVICE=unix:PATH listens on a unix stream\n"
	      "socket (mode 0600) instead.\n"
	      "\n"
	      "services:\n", f);
	for (int i = 0; sk_services[i] != NULL; i++) {
		const struct sk_service *d = sk_services[i];
		const char *t = d->transports == (SK_TCP | SK_UDP) ? "tcp,udp"
				: d->transports == SK_TCP	    ? "tcp"
								    : "udp";

		fprintf(f, "  %-8s %-8s %-6u %s\n", d->name, t, d->port,
			d->summary);
	}
	fputs("\n"
	      "options:\n"
	      "  -c, --config FILE           read settings from FILE (default\n"
	      "                              " SK_CONF_DEFAULT ", read only\n"
	      "                              if it exists; see sockit.conf(5))\n"
	      "  -q, --quiet                 log only problems\n"
	      "      --syslog                log to syslog, not to standard error\n"
	      "  -h, --help                  show this help\n", f);
	sk_opts_help(f, NULL, sk__daemon_opts);
	fprintf(f, "\n"
		"limits, for every service (--KEY), or for one (--SERVICE-KEY):\n");
	sk_opts_help(f, NULL, sk_limit_opts);
	fprintf(f, "  platform defaults: max-conn %u, max-conn-per-source %u,\n"
		"  idle-timeout %u, request-timeout %u, max-output %u, rate %u,\n"
		"  burst %u, global-rate %u, global-burst %u, out-rate %u\n",
		sk_limits_default.max_conn, sk_limits_default.max_conn_source,
		sk_limits_default.idle_timeout,
		sk_limits_default.request_timeout,
		sk_limits_default.max_output, sk_limits_default.rate.rate,
		sk_limits_default.rate.burst, sk_limits_default.global.rate,
		sk_limits_default.global.burst, sk_limits_default.out.rate);
	for (int i = 0; sk_services[i] != NULL; i++) {
		const struct sk_service *d = sk_services[i];

		if (d->opts == NULL || d->opts[0].name == NULL)
			continue;
		fprintf(f, "\n%s options ([%s] in the config file):\n", d->name,
			d->name);
		sk_opts_help(f, d->name, d->opts);
	}
	fputs("\n"
	      "In the config file (sockit.conf(5)), [serve] holds 'service = SPEC'\n"
	      "lines, the daemon's keys and limits for every service; [SERVICE] holds\n"
	      "that service's keys and limits, without the prefix (for example '[ntp]'\n"
	      "'threads = 2'). SOCKIT_CONFIG=FILE names another default file.\n"
	      "The command line wins over the file, and a key for one service wins\n"
	      "over the same key for every service. SIGINT or SIGTERM stops the\n"
	      "daemon gracefully. SIGHUP reloads: the file and the command line are\n"
	      "read again; new settings apply to new requests, listeners no longer\n"
	      "named close, new ones are bound, unchanged ones keep their sockets.\n"
	      "Anything wrong (a bad file, a port that cannot be bound) is logged\n"
	      "and changes nothing. user, syslog, log-time, control, ntp threads\n"
	      "and busy-poll, and chat console take a restart.\n"
	      "\n"
	      "Under systemd, sockets it hands over (socket activation) are served\n"
	      "too: each by the service its FileDescriptorName= names, over the\n"
	      "transport its type says (TCP, UDP, or a unix stream socket for a\n"
	      "service with TCP). The defaults are then not bound, so a service\n"
	      "handed no socket is not served unless a SERVICE names it. A socket\n"
	      "named after no service, or of a transport its service lacks, is a\n"
	      "usage error. With NOTIFY_SOCKET set, READY=1 is sent once every\n"
	      "socket is up and privileges are dropped, STOPPING=1 at shutdown.\n"
	      "\n"
	      "example: sockit serve daytime=0.0.0.0:13 timefmt/udp=:8083 welcome\n",
	      f);
}

/* ---- start-up ---- */

/* Raise the open-file limit to the hard limit, for many idle peers, and
 * return the connections that fit in it (with room for listeners and
 * workers); *nofile is the limit (0 if unknown). */
static unsigned sk__raise_nofile(unsigned long long *nofile)
{
	struct rlimit rl;

	*nofile = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	*nofile = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 30)
		return 1u << 30;
	return rl.rlim_cur > 512 ? (unsigned)(rl.rlim_cur - 256)
				 : (unsigned)(rl.rlim_cur / 2);
}

/*
 * The control socket for `sockit status`, bound while we are still who
 * started us and handed to the user we become. One named with control
 * must work; the default's failure (another daemon has it, no runtime
 * directory) is a warning, as status is not what the daemon is for.
 * Returns 0, or -1 (reported).
 */
static int sk__control(struct sk_server *srv, const struct sk__serve *sv)
{
	char path[SK_UNIX_PATH_MAX], err[700];
	int named = sv->daemon.control[0] != '\0', rc, none = 0;

	if (strcmp(sv->daemon.control, "none") == 0)
		none = 1;
	else if (named)
		snprintf(path, sizeof(path), "%s", sv->daemon.control);
	else if (sk_status_default_path(path, sizeof(path)) != 0)
		none = 1;
	/* SIGUSR1 logs the status even without a socket. */
	rc = sk_status_start(srv, none ? NULL : path,
			     sv->daemon.user[0] != '\0' ? sv->uid : (uid_t)-1,
			     sv->gid, err, sizeof(err));
	if (rc == 0) {
		if (!none)
			sk_log_info("control socket %s", path);
		return 0;
	}
	if (rc == -ENOMEM || none) {
		sk_log_warnx("serve: %s", err);
		return -1;
	}
	if (named) {
		sk_log_warnx("serve: control socket %s", err);
		return -1;
	}
	sk_log_warnx("serve: no control socket (sockit status will not reach "
		     "this daemon): %s", err);
	return 0;
}

/* One listener a spec asks for. */
struct sk__want {
	int svc;                      /* index in sk_services */
	unsigned transport;           /* SK_TCP, SK_UDP or SK_UNIX */
	struct sockaddr_storage addr; /* TCP, UDP: the address asked for */
	const char *path;             /* SK_UNIX: the path (in its spec) */
	int optional;                 /* ::1 of a spec without an address:
				       * skipped, with a warning, on a host
				       * without IPv6 loopback */
	struct sk_listener *l;        /* its listener, once bound or found */
	int fresh;                    /* bound by this reload */
	int later;                    /* bound once the listeners a reload
				       * closes are closed */
};

/* Most listeners the specs may ask for; the server holds fewer. */
#define SK__MAX_WANTS (SK_MAX_LISTENERS * 4)

/*
 * Every listener the specs of sv ask for, into w (cap entries): without
 * an address, a spec asks for 127.0.0.1 and ::1; a name asks for each
 * address it resolves to. Returns how many, or -1 with a message in err.
 */
static int sk__wants(const struct sk__serve *sv, struct sk__want *w,
		     size_t cap, char *err, size_t errcap)
{
	size_t n = 0;

	for (size_t k = 0; k < sv->specs.n; k++) {
		const struct sk_spec *spec = &sv->specs.spec[k];
		const struct sk_service *svc = sk_service_find(spec->service);
		uint16_t port = spec->has_port ? spec->port : svc->port;
		const char *hosts[2] = { "127.0.0.1", "::1" };
		size_t nhosts = 2;
		unsigned want = spec->transports ? spec->transports
						 : svc->transports;
		int si = 0;

		while (sk_services[si] != svc)
			si++;
		if (spec->transports == SK_UNIX) {
			if (n >= cap)
				goto many;
			memset(&w[n], 0, sizeof(w[n]));
			w[n].svc = si;
			w[n].transport = SK_UNIX;
			w[n].path = spec->host;
			n++;
			continue;
		}
		if (spec->host[0] != '\0') {
			hosts[0] = spec->host;
			nhosts = 1;
		}
		for (unsigned t = SK_TCP; t <= SK_UDP; t <<= 1) {
			if (!(want & t))
				continue;
			for (size_t h = 0; h < nhosts; h++) {
				struct sockaddr_storage addr[8];
				int got;

				got = sk_resolve(hosts[h], port,
						 t == SK_TCP ? SOCK_STREAM
							     : SOCK_DGRAM,
						 1, addr, 8);
				if (got < 0) {
					snprintf(err, errcap, "%s/%s %s: %s",
						 svc->name,
						 t == SK_TCP ? "tcp" : "udp",
						 hosts[h], gai_strerror(got));
					return -1;
				}
				for (int i = 0; i < got; i++) {
					if (n >= cap)
						goto many;
					memset(&w[n], 0, sizeof(w[n]));
					w[n].svc = si;
					w[n].transport = t;
					w[n].addr = addr[i];
					w[n].optional = nhosts == 2 && h == 1;
					n++;
				}
			}
		}
	}
	return (int)n;
many:
	snprintf(err, errcap, "more than %d listeners", (int)cap);
	return -1;
}

/* "daytime/udp 127.0.0.1:13" for want w, as asked. */
static void sk__want_name(const struct sk__want *w, char *buf, size_t cap)
{
	char as[SK_ADDRSTR_MAX];

	if (w->transport == SK_UNIX) {
		snprintf(buf, cap, "%s/unix %s", sk_services[w->svc]->name,
			 w->path);
		return;
	}
	sk_sockaddr_str((const struct sockaddr *)&w->addr, as, sizeof(as));
	snprintf(buf, cap, "%s/%s %s", sk_services[w->svc]->name,
		 w->transport == SK_TCP ? "tcp" : "udp", as);
}

/*
 * Bind want w for service instance v. Returns 0 (w->l is set, or stays
 * NULL for an optional address the host lacks, with a warning), or a
 * libuv error with a message in err. Says "listening" on standard output
 * at start, in the log at a reload.
 */
static int sk__bind_want(struct sk_server *srv, struct sk_svc *v,
			 struct sk__want *w, int reloading, char *err,
			 size_t cap)
{
	char name[SK_UNIX_PATH_MAX + 64];
	int rc;

	sk__want_name(w, name, sizeof(name));
	if (w->transport == SK_UNIX)
		rc = sk_server_listen_unix(srv, v, w->path);
	else
		rc = sk_server_listen(srv, v, w->transport,
				      (const struct sockaddr *)&w->addr, NULL);
	if ((rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT) && w->optional) {
		if (!reloading)
			sk_log_warn(rc, "%s: skipped", name);
		return 0;
	}
	if (rc != 0) {
		snprintf(err, cap, "%s: %s", name, sk_strerror(rc));
		return rc;
	}
	/* The newest listener is the last. */
	w->l = sk_server_listener_at(srv, sk_server_listeners(srv) - 1);
	if (reloading)
		sk_log_info("%s: listening", sk_server_listener_name(w->l));
	else
		printf("sockit: %s: listening\n",
		       sk_server_listener_name(w->l));
	return 0;
}

/* Serve a socket systemd handed over, as sk__bind_want() serves one it
 * binds: the same listener, limits and "listening" line. Returns 0 or -1
 * (already reported). */
static int sk__adopt(struct sk_server *srv, struct sk_svc *v,
		     const struct sk_sd_socket *h)
{
	static const char *const tn[] = { "", "tcp", "udp", "", "unix" };
	const char *name = h->name;
	int rc;

	rc = sk_server_adopt(srv, v, h->transport, h->fd, NULL);
	if (rc != 0) {
		sk_log_warnx("%s/%s %s: socket %d from systemd: %s", name,
			     tn[h->transport], h->where, h->fd,
			     sk_strerror(rc));
		return -1;
	}
	printf("sockit: %s/%s %s: listening\n", name, tn[h->transport],
	       h->where);
	return 0;
}

/* ---- checks before anything is bound ---- */

/* One address a listener spec takes, to find two specs that take the
 * same one (they would fail with "address already in use", or, for UDP
 * and ntp's SO_REUSEPORT, share it silently). */
struct sk__take {
	unsigned transport;     /* SK_TCP, SK_UDP or SK_UNIX */
	int family;             /* AF_INET or AF_INET6; 0: a name or path */
	unsigned char addr[16]; /* the address, when family is set */
	const char *text;       /* the host or the unix path as written */
	uint16_t port;          /* the port; 0 takes none (the kernel picks) */
	size_t spec;            /* which spec */
};

/* Do a and b take the same address? A wildcard address takes its
 * family's port on every address. */
static int sk__takes_same(const struct sk__take *a, const struct sk__take *b)
{
	static const unsigned char any[16];
	size_t n;

	if (a->transport != b->transport)
		return 0;
	if (a->transport == SK_UNIX)
		return strcmp(a->text, b->text) == 0;
	if (a->port == 0 || a->port != b->port)
		return 0;
	if (a->family == 0 || b->family == 0)
		return a->family == b->family &&
		       strcasecmp(a->text, b->text) == 0;
	if (a->family != b->family)
		return 0;
	n = a->family == AF_INET ? 4 : 16;
	return memcmp(a->addr, b->addr, n) == 0 ||
	       memcmp(a->addr, any, n) == 0 || memcmp(b->addr, any, n) == 0;
}

/* How take k's listener was asked for, for a message: a spec as it was
 * written, or a socket from systemd. */
static const char *sk__take_text(const struct sk__serve *sv, size_t k,
				 char *buf, size_t cap)
{
	const struct sk_sd_socket *h;

	if (k < SK_MAX_LISTENERS)
		return sk__spec_text(&sv->specs, k);
	h = &sv->handed[k - SK_MAX_LISTENERS];
	snprintf(buf, cap, "%s (socket %d from systemd)", h->name, h->fd);
	return buf;
}

/* Refuse two listeners that take the same address: two specs, or a spec
 * and a socket systemd handed over (which, for UDP, might otherwise
 * share it silently). Returns -1, or an exit code after the usage
 * error. */
static int sk__check_clashes(struct sk__serve *sv)
{
	static struct sk__take t[SK_MAX_LISTENERS * 5];
	static const char *const loop[2] = { "127.0.0.1", "::1" };
	const struct sk__specs *sp = &sv->specs;
	char ta[SK_HOST_MAX + 64], tb[SK_HOST_MAX + 64];
	size_t nt = 0;

	for (size_t j = 0; j < sv->nhanded; j++) {
		const struct sk_sd_socket *h = &sv->handed[j];
		struct sk__take *x = &t[nt++];
		const struct sockaddr *sa = (const struct sockaddr *)&h->addr;
		int v6;

		memset(x, 0, sizeof(*x));
		x->transport = h->transport;
		x->text = h->where;
		x->spec = SK_MAX_LISTENERS + j;
		if (h->transport == SK_UNIX)
			continue;
		x->family = sa->sa_family;
		memcpy(x->addr, sk_sockaddr_bytes(sa, &v6), v6 ? 16 : 4);
		x->port = sk_sockaddr_port(sa);
	}
	for (size_t k = 0; k < sp->n; k++) {
		const struct sk_spec *s = &sp->spec[k];
		const struct sk_service *d = sk_service_find(s->service);
		unsigned want = s->transports ? s->transports : d->transports;
		int def = s->host[0] == '\0';

		if (s->transports == SK_UNIX) {
			t[nt++] = (struct sk__take){ .transport = SK_UNIX,
						     .text = s->host,
						     .spec = k };
			continue;
		}
		for (unsigned tr = SK_TCP; tr <= SK_UDP; tr <<= 1) {
			if (!(want & tr))
				continue;
			for (int h = 0; h < (def ? 2 : 1); h++) {
				struct sk__take *x = &t[nt++];
				const char *host = def ? loop[h] : s->host;

				memset(x, 0, sizeof(*x));
				x->transport = tr;
				x->text = host;
				x->port = s->has_port ? s->port : d->port;
				x->spec = k;
				if (inet_pton(AF_INET, host, x->addr) == 1)
					x->family = AF_INET;
				else if (inet_pton(AF_INET6, host, x->addr) == 1)
					x->family = AF_INET6;
			}
		}
	}
	for (size_t j = 1; j < nt; j++) {
		for (size_t i = 0; i < j; i++) {
			const struct sk__take *a = &t[i], *b = &t[j];

			if (a->spec == b->spec || !sk__takes_same(a, b) ||
			    (a->spec >= SK_MAX_LISTENERS &&
			     b->spec >= SK_MAX_LISTENERS))
				continue;
			if (b->transport == SK_UNIX)
				return sk__fail(sv, 1, "'%s' and '%s' "
					"both listen on unix %s",
					sk__take_text(sv, a->spec, ta,
						      sizeof(ta)),
					sk__take_text(sv, b->spec, tb,
						      sizeof(tb)), b->text);
			return sk__fail(sv, 1, "'%s' and '%s' both "
				"listen on %s %s%s%s:%u",
				sk__take_text(sv, a->spec, ta, sizeof(ta)),
				sk__take_text(sv, b->spec, tb, sizeof(tb)),
				b->transport == SK_TCP ? "tcp" : "udp",
				b->family == AF_INET6 ? "[" : "", b->text,
				b->family == AF_INET6 ? "]" : "",
				(unsigned)b->port);
		}
	}
	return -1;
}

/*
 * Resolve --user: a name, or a numeric user ID. A number that has a
 * passwd entry gets that entry's group; one without gets the group of
 * the same number (never root's, 0, unless the ID is 0). Returns 0, or
 * -1 when there is no such user.
 */
static int sk__user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;
	unsigned long n;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL && sk_parse_uint(user, 0, 0xfffffffeul, &n) == 0) {
		pw = getpwuid((uid_t)n);
		if (pw == NULL) {
			*uid = (uid_t)n;
			*gid = (gid_t)n;
			return 0;
		}
	}
	if (pw == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Which services sv serves: want[i] for sk_services[i]. */
static void sk__served(const struct sk__serve *sv, int *want)
{
	for (size_t j = 0; j < sv->nhanded; j++)
		want[sv->handed_svc[j]] = 1;
	for (size_t k = 0; k < sv->specs.n; k++) {
		const struct sk_service *d =
			sk_service_find(sv->specs.spec[k].service);

		for (int i = 0; sk_services[i] != NULL; i++)
			if (sk_services[i] == d)
				want[i] = 1;
	}
}

/* Everything that can be known wrong before binding, once the settings
 * and specs are gathered. Returns -1, or an exit code after the usage
 * error. */
static int sk__check(struct sk__serve *sv)
{
	int served[SK_MAX_LISTENERS] = { 0 };
	int rc;

	rc = sk__check_clashes(sv);
	if (rc >= 0)
		return rc;
	sk__served(sv, served);
	/* A command-line option of a service that is not served would be
	 * ignored; the file may well hold sections for services that this
	 * command line does not serve. */
	for (size_t k = 0; k < sv->nset; k++) {
		const struct sk__set *st = &sv->set[k];

		if (st->pass >= 2 && st->svc >= 0 && !served[st->svc])
			return sk__fail(sv, 1, "%s: %s is not being "
					      "served", st->cli,
					      sk_services[st->svc]->name);
	}
	/* At a reload, the user is the one the daemon became (kept). */
	if (!sv->reloading && sv->daemon.user[0] != '\0' &&
	    sk__user(sv->daemon.user, &sv->uid, &sv->gid) != 0)
		return sk_usage_error("serve", "--user %s: no such user",
				      sv->daemon.user);
	return -1;
}

/* The names of every service, "welcome, chat, ...", for messages. */
static void sk__names(char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; sk_services[i] != NULL && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",
					i ? ", " : "", sk_services[i]->name);
}

/*
 * Take the sockets systemd handed over and find each one's service: its
 * FileDescriptorName= must be a service's name, and its type one of that
 * service's transports (a unix stream socket for a service with TCP).
 * Returns -1 when all is well (or there are none), else an exit code
 * after the usage error.
 */
static int sk__handed(struct sk__serve *sv)
{
	static const char *const tn[] = { "", "tcp", "udp", "", "unix" };
	char err[512], names[128];
	int n;

	n = sk_sd_listen(sv->handed, SK_MAX_LISTENERS, err, sizeof(err));
	if (n < 0)
		return sk_usage_error("serve", "%s", err);
	sv->nhanded = (size_t)n;
	for (size_t j = 0; j < sv->nhanded; j++) {
		const struct sk_sd_socket *h = &sv->handed[j];
		const struct sk_service *d = sk_service_find(h->name);
		unsigned need = h->transport == SK_UNIX ? SK_TCP : h->transport;
		int i = 0;

		if (d == NULL) {
			sk__names(names, sizeof(names));
			return sk_usage_error("serve", "socket %d from systemd "
				"(%s %s) is named '%s', which is no service "
				"(know %s): set its FileDescriptorName= to "
				"the service's name", h->fd, tn[h->transport],
				h->where, h->name, names);
		}
		if (!(d->transports & need))
			return sk_usage_error("serve", "socket %d from systemd "
				"(%s %s) is named '%s', but %s has no %s "
				"transport", h->fd, tn[h->transport], h->where,
				h->name, d->name,
				h->transport == SK_UNIX ? "stream (tcp)"
							: tn[h->transport]);
		while (sk_services[i] != d)
			i++;
		sv->handed_svc[j] = i;
	}
	return -1;
}

static struct sk__serve sk__sv;

/* Parse everything; returns -1 when all is well, else an exit code. */
static int sk__parse(struct sk__serve *sv, int argc, char **argv)
{
	static struct option opts[SK__MAX_KEYS];
	static struct sk__key keys[SK__MAX_KEYS];
	static char names[SK__MAX_KEYS][64];
	const char *config = NULL;
	char shorts[32], err[256];
	int c, idx, rc, n, quiet = -1, use_syslog = -1;
	size_t nset;
	/* The command line is read twice: for --config and -h first, then,
	 * after the file, for the settings, which must win over it. */
	n = sk__options(opts, keys, names, shorts, SK__MAX_KEYS);
	if (n < 0) {
		sk_log_errx("serve: too many settings");
		return SK_EXIT_FAIL;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, &idx)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'h' && !sv->reloading)
			return sk_help("serve");
		else if (c == '?' || c == ':')
			return sk_option_error("serve", argv, c);
	}
	/* -c FILE must be there; the default file is read if it is. */
	if (config != NULL) {
		rc = sk__conf_load(sv, config, 0);
	} else {
		config = getenv("SOCKIT_CONFIG");
		if (config == NULL)
			config = SK_CONF_DEFAULT;
		rc = config[0] != '\0' ? sk__conf_load(sv, config, 1) : -1;
	}
	if (rc >= 0)
		return rc;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, &idx)) != -1) {
		const struct sk__key *k = NULL;

		if (c == 'c' || c == 'h')
			continue;
		if (c == 'q') {
			quiet = 1;
			continue;
		}
		if (c == 'S') {
			use_syslog = 1;
			continue;
		}
		if (c >= 256) {
			k = &keys[c - 256];
		} else {
			for (int i = 0; i < n - SK__FIXED; i++)
				if (keys[i].o->short_opt == c &&
				    (keys[i].kind == SK__DAEMON ||
				     (keys[i].o->flags & SK_OPT_BARE))) {
					k = &keys[i];
					break;
				}
		}
		if (k == NULL)
			return sk__fail(sv, 1, "bad option");
		nset = sv->nset;
		if (sk__assign(sv, k->kind, k->svc, k->o, optarg, err,
			       sizeof(err)) != 0)
			return sk__fail(sv, 1, "--%s", err);
		if (sv->nset > nset && c >= 256)
			snprintf(sv->set[nset].cli, sizeof(sv->set[nset].cli),
				 "--%s", names[c - 256]);
		else if (sv->nset > nset)
			snprintf(sv->set[nset].cli, sizeof(sv->set[nset].cli),
				 "-%c", c);
	}
	if (quiet >= 0)
		sv->daemon.quiet = 1;
	if (use_syslog >= 0)
		sv->daemon.syslog = 1;
	for (int i = optind; i < argc; i++)
		if (sk__add_spec(&sv->specs, argv[i], err, sizeof(err)) != 0)
			return sk__fail(sv, 1, "%s", err);
	/* A reload keeps the sockets systemd handed over at start. */
	rc = sv->reloading ? -1 : sk__handed(sv);
	if (rc >= 0)
		return rc;
	if (sv->specs.n == 0)
		sv->specs = sv->file_specs;
	/* Sockets from systemd stand for the defaults: a service it handed
	 * none is not served unless a spec names it. */
	if (sv->specs.n == 0 && sv->nhanded == 0) {
		for (size_t i = 0; sk_services[i] != NULL; i++)
			sk__add_spec(&sv->specs, sk_services[i]->name, err,
				     sizeof(err));
	}
	return sk__check(sv);
}

/* ---- running, and reloading ---- */

/* The running daemon, as a reload needs it. */
struct sk__run {
	struct sk_server *srv;                 /* the server */
	int argc;                              /* the command line, read */
	char **argv;                           /* again at each reload */
	struct sk__serve *sv;                  /* the settings in force */
	struct sk_svc *inst[SK_MAX_LISTENERS]; /* by index in sk_services */
	unsigned max_conn;                     /* the daemon's connections */
	unsigned long long nofile;             /* the open-file limit */
	int warned;                            /* max-conn was clamped */
};

static struct sk__run sk__run;

/* Fresh settings: the daemon's defaults, and a scratch struct per
 * service for checking values. Returns 0, or -1 with a message in err. */
static int sk__serve_init(struct sk__serve *sv, char *err, size_t cap)
{
	if (sk_opts_defaults(sk__daemon_opts, &sv->daemon, err, cap) != 0)
		return -1;
	for (size_t i = 0; sk_services[i] != NULL; i++) {
		size_t size = sk_services[i]->settings_size;

		sv->scratch[i] = calloc(1, size > 0 ? size : 1);
		if (sv->scratch[i] == NULL) {
			snprintf(err, cap, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Free what sk__serve_init() and the parse allocated (not sv). */
static void sk__serve_free(struct sk__serve *sv)
{
	for (size_t i = 0; sk_services[i] != NULL; i++) {
		free(sv->scratch[i]);
		sv->scratch[i] = NULL;
	}
	for (size_t k = 0; k < sv->nset; k++)
		free(sv->set[k].val);
	sv->nset = 0;
}

/* Every served service's settings and limits, checked as a whole (a
 * service's own check may refuse a combination). Returns 0, or -1 with a
 * message in err. */
static int sk__settle_all(const struct sk__serve *sv, const int *want,
			  void **settings, struct sk_svc_limits *lim,
			  char *err, size_t cap)
{
	for (size_t i = 0; sk_services[i] != NULL; i++)
		if (want[i] && sk__settle(sv, (int)i, &settings[i], &lim[i],
					  err, cap) != 0)
			return -1;
	return 0;
}

/* Service i's instance, started with *settings (which the server takes)
 * on first use. NULL when it cannot start (logged). */
static struct sk_svc *sk__instance(struct sk__run *r, size_t i,
				   void **settings,
				   const struct sk_svc_limits *lim)
{
	const struct sk_service *d = sk_services[i];
	int e;

	if (r->inst[i] != NULL)
		return r->inst[i];
	/* Once: the daemon's total is one number. */
	if ((d->transports & SK_TCP) && !r->warned &&
	    lim->max_conn > r->max_conn) {
		sk_log_warnx("serve: max-conn %u (%s) is clamped to %u: the "
			     "open-file limit (%llu) allows the daemon no more "
			     "connections in all", lim->max_conn, d->name,
			     r->max_conn, r->nofile);
		r->warned = 1;
	}
	r->inst[i] = sk_server_add(r->srv, d, *settings, lim, &e);
	*settings = NULL; /* the server's, or freed */
	if (r->inst[i] == NULL)
		sk_log_err(e, "%s: cannot start", d->name);
	return r->inst[i];
}

/* The daemon's own settings at a reload: those that a running daemon
 * can change take effect; the others are kept, with a warning. */
static void sk__reload_daemon(struct sk__run *r, struct sk__serve *nv)
{
	const struct sk__daemon *old = &r->sv->daemon;
	struct sk__daemon *d = &nv->daemon;
	struct sk_server_config cfg = *sk_server_cfg(r->srv);

	if (strcmp(d->user, old->user) != 0 || d->syslog != old->syslog ||
	    d->log_time != old->log_time ||
	    strcmp(d->control, old->control) != 0) {
		sk_log_warnx("reload: user, syslog, log-time and control take "
			     "a restart; keeping them");
		memcpy(d->user, old->user, sizeof(d->user));
		d->syslog = old->syslog;
		d->log_time = old->log_time;
		memcpy(d->control, old->control, sizeof(d->control));
	}
	sk_log_quiet((int)d->quiet);
	cfg.log_interval = d->log_interval;
	cfg.max_output = d->max_output;
	sk_server_set_cfg(r->srv, &cfg);
}

/*
 * SIGHUP: read the config file and the command line again, as at start.
 * Everything is checked, the services prepare, and new listeners are
 * bound, before anything changes; a failure in any step is logged and
 * leaves the daemon as it was. Then the new settings take effect, the
 * listeners no longer asked for close, and the ones asked for and still
 * bound keep their sockets. Sockets from systemd are kept as they are.
 */
static void sk__reload(void *arg)
{
	static struct sk__want w[SK__MAX_WANTS];
	struct sk__run *r = arg;
	struct sk__serve *nv = calloc(1, sizeof(*nv));
	void *settings[SK_MAX_LISTENERS] = { NULL };
	void *pending[SK_MAX_LISTENERS] = { NULL };
	int prepared[SK_MAX_LISTENERS] = { 0 };
	int want[SK_MAX_LISTENERS] = { 0 };
	struct sk_svc_limits lim[SK_MAX_LISTENERS];
	struct sk_listener *gone[SK_MAX_LISTENERS];
	size_t nsvc = sk__nsvc(), ngone = 0, nnew = 0, nfail = 0;
	char err[512] = "";
	int n = 0, rc;

	sk_sd_reloading();
	if (nv == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto refuse;
	}
	nv->reloading = 1;
	memcpy(nv->handed, r->sv->handed, sizeof(nv->handed));
	memcpy(nv->handed_svc, r->sv->handed_svc, sizeof(nv->handed_svc));
	nv->nhanded = r->sv->nhanded;
	nv->uid = r->sv->uid;
	nv->gid = r->sv->gid;
	if (sk__serve_init(nv, err, sizeof(err)) != 0)
		goto refuse;
	if (sk__parse(nv, r->argc, r->argv) >= 0) {
		snprintf(err, sizeof(err), "%s", nv->rerr);
		goto refuse;
	}
	sk__served(nv, want);
	if (sk__settle_all(nv, want, settings, lim, err, sizeof(err)) != 0)
		goto refuse;
	n = sk__wants(nv, w, SK__MAX_WANTS, err, sizeof(err));
	if (n < 0)
		goto refuse;
	/* The services that run already prepare; nothing changes yet. */
	for (size_t i = 0; i < nsvc; i++) {
		char e[400];

		if (!want[i] || r->inst[i] == NULL)
			continue;
		if (sk_svc_reload_prepare(r->inst[i], settings[i], &pending[i],
					  e, sizeof(e)) != 0) {
			snprintf(err, sizeof(err), "%s: %s",
				 sk_services[i]->name, e);
			goto abandon;
		}
		prepared[i] = 1;
	}
	/* A service served for the first time starts now, on its new
	 * settings (an instance that then serves nothing is harmless). */
	for (size_t i = 0; i < nsvc; i++) {
		if (want[i] && r->inst[i] == NULL &&
		    sk__instance(r, i, &settings[i], &lim[i]) == NULL) {
			snprintf(err, sizeof(err), "%s: cannot start",
				 sk_services[i]->name);
			goto abandon;
		}
	}
	/* Listeners asked for and bound already keep their sockets. */
	for (int k = 0; k < n; k++) {
		struct sk_listener *l = sk_server_listener_find(
			r->srv, r->inst[w[k].svc], w[k].transport,
			(const struct sockaddr *)&w[k].addr, w[k].path);

		for (int j = 0; j < k && l != NULL; j++)
			if (w[j].l == l)
				l = NULL; /* two alike: the second binds anew */
		w[k].l = l;
	}
	for (size_t i = 0; i < sk_server_listeners(r->srv); i++) {
		struct sk_listener *l = sk_server_listener_at(r->srv, i);
		int kept = sk_server_listener_handed(l);

		for (int k = 0; k < n && !kept; k++)
			kept = w[k].l == l;
		if (!kept)
			gone[ngone++] = l;
	}
	/* New ones are bound before any closes, so that a failure leaves
	 * all as it was; one that needs an address a closing listener
	 * holds waits for it. A unix socket's file would be taken from the
	 * closing one (and then removed with it), so it always waits. */
	for (int k = 0; k < n; k++) {
		if (w[k].l != NULL)
			continue;
		rc = UV_EADDRINUSE;
		if (w[k].transport != SK_UNIX)
			rc = sk__bind_want(r->srv, r->inst[w[k].svc], &w[k], 1,
					   err, sizeof(err));
		for (size_t j = 0; rc == UV_EADDRINUSE && j < ngone; j++)
			w[k].later |= sk_server_listener_takes(
				gone[j], w[k].transport,
				(const struct sockaddr *)&w[k].addr,
				w[k].path);
		if (w[k].later)
			continue;
		if (w[k].transport == SK_UNIX)
			rc = sk__bind_want(r->srv, r->inst[w[k].svc], &w[k], 1,
					   err, sizeof(err));
		if (rc != 0)
			goto unbind;
		w[k].fresh = w[k].l != NULL;
		nnew += w[k].fresh;
	}
	/* Commit. */
	for (size_t i = 0; i < nsvc; i++) {
		if (prepared[i])
			sk_svc_reload_finish(r->inst[i], settings[i], &lim[i],
					     pending[i], 1);
		prepared[i] = 0;
	}
	for (size_t j = 0; j < ngone; j++) {
		sk_log_info("%s: closed", sk_server_listener_name(gone[j]));
		sk_server_unlisten(r->srv, gone[j]);
	}
	for (int k = 0; k < n; k++) {
		if (!w[k].later)
			continue;
		if (sk__bind_want(r->srv, r->inst[w[k].svc], &w[k], 1, err,
				  sizeof(err)) != 0) {
			sk_log_errx("reload: %s", err);
			nfail++;
		} else {
			nnew += w[k].l != NULL;
		}
	}
	sk__reload_daemon(r, nv);
	sk_log_info("reloaded %s: %zu socket%s, %zu new, %zu closed%s",
		    nv->conf[0] != '\0' ? nv->conf : "(no config file)",
		    sk_server_listeners(r->srv),
		    sk_server_listeners(r->srv) == 1 ? "" : "s", nnew, ngone,
		    nfail > 0 ? ", some not bound (above)" : "");
	sk__serve_free(r->sv);
	if (r->sv != &sk__sv)
		free(r->sv);
	r->sv = nv;
	for (size_t i = 0; i < nsvc; i++)
		free(settings[i]);
	sk_sd_ready(sk_server_listeners(r->srv), r->sv->nhanded);
	return;
unbind:
	for (int k = 0; k < n; k++)
		if (w[k].fresh)
			sk_server_unlisten(r->srv, w[k].l);
abandon:
	for (size_t i = 0; i < nsvc; i++)
		if (prepared[i])
			sk_svc_reload_finish(r->inst[i], settings[i], &lim[i],
					     pending[i], 0);
refuse:
	sk_log_errx("reload refused, nothing changed: %s", err);
	for (size_t i = 0; i < nsvc; i++)
		free(settings[i]);
	if (nv != NULL)
		sk__serve_free(nv);
	free(nv);
	sk_sd_ready(sk_server_listeners(r->srv), r->sv->nhanded);
}

int sk_cmd_serve(int argc, char **argv)
{
	static struct sk__want w[SK__MAX_WANTS];
	struct sk__run *r = &sk__run;
	struct sk__serve *sv = &sk__sv;
	struct sk_server_config scfg;
	/* Each served service's settings, until the server owns them. */
	void *settings[SK_MAX_LISTENERS] = { NULL };
	struct sk_svc_limits lim[SK_MAX_LISTENERS];
	int want[SK_MAX_LISTENERS] = { 0 };
	size_t nsvc = sk__nsvc();
	char err[512];
	int rc = SK_EXIT_FAIL, n;

	memset(sv, 0, sizeof(*sv));
	memset(r, 0, sizeof(*r));
	r->argc = argc;
	r->argv = argv;
	r->sv = sv;
	if (sk__serve_init(sv, err, sizeof(err)) != 0) {
		sk_log_errx("serve: %s", err);
		goto out;
	}
	rc = sk__parse(sv, argc, argv);
	if (rc >= 0)
		goto out;
	/* Everything is checked before anything is bound. */
	sk__served(sv, want);
	if (sk__settle_all(sv, want, settings, lim, err, sizeof(err)) != 0) {
		rc = sk_usage_error("serve", "%s", err);
		goto out;
	}
	rc = SK_EXIT_FAIL;
	sk_log_quiet((int)sv->daemon.quiet);
	sk_log_init((int)sv->daemon.syslog,
		    (enum sk_log_time)sv->daemon.log_time);

	tzset();
	scfg.log_interval = sv->daemon.log_interval;
	scfg.max_output = sv->daemon.max_output;
	scfg.max_conn = sk__raise_nofile(&r->nofile);
	r->max_conn = scfg.max_conn;
	r->srv = sk_server_new(&scfg);
	if (r->srv == NULL) {
		sk_log_errx("serve: out of memory");
		goto out;
	}
	/* Never full: the server's first. */
	(void)sk_server_atstop(r->srv, sk_sd_stopping, NULL);
	/* The sockets from systemd first, then the specs. */
	for (size_t k = 0; k < sv->nhanded; k++) {
		size_t i = (size_t)sv->handed_svc[k];

		if (sk__instance(r, i, &settings[i], &lim[i]) == NULL ||
		    sk__adopt(r->srv, r->inst[i], &sv->handed[k]) != 0)
			goto stop;
	}
	n = sk__wants(sv, w, SK__MAX_WANTS, err, sizeof(err));
	if (n < 0) {
		sk_log_errx("%s", err);
		goto stop;
	}
	for (int k = 0; k < n; k++) {
		size_t i = (size_t)w[k].svc;

		if (sk__instance(r, i, &settings[i], &lim[i]) == NULL)
			goto stop;
		if (sk__bind_want(r->srv, r->inst[i], &w[k], 0, err,
				  sizeof(err)) != 0) {
			sk_log_errx("%s", err);
			goto stop;
		}
	}
	if (sk__control(r->srv, sv) != 0)
		goto stop;
	if (sv->daemon.user[0] != '\0') {
		if (sk_drop_privileges(sv->daemon.user, sv->uid, sv->gid) != 0)
			goto stop;
	} else if (sk_drop_capabilities() != 0) {
		goto stop;
	}
	sk_server_on_hup(r->srv, sk__reload, r);
	if (sv->nhanded > 0)
		printf("sockit: ready, %zu socket%s (%zu from systemd), "
		       "pid %ld\n", sk_server_listeners(r->srv),
		       sk_server_listeners(r->srv) == 1 ? "" : "s",
		       sv->nhanded, (long)getpid());
	else
		printf("sockit: ready, %zu socket%s, pid %ld\n",
		       sk_server_listeners(r->srv),
		       sk_server_listeners(r->srv) == 1 ? "" : "s",
		       (long)getpid());
	sk_sd_ready(sk_server_listeners(r->srv), sv->nhanded);
	rc = SK_EXIT_OK;
stop:
	if (rc != SK_EXIT_OK)
		sk_server_stop(r->srv);
	if (sk_server_run(r->srv) != 0) {
		sk_log_errx("serve: handles left open at exit");
		if (rc == SK_EXIT_OK)
			rc = SK_EXIT_FAIL;
	}
out:
	sk_log_fini();
	for (size_t i = 0; i < nsvc; i++)
		free(settings[i]);
	sk__serve_free(r->sv);
	if (r->sv != &sk__sv)
		free(r->sv);
	return rc;
}
