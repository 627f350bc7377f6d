/* svc_daytime.h: the daytime service. */
#ifndef SK_SVC_DAYTIME_H
#define SK_SVC_DAYTIME_H

#include "../net/service.h"

extern const struct sk_service sk_daytime;

#endif
