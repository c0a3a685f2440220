/* SPDX-License-Identifier: MIT */
/* Exit codes of ended processes, shared across the run.  Not installed. */
#ifndef TRI_EXITLOG_H
#define TRI_EXITLOG_H

#include <stdint.h>
#include <sys/types.h>

int  tri_exitlog_init(void);
void tri_exitlog_put(pid_t pid, uint64_t inc, int exitcode);
int  tri_exitlog_get(pid_t pid, uint64_t inc, int *ret_code);

#endif /* TRI_EXITLOG_H */
