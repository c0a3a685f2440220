/* SPDX-License-Identifier: MIT */
/* Small system helpers: time, descriptors, pids, exit codes, strings.  Not
 * installed. */
#ifndef TRI_UTIL_H
#define TRI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

pid_t tri_getpid(void); /* cached; renewed in fork children */
int   tri_spawn_self(const char *name, const int *keep, size_t nkeep,
      pid_t *ret_pid); /* exec this binary again */
int   tri_proc_sigmask(const char *field, uint64_t *ret);
int tri_proc_sigmask_fdsize(const char *field, uint64_t *ret, int *ret_fdsize);
int64_t     tri_now_ms(void);
int         tri_poll_fd(int fd, short events, int timeout_ms);
int         tri_remaining(int64_t deadline, int timeout_ms);
int64_t     tri_deadline(int timeout_ms);
int         tri_proc_starttime(pid_t pid, uint64_t *ret, char *ret_state);
int         tri_write_all(int fd, const void *buf, size_t len);
int         tri_read_all(int fd, void *buf, size_t len);
int         tri_memfd_with(const void *buf, size_t len);
int         tri_exitcode_from_status(int status);
const char *tri_exit_class_name(int exitcode);
int         tri_exit_class(int exitcode);
void        tri_strlcpy(char *dst, const char *src, size_t n);

#endif /* TRI_UTIL_H */
