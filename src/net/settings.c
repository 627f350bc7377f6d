/* settings.c: settings from their declarations (see settings.h). */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/sk_limits.h"

_Static_assert(sizeof(unsigned) == sizeof(uint32_t),
	       "rate fields are set as unsigned");

#define SK__LIM(f) offsetof(struct sk_svc_limits, f)

const struct sk_opt sk_limit_opts[] = {
	SK_OPT_NUM(SK_OPT_UINT, "max-conn", SK__LIM(max_conn), 1, 1000000,
		   NULL, "N", "concurrent TCP connections"),
	SK_OPT_NUM(SK_OPT_UINT, "max-conn-per-source", SK__LIM(max_conn_source),
		   0, 1000000, NULL, "N",
		   "of them from one IPv4 address or IPv6 /64\n"
		   "(0 = no cap)"),
	SK_OPT_NUM(SK_OPT_UINT, "idle-timeout", SK__LIM(idle_timeout), 0, 86400,
		   NULL, "S", "close TCP peers silent this long (0 = never)"),
	SK_OPT_NUM(SK_OPT_UINT, "request-timeout", SK__LIM(request_timeout), 0,
		   86400, NULL, "S",
		   "close TCP peers whose request takes this long\n"
		   "to arrive; trickled bytes do not extend it\n"
		   "(0 = never)"),
	SK_OPT_NUM(SK_OPT_UINT, "max-output", SK__LIM(max_output), 1024,
		   1024 * 1024 * 1024, NULL, "BYTES",
		   "output queued for one TCP peer before it is\n"
		   "disconnected"),
	SK_OPT_NUM(SK_OPT_UINT, "sndbuf", SK__LIM(sndbuf), 0,
		   64 * 1024 * 1024, NULL, "BYTES",
		   "the kernel's send buffer for each TCP peer\n"
		   "(0 = the kernel's, autotuned)"),
	SK_OPT_NUM(SK_OPT_UINT, "rate", SK__LIM(rate.rate), 0, 1000000, NULL,
		   "N", "UDP datagrams a second per source (0 = none)"),
	SK_OPT_NUM(SK_OPT_UINT, "burst", SK__LIM(rate.burst), 1, 1000000, NULL,
		   "N", "per-source burst"),
	SK_OPT_NUM(SK_OPT_UINT, "global-rate", SK__LIM(global.rate), 0,
		   100000000, NULL, "N",
		   "UDP datagrams a second from all sources\n"
		   "(0 = no limit)"),
	SK_OPT_NUM(SK_OPT_UINT, "global-burst", SK__LIM(global.burst), 1,
		   100000000, NULL, "N", "global burst"),
	SK_OPT_NUM(SK_OPT_UINT, "out-rate", SK__LIM(out.rate), 0, 100000000,
		   NULL, "N",
		   "UDP datagrams a second the service sends\n"
		   "(0 = no limit)"),
	SK_OPT_NUM(SK_OPT_UINT, "out-burst", SK__LIM(out.burst), 1, 100000000,
		   NULL, "N", "outbound burst"),
	SK_OPT_END,
};

const struct sk_svc_limits sk_limits_default = {
	.max_conn = SK_CONN_MAX_DEFAULT,
	.max_conn_source = SK_CONN_PER_SOURCE_DEFAULT,
	.idle_timeout = SK_CONN_IDLE_DEFAULT,
	.request_timeout = SK_CONN_REQUEST_DEFAULT,
	.max_output = SK_CONN_MAX_OUTPUT,
	.pause_output = SK_CONN_MAX_WQUEUE,
	.rate = { 20, 40, 0 },
	.global = { 10000, 10000, 0 },
	.out = { 0, 1, 0 },
};

const struct sk_opt *sk_opt_find(const struct sk_opt *opts, const char *name)
{
	for (const struct sk_opt *o = opts; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static int sk__number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s[0] == '\0' || s[0] == ' ' || (min >= 0 && s[0] == '-') ||
	    s[0] == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int sk_opt_set(const struct sk_opt *o, void *settings, const char *val,
	       char *err, size_t cap)
{
	char *field = (char *)settings + o->off;
	long v;

	switch (o->type) {
	case SK_OPT_UINT:
	case SK_OPT_INT:
		if (sk__number(val, o->min, o->max, &v) != 0) {
			snprintf(err, cap, "'%s' is not a whole number from "
				 "%ld to %ld", val, o->min, o->max);
			return -1;
		}
		if (o->type == SK_OPT_UINT) {
			unsigned u = (unsigned)v;

			memcpy(field, &u, sizeof(u));
		} else {
			int i = (int)v;

			memcpy(field, &i, sizeof(i));
		}
		return 0;
	case SK_OPT_STR:
		if (val[0] == '\0' || strlen(val) >= o->size) {
			snprintf(err, cap, "'%.40s' is empty or longer than %zu "
				 "bytes", val, o->size - 1);
			return -1;
		}
		memcpy(field, val, strlen(val) + 1);
		return 0;
	case SK_OPT_FUNC:
		return o->parse(settings, val, err, cap);
	}
	snprintf(err, cap, "bad declaration");
	return -1;
}

int sk_opts_defaults(const struct sk_opt *opts, void *settings, char *err,
		     size_t cap)
{
	char e[200];

	for (const struct sk_opt *o = opts; o != NULL && o->name != NULL; o++) {
		if (o->def == NULL)
			continue;
		if (sk_opt_set(o, settings, o->def, e, sizeof(e)) != 0) {
			snprintf(err, cap, "default of %s: %s", o->name, e);
			return -1;
		}
	}
	return 0;
}

void sk_opts_help(FILE *f, const char *prefix, const struct sk_opt *opts)
{
	for (const struct sk_opt *o = opts; o != NULL && o->name != NULL; o++) {
		const char *h = o->help, *nl;
		char head[64];
		int n;

		if (o->flags & SK_OPT_FILEONLY)
			continue;
		if (o->short_opt != 0)
			n = snprintf(head, sizeof(head), "  -%c, --%s%s%s %s",
				     o->short_opt, prefix ? prefix : "",
				     prefix ? "-" : "", o->name, o->arg);
		else
			n = snprintf(head, sizeof(head), "      --%s%s%s %s",
				     prefix ? prefix : "", prefix ? "-" : "",
				     o->name, o->arg);
		fputs(head, f);
		/* The help starts in column 30, or on the next line. */
		if (n < 29)
			fprintf(f, "%*s", 29 - n, "");
		else
			fprintf(f, "\n%29s", "");
		while ((nl = strchr(h, '\n')) != NULL) {
			fprintf(f, " %.*s\n%29s", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, " %s", h);
		/* The default goes on a line of its own past column 79. */
		if (o->def != NULL && 30 + strlen(h) + strlen(o->def) + 11 > 79)
			fprintf(f, "\n%29s (default %s)", "", o->def);
		else if (o->def != NULL)
			fprintf(f, " (default %s)", o->def);
		fputc('\n', f);
	}
}
