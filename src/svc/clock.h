/* clock.h: the wall clock, read in one place for every service. */
#ifndef SK_CLOCK_H
#define SK_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now, as Unix seconds, and as local time in *tm when tm is not NULL
 * (TZ is honoured). */
int64_t sk_clock_now(struct tm *tm);

#endif
