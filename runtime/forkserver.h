/* SPDX-License-Identifier: MIT */
/* The forkserver: a zygote that starts children on request.  Not
 * installed. */
#ifndef TRI_FORKSERVER_H
#define TRI_FORKSERVER_H

#include <sys/types.h>

struct tri_boot;

_Noreturn void tri_forkserver_main(int sock);
int  tri_forkserver_start_child(const struct tri_boot *b, int ready_wfd,
     int status_wfd, pid_t *ret_pid, int timeout_ms);
void tri_forkserver_forget(void);
void tri_forkserver_reap(void); /* servers that have ended */
void tri_forkserver_drop(void); /* in a new child: forget the parent's */

#endif /* TRI_FORKSERVER_H */
