/* SPDX-License-Identifier: MIT */
/* Process descriptors: a pidfd where the kernel (or the tool running us:
 * valgrind 3.19 knows no pidfd_open) has them; otherwise an eventfd that
 * a watcher thread makes readable when the process ends.  Every
 * descriptor from tri_pidfd_open() is closed with tri_pidfd_close().  Not
 * installed. */
#ifndef TRI_PIDFD_H
#define TRI_PIDFD_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* A descriptor that polls readable once pid has ended (a zombie has).
 * -ESRCH when there is no such process, -errno otherwise. */
int tri_pidfd_open(pid_t pid);
/* Send sig to the process; 0 when it is already gone. */
int tri_pidfd_signal(int fd, int sig);
/* waitid() on the process (our own child only); as waitid(2). */
int  tri_pidfd_waitid(int fd, siginfo_t *si, int options);
void tri_pidfd_close(int fd);
/* true once pidfd_open() was found missing */
bool tri_pidfd_emulated(void);

#endif /* TRI_PIDFD_H */
