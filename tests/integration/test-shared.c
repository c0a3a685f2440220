/* SPDX-License-Identifier: MIT */
/* Value and Array, and the shared-memory segments under them. */
#include "tr-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "troupe/shared.h"
#include "troupe/shm.h"

int
main(int argc, char **argv)
{
	return 0;
}
