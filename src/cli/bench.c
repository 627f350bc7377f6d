/* bench.c: `sockit bench` load generators. */
#include "cli.h"

int sk_cmd_bench(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return SK_EXIT_FAIL;
}
