/* SPDX-License-Identifier: MIT */
/* Internal: what tr_wait() needs of a pipe end.  Not installed. */
#ifndef TRI_PIPE_H
#define TRI_PIPE_H

#include <stdbool.h>

#include "troupe/pipe.h"

/* The descriptor to poll for POLLIN, and whether a receive would return
 * at once without it (a message already taken in, end of file, broken):
 * 0, or -EINVAL, -EBADF (send-only), -ECHILD. */
int tri_pipe_wait_fd(tr_pipe *p, int *ret_fd, bool *ret_ready);
/* After the descriptor polled readable: whether a receive would return at
 * once now (the descriptor also wakes for nothing). */
bool tri_pipe_check(tr_pipe *p);

/* The end's transport, for the fuzz target (tests/fuzz/fuzz-pipe.c),
 * which writes raw records on it as a broken or hostile peer would. */
struct tri_link;
struct tri_link *tri_pipe_link(tr_pipe *p);

#endif /* TRI_PIPE_H */
