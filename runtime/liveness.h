/* SPDX-License-Identifier: MIT */
/* The liveness seam: is an actor alive, a descriptor that becomes readable
 * when it ends, and how it ended.  Local actors are watched through a pidfd
 * and /proc; a remote node (distribution) will plug a heartbeat in here. */
#ifndef TRI_LIVENESS_H
#define TRI_LIVENESS_H

#include <stdbool.h>

#include "troupe/msg.h"

/* A descriptor that becomes readable (POLLIN) when the actor at a ends;
 * the caller closes it with tri_live_close().  Opened before the incarnation is
 * checked, so it surely names the process a means.  Errors: -ESRCH (not alive
 * now), TR_EBADADDR (a node this build cannot watch), -EMFILE. */
int  tri_live_open(tr_addr a);
void tri_live_close(int fd); /* -1 is fine */

/* How the actor at a ended, once its descriptor fired: our own child
 * tells waitid(WNOWAIT); another's child its zombie's /proc entry or, once
 * reaped, the run's exit log.  TR_EXIT_UNKNOWN if none can tell. */
void tri_live_learn_exit(tr_addr a, int fd, int *ret_code, int *ret_class);

#endif /* TRI_LIVENESS_H */
