/* SPDX-License-Identifier: MIT */
/* The children this process started, as the rest of the runtime sees
 * them.  Not installed. */
#ifndef TRI_PROCESS_H
#define TRI_PROCESS_H

#include <stdint.h>

#include "troupe/process.h"

void     tri_children_cleanup(void);
void     tri_process_reap_all_nowait(void);
void     tri_process_forget_all(void); /* in a fork child: drop the parent's */
uint64_t tri_process_incarnation(tr_process *p);
/* Hand a dup of fd to the child p (before its start), tagged: the slot,
 * or -EINVAL, -EBUSY, -ENOSPC, -EMFILE, -ECHILD (see fdpass.h). */
int tri_process_pass_fd(tr_process *p, int fd, uint32_t tag);

#endif /* TRI_PROCESS_H */
