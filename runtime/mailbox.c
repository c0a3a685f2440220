/* SPDX-License-Identifier: MIT */
#include "rt.h"

void
tri_msg_forked(void)
{
}

int
tri_msg_bind_eager(void)
{
	return 0;
}

void
tri_msg_shutdown(void)
{
}

void
tri_msg_on_exit(pid_t pid, uint64_t incarnation, int exitcode)
{
	(void) pid;
	(void) incarnation;
	(void) exitcode;
}
