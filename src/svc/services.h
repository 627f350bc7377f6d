/* services.h: the table of every service, for whoever assembles a
 * daemon (src/cli/serve.c). */
#ifndef SK_SERVICES_H
#define SK_SERVICES_H

#include "../net/service.h"

/* Every service, in help order, NULL-terminated. */
extern const struct sk_service *const sk_services[];

/* The service called name, or NULL. */
const struct sk_service *sk_service_find(const char *name);

#endif
