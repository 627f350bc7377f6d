/* svc_welcome.h: the welcome service. */
#ifndef SK_SVC_WELCOME_H
#define SK_SVC_WELCOME_H

#include "../net/service.h"

extern const struct sk_service sk_welcome;

#endif
