/* status.c: the daemon's status, on a control socket and on SIGUSR1
 * (see status.h). */
#include "status.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/sk_limits.h"
#include "log.h"
#include "server.h"
#include "settings.h"

/* The control socket on one server. */
struct sk_status {
	struct sk_server *srv;     /* whose */
	uv_pipe_t lis;             /* the listening socket */
	uv_signal_t usr1;          /* SIGUSR1: the status to the log */
	char path[SK_UNIX_PATH_MAX]; /* removed at the end */
	unsigned nclients;         /* connected now */
	unsigned open;             /* handles not yet closed: usr1, then
				    * lis once it is initialised */
	int listening;             /* lis is bound and listens */
	struct sk__ctl *clients;   /* them */
};

/* One client of the control socket. */
struct sk__ctl {
	struct sk__ctl *next, *prev; /* the socket's list */
	struct sk_status *st;        /* whose */
	uv_pipe_t pipe;              /* the connection */
	uv_timer_t timer;            /* its deadline */
	uv_write_t wreq;             /* the reply */
	char line[SK_STATUS_LINE_MAX]; /* its request, so far */
	size_t len;                  /* bytes in line */
	char *doc;                   /* the reply being written */
	unsigned open;               /* handles not yet closed */
	int done;                    /* closing */
};

/* ---- the document ---- */

/* A string that grows. */
struct sk__sb {
	char *p;    /* NUL-terminated, or NULL when out of memory */
	size_t len; /* bytes before the NUL */
	size_t cap; /* bytes allocated */
};

__attribute__((format(printf, 2, 3)))
static void sk__add(struct sk__sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->p == NULL)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			free(b->p);
			b->p = NULL;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = 2 * b->cap + (size_t)n;
			char *p = realloc(b->p, cap);

			if (p == NULL) {
				free(b->p);
				b->p = NULL;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

/* s as a JSON string, quotes included. */
static void sk__json_str(struct sk__sb *b, const char *s)
{
	sk__add(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sk__add(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sk__add(b, "\\u%04x", c);
		else
			sk__add(b, "%c", c);
	}
	sk__add(b, "\"");
}

static const char *sk__transport(unsigned t)
{
	return t == SK_UDP ? "udp" : t == SK_UNIX ? "unix" : "tcp";
}

/* The address part of a listener's name ("daytime/udp ADDR"). */
static const char *sk__where(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp != NULL ? sp + 1 : name;
}

/* One setting's value, by its declaration, as text or JSON. */
static void sk__opt_value(struct sk__sb *b, const struct sk_opt *o,
			  const void *settings, int json)
{
	const char *p = (const char *)settings + o->off;

	switch (o->type) {
	case SK_OPT_UINT: {
		unsigned v;

		memcpy(&v, p, sizeof(v));
		sk__add(b, "%u", v);
		break;
	}
	case SK_OPT_INT: {
		int v;

		memcpy(&v, p, sizeof(v));
		sk__add(b, "%d", v);
		break;
	}
	case SK_OPT_STR:
		if (json)
			sk__json_str(b, p);
		else
			sk__add(b, "%s", p[0] != '\0' ? p : "\"\"");
		break;
	case SK_OPT_FUNC:
		break; /* not shown (lists built by a parser) */
	}
}

/* A table of settings: "name = value, ..." or JSON members. */
static void sk__opts(struct sk__sb *b, const struct sk_opt *opts,
		     const void *settings, int json, int *first)
{
	for (const struct sk_opt *o = opts; o != NULL && o->name != NULL; o++) {
		if (o->type == SK_OPT_FUNC)
			continue;
		if (json) {
			sk__add(b, "%s\"%s\": ", *first ? "" : ", ", o->name);
		} else {
			sk__add(b, "%s%s = ", *first ? "" : ", ", o->name);
		}
		sk__opt_value(b, o, settings, json);
		*first = 0;
	}
}

static void sk__settings(struct sk__sb *b, struct sk_server *s, int json)
{
	const struct sk_server_config *c = sk_server_cfg(s);
	struct sk_svc *v;

	if (json)
		sk__add(b, ", \"settings\": {\"serve\": {\"log-interval\": %u, "
			   "\"max-conn\": %u, \"max-output-total\": %u}",
			c->log_interval, c->max_conn, c->max_output);
	else
		sk__add(b, "settings:\n  [serve] log-interval = %u, max-conn = "
			   "%u, max-output-total = %u\n",
			c->log_interval, c->max_conn, c->max_output);
	/* A service's limits and its own settings apart: a name may be in
	 * both (ntp's burst). */
	for (size_t i = 0; (v = sk_server_svc_at(s, i)) != NULL; i++) {
		const struct sk_service *d = sk_svc_def(v);
		int first = 1;

		if (json)
			sk__add(b, ", \"%s\": {\"limits\": {", d->name);
		else
			sk__add(b, "  [%s] limits: ", d->name);
		sk__opts(b, sk_limit_opts, sk_svc_limits(v), json, &first);
		sk__add(b, json ? "}" : "\n");
		if (d->opts != NULL && sk_svc_settings(v) != NULL) {
			first = 1;
			if (json)
				sk__add(b, ", \"settings\": {");
			else
				sk__add(b, "  [%s] ", d->name);
			sk__opts(b, d->opts, sk_svc_settings(v), json, &first);
			sk__add(b, json ? "}" : "\n");
		}
		if (json)
			sk__add(b, "}");
	}
	if (json)
		sk__add(b, "}");
}

static const char *const sk__close_names[SK_CLOSE_SHUTDOWN + 1] = {
	[SK_CLOSE_DONE] = "done", [SK_CLOSE_PEER] = "peer",
	[SK_CLOSE_RESET] = "reset", [SK_CLOSE_IDLE] = "idle",
	[SK_CLOSE_DEADLINE] = "deadline", [SK_CLOSE_OVERFLOW] = "overflow",
	[SK_CLOSE_NOMEM] = "nomem", [SK_CLOSE_SHUTDOWN] = "shutdown",
};

static void sk__listener_json(struct sk__sb *b,
			      const struct sk_listener_totals *t)
{
	sk__add(b, "{\"name\": ");
	sk__json_str(b, t->name);
	sk__add(b, ", \"service\": \"%s\", \"transport\": \"%s\", "
		   "\"address\": ", t->service, sk__transport(t->transport));
	sk__json_str(b, sk__where(t->name));
	if (t->transport == SK_UDP) {
		sk__add(b, ", \"requests\": %llu, \"replies\": %llu, \"drops\": "
			   "{\"rate\": %llu, \"malformed\": %llu, \"loop\": %llu, "
			   "\"outbound\": %llu, \"denied\": %llu, \"unsent\": "
			   "%llu}, \"kod\": %llu}",
			(unsigned long long)t->in, (unsigned long long)t->out,
			(unsigned long long)t->drop_rate,
			(unsigned long long)t->drop_bad,
			(unsigned long long)t->drop_loop,
			(unsigned long long)t->drop_out,
			(unsigned long long)t->denied,
			(unsigned long long)t->unsent,
			(unsigned long long)t->kod);
		return;
	}
	sk__add(b, ", \"connections\": %llu, \"open\": %u, \"requests\": %llu, "
		   "\"closed\": {", (unsigned long long)t->in, t->open,
		(unsigned long long)t->requests);
	for (int i = 0; i <= SK_CLOSE_SHUTDOWN; i++)
		sk__add(b, "%s\"%s\": %llu", i ? ", " : "", sk__close_names[i],
			(unsigned long long)t->closed[i]);
	sk__add(b, "}, \"drops\": {\"limit\": %llu, \"source\": %llu, "
		   "\"memory\": %llu, \"accept\": %llu}}",
		(unsigned long long)t->drop_conn,
		(unsigned long long)t->drop_src,
		(unsigned long long)t->drop_mem,
		(unsigned long long)t->accept_err);
}

/* "s" unless n is 1. */
static const char *sk__s(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void sk__listener_text(struct sk__sb *b,
			      const struct sk_listener_totals *t)
{
	sk__add(b, "%s: ", t->name);
	if (t->transport == SK_UDP) {
		sk__add(b, "%llu request%s, %llu repl%s; dropped %llu over the "
			   "rate limit, %llu malformed or unsendable, %llu from "
			   "loop-prone ports, %llu over the outbound budget",
			(unsigned long long)t->in, sk__s(t->in),
			(unsigned long long)t->out, t->out == 1 ? "y" : "ies",
			(unsigned long long)t->drop_rate,
			(unsigned long long)t->drop_bad,
			(unsigned long long)t->drop_loop,
			(unsigned long long)t->drop_out);
		if (t->denied + t->kod + t->unsent > 0)
			sk__add(b, ", %llu denied, %llu unsent; %llu KoD RATE",
				(unsigned long long)t->denied,
				(unsigned long long)t->unsent,
				(unsigned long long)t->kod);
		sk__add(b, "\n");
		return;
	}
	sk__add(b, "%llu connection%s (%u open), %llu request%s; closed",
		(unsigned long long)t->in, sk__s(t->in), t->open,
		(unsigned long long)t->requests, sk__s(t->requests));
	for (int i = 0; i <= SK_CLOSE_SHUTDOWN; i++)
		sk__add(b, "%s %llu %s", i ? "," : "",
			(unsigned long long)t->closed[i], sk__close_names[i]);
	sk__add(b, "; refused %llu over the limit, %llu over the per-source "
		   "limit, %llu out of memory; %llu failed accept%s\n",
		(unsigned long long)t->drop_conn,
		(unsigned long long)t->drop_src,
		(unsigned long long)t->drop_mem,
		(unsigned long long)t->accept_err, sk__s(t->accept_err));
}

/* The user and group the daemon runs as, named at start-up: once it is
 * a user who may not read /etc/passwd (in a chroot, say), it could not
 * name itself. */
static struct {
	uid_t uid;
	gid_t gid;
	char user[64];
	char group[64];
} sk__me;

static void sk__name_me(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr = getgrgid(gid);

	sk__me.uid = uid;
	sk__me.gid = gid;
	snprintf(sk__me.user, sizeof(sk__me.user), "%s",
		 pw != NULL ? pw->pw_name : "?");
	snprintf(sk__me.group, sizeof(sk__me.group), "%s",
		 gr != NULL ? gr->gr_name : "?");
}

/* The names of the user and group the daemon runs as ("?" without one). */
static void sk__whoami(const char **user, const char **group)
{
	if (geteuid() != sk__me.uid || getegid() != sk__me.gid ||
	    sk__me.user[0] == '\0')
		sk__name_me(geteuid(), getegid());
	*user = sk__me.user;
	*group = sk__me.group;
}

char *sk_status_doc(struct sk_server *s, int json)
{
	struct sk__sb b = { malloc(4096), 0, 4096 };
	struct sk_listener_totals t;
	uint64_t up = sk_server_uptime_ms(s) / 1000;
	const char *user, *group;

	if (b.p == NULL)
		return NULL;
	b.p[0] = '\0';
	sk__whoami(&user, &group);
	if (json) {
		sk__add(&b, "{\"version\": \"%s\", \"pid\": %ld, \"uptime\": "
			    "%llu, \"user\": ", SK_VERSION, (long)getpid(),
			(unsigned long long)up);
		sk__json_str(&b, user);
		sk__add(&b, ", \"uid\": %u, \"group\": ", (unsigned)geteuid());
		sk__json_str(&b, group);
		sk__add(&b, ", \"gid\": %u, \"listeners\": [",
			(unsigned)getegid());
	} else {
		sk__add(&b, "sockit %s: pid %ld, up %llu s, user %s (%u), group "
			    "%s (%u)\n", SK_VERSION, (long)getpid(),
			(unsigned long long)up, user, (unsigned)geteuid(), group,
			(unsigned)getegid());
	}
	for (size_t i = 0; sk_server_totals(s, i, &t) == 0; i++) {
		if (json) {
			sk__add(&b, "%s", i ? ", " : "");
			sk__listener_json(&b, &t);
		} else {
			sk__listener_text(&b, &t);
		}
	}
	if (json)
		sk__add(&b, "]");
	sk__settings(&b, s, json);
	if (json)
		sk__add(&b, "}\n");
	return b.p;
}

/* ---- the control socket ---- */

static void sk__ctl_closed(uv_handle_t *h)
{
	struct sk__ctl *c = h->data;

	if (--c->open > 0)
		return;
	free(c->doc);
	free(c);
}

static void sk__ctl_end(struct sk__ctl *c)
{
	struct sk_status *st = c->st;

	if (c->done)
		return;
	c->done = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		st->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	st->nclients--;
	uv_close((uv_handle_t *)&c->pipe, sk__ctl_closed);
	uv_close((uv_handle_t *)&c->timer, sk__ctl_closed);
}

static void sk__ctl_written(uv_write_t *w, int status)
{
	(void)status;
	sk__ctl_end(w->data);
}

static void sk__ctl_timeout(uv_timer_t *t)
{
	sk__ctl_end(t->data);
}

static void sk__ctl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk__ctl *c = h->data;

	(void)hint;
	buf->base = c->line + c->len;
	buf->len = sizeof(c->line) - c->len;
}

/* The request, once its line is whole: "status" or "status json". */
static void sk__ctl_answer(struct sk__ctl *c)
{
	static const char bad[] = "error: unknown request (say 'status' or "
				  "'status json')\n";
	uv_buf_t b;
	int json;

	uv_read_stop((uv_stream_t *)&c->pipe);
	c->line[c->len - 1] = '\0';
	if (c->len >= 2 && c->line[c->len - 2] == '\r')
		c->line[c->len - 2] = '\0';
	json = strcmp(c->line, "status json") == 0;
	if (json || strcmp(c->line, "status") == 0)
		c->doc = sk_status_doc(c->st->srv, json);
	if (c->doc == NULL)
		c->doc = strdup(bad);
	if (c->doc == NULL) {
		sk__ctl_end(c);
		return;
	}
	b = uv_buf_init(c->doc, (unsigned)strlen(c->doc));
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1,
		     sk__ctl_written) != 0)
		sk__ctl_end(c);
}

static void sk__ctl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct sk__ctl *c = s->data;

	(void)buf;
	if (n < 0) {
		sk__ctl_end(c);
		return;
	}
	c->len += (size_t)n;
	if (memchr(c->line + c->len - (size_t)n, '\n', (size_t)n) != NULL) {
		c->len = (size_t)((char *)memchr(c->line, '\n', c->len) -
				  c->line) + 1;
		sk__ctl_answer(c);
	} else if (c->len == sizeof(c->line)) {
		sk__ctl_end(c); /* no request is this long */
	}
}

static void sk__ctl_accept(uv_stream_t *server, int status)
{
	struct sk_status *st = server->data;
	uv_loop_t *loop = sk_server_loop(st->srv);
	struct sk__ctl *c;

	if (status != 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL || uv_pipe_init(loop, &c->pipe, 0) != 0) {
		free(c);
		return;
	}
	c->st = st;
	c->pipe.data = c;
	c->open = 1;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    st->nclients >= SK_STATUS_CLIENTS ||
	    uv_timer_init(loop, &c->timer) != 0) {
		uv_close((uv_handle_t *)&c->pipe, sk__ctl_closed);
		return;
	}
	c->timer.data = c;
	c->open = 2;
	c->next = st->clients;
	if (st->clients != NULL)
		st->clients->prev = c;
	st->clients = c;
	st->nclients++;
	uv_timer_start(&c->timer, sk__ctl_timeout, SK_STATUS_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->pipe, sk__ctl_alloc,
			  sk__ctl_read) != 0)
		sk__ctl_end(c);
}

/* SIGUSR1: the status to the log, a line at a time. */
static void sk__usr1(uv_signal_t *sig, int signum)
{
	struct sk_status *st = sig->data;
	char *doc = sk_status_doc(st->srv, 0), *line, *nl;

	(void)signum;
	if (doc == NULL)
		return;
	for (line = doc; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		sk_log_info("status: %s", line);
	}
	free(doc);
}

static void sk__st_closed(uv_handle_t *h)
{
	struct sk_status *st = h->data;

	if (--st->open == 0)
		free(st);
}

/* Shutdown began: close it all, and remove the socket. */
static void sk__st_stop(void *arg)
{
	struct sk_status *st = arg;

	while (st->clients != NULL)
		sk__ctl_end(st->clients);
	if (st->open > 1)
		uv_close((uv_handle_t *)&st->lis, sk__st_closed);
	uv_close((uv_handle_t *)&st->usr1, sk__st_closed);
	if (st->path[0] != '\0')
		unlink(st->path);
}

int sk_status_default_path(char *buf, size_t cap)
{
	const char *v = getenv("SOCKIT_CONTROL");
	int n;

	if (v != NULL) {
		/* Empty, or "none" as --control has it: no socket. */
		if (v[0] == '\0' || strcmp(v, "none") == 0)
			return -ENOENT;
		n = snprintf(buf, cap, "%s", v);
	} else if ((v = getenv("RUNTIME_DIRECTORY")) != NULL && v[0] == '/') {
		/* systemd: several directories are separated by ':'. */
		n = snprintf(buf, cap, "%.*s/control", (int)strcspn(v, ":"), v);
	} else if (geteuid() == 0) {
		n = snprintf(buf, cap, "/run/sockit/control");
	} else if ((v = getenv("XDG_RUNTIME_DIR")) != NULL && v[0] == '/') {
		n = snprintf(buf, cap, "%s/sockit/control", v);
	} else {
		return -ENOENT;
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Does a daemon answer at path? */
static int sk__answers(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

/* The control socket at path, for st. Returns 0, or a negative errno
 * with a message in err. */
static int sk__listen(struct sk_status *st, const char *path, uid_t uid,
		      gid_t gid, char *err, size_t cap)
{
	uv_loop_t *loop = sk_server_loop(st->srv);
	char dir[SK_UNIX_PATH_MAX];
	char *slash;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(st->path) ||
	    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, cap, "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	/* Its directory, when missing: only the daemon's user's. */
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == 0) {
			if (uid != (uid_t)-1 && chown(dir, uid, gid) != 0) {
				rc = -errno;
				snprintf(err, cap, "%s: %s", dir, strerror(-rc));
				return rc;
			}
		} else if (errno != EEXIST) {
			rc = -errno;
			snprintf(err, cap, "%s: %s", dir, strerror(-rc));
			return rc;
		}
	}
	if (sk__answers(path)) {
		snprintf(err, cap, "%s: another sockit serve answers there "
			 "(give each daemon its own --control)", path);
		return -EADDRINUSE;
	}
	unlink(path); /* a stale one: nobody answered */
	rc = uv_pipe_init(loop, &st->lis, 0);
	if (rc != 0) {
		snprintf(err, cap, "%s: %s", path, uv_strerror(rc));
		return rc;
	}
	st->lis.data = st;
	st->open++;
	/* Born 0600: there is no moment when others may connect. */
	old = umask(0177);
	rc = uv_pipe_bind(&st->lis, path);
	umask(old);
	if (rc == 0) {
		memcpy(st->path, path, strlen(path) + 1);
		if (uid != (uid_t)-1 && chown(path, uid, gid) != 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&st->lis, 8, sk__ctl_accept);
	if (rc != 0) {
		snprintf(err, cap, "%s: %s", path, uv_strerror(rc));
		return rc; /* closed with the rest, by sk__st_stop() */
	}
	st->listening = 1;
	return 0;
}

int sk_status_start(struct sk_server *s, const char *path, uid_t uid,
		    gid_t gid, char *err, size_t cap)
{
	struct sk_status *st = calloc(1, sizeof(*st));
	int rc;

	if (st == NULL) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	st->srv = s;
	/* Whom we are about to become, named while we may still look. */
	if (uid != (uid_t)-1)
		sk__name_me(uid, gid);
	else
		sk__name_me(geteuid(), getegid());
	rc = uv_signal_init(sk_server_loop(s), &st->usr1);
	if (rc != 0) {
		free(st);
		snprintf(err, cap, "SIGUSR1: %s", uv_strerror(rc));
		return rc;
	}
	st->usr1.data = st;
	st->open = 1;
	uv_signal_start(&st->usr1, sk__usr1, SIGUSR1);
	sk_server_atstop(s, sk__st_stop, st);
	return path != NULL ? sk__listen(st, path, uid, gid, err, cap) : 0;
}
