/* SPDX-License-Identifier: MIT */
/* placeholder */
#include "tr-test.h"
int
main(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	return 0;
}
