/* SPDX-License-Identifier: MIT */
/* `troupe tree` and `troupe ps --node/--endpoint` (ps-cmd.c). */
#ifndef TROUPE_PS_CMD_H
#define TROUPE_PS_CMD_H

#include <stdbool.h>

/* argv[1] is "ps" or "tree" (tree true); returns the exit status. */
int troupe_ps_cmd(int argc, char **argv, bool tree);

#endif
