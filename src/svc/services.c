/* services.c: the table of every service, and the shared clock. */
#include <string.h>

#include "clock.h"
#include "services.h"
#include "svc_chat.h"
#include "svc_daytime.h"
#include "svc_exec.h"
#include "svc_ntp.h"
#include "svc_time.h"
#include "svc_timefmt.h"
#include "svc_welcome.h"

const struct sk_service *const sk_services[] = {
	&sk_welcome, &sk_chat, &sk_exec, &sk_timefmt, &sk_daytime, &sk_time, &sk_ntp,
	NULL,
};

const struct sk_service *sk_service_find(const char *name)
{
	for (size_t i = 0; sk_services[i] != NULL; i++)
		if (strcmp(sk_services[i]->name, name) == 0)
			return sk_services[i];
	return NULL;
}

int64_t sk_clock_now(struct tm *tm)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
	if (tm != NULL)
		localtime_r(&t, tm);
	return (int64_t)ts.tv_sec;
}
