/*
 * settings.h: settings from their declarations (struct sk_opt, in
 * service.h), with no I/O except the help printer.
 *
 * The same declarations serve the daemon's own keys ([serve]), the
 * limits every service has (sk_limit_opts) and each service's keys
 * ([SERVICE], --SERVICE-KEY).
 */
#ifndef SK_SETTINGS_H
#define SK_SETTINGS_H

#include <stdio.h>

#include "service.h"

/* The keys of struct sk_svc_limits, valid in [serve] (for every
 * service) and in each service's section. */
extern const struct sk_opt sk_limit_opts[];
/* The platform's limits, where a service declares none of its own. */
extern const struct sk_svc_limits sk_limits_default;

/* The declaration called name in opts (NULL-name terminated), or NULL. */
const struct sk_opt *sk_opt_find(const struct sk_opt *opts, const char *name);
/* Parse val into settings as o declares. Returns 0, or -1 with a message
 * in err that starts with the value, e.g. "'x' is not a whole number
 * from 0 to 10". */
int sk_opt_set(const struct sk_opt *o, void *settings, const char *val,
	       char *err, size_t cap);
/* Apply every default of opts. Returns 0, or -1 (a bad declaration) with
 * a message in err naming the key. */
int sk_opts_defaults(const struct sk_opt *opts, void *settings, char *err,
		     size_t cap);
/* Print one help line per key, as "--PREFIX-NAME ARG  help (default D)";
 * prefix may be NULL. */
void sk_opts_help(FILE *f, const char *prefix, const struct sk_opt *opts);

#endif
