/* daytime.c: the RFC 867 reply text. */
#include "daytime.h"

size_t sk_daytime_format(const struct tm *tm, char *out, size_t cap)
{
	return strftime(out, cap, "%a %b %e %H:%M:%S %Y\r\n", tm);
}
