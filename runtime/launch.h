/* SPDX-License-Identifier: MIT */
/* Launching a child by one start method, given its boot record: fork (from
 * a thread that lives as long as the process), spawn (this program again,
 * the record in a memfd) or the forkserver.  Not installed. */
#ifndef TRI_LAUNCH_H
#define TRI_LAUNCH_H

#include <sys/types.h>

#include "runtime.h"

/* Each returns 0 with the child's pid in *ret_pid, or -errno; the child
 * reports on ready_wfd (the caller keeps and closes its copy).  A fork
 * child closes ready_rfd, the caller's end.  A forkserver child's exit
 * status comes on *ret_status_fd, which the caller then owns. */
int tri_launch_fork(
    struct tri_boot *b, int ready_wfd, int ready_rfd, pid_t *ret_pid);
int tri_launch_spawn(struct tri_boot *b, int ready_wfd, pid_t *ret_pid);
int tri_launch_forkserver(struct tri_boot *b, int ready_wfd, int timeout_ms,
    pid_t *ret_pid, int *ret_status_fd);

#endif /* TRI_LAUNCH_H */
