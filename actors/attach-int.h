/* SPDX-License-Identifier: MIT */
#ifndef TR_ACTORS_ATTACH_INT_H
#define TR_ACTORS_ATTACH_INT_H

#include <stddef.h>

#include "troupe/msg.h" /* tr_addr */

/* Map size bytes of descriptor fd of the process at address a (this host)
 * through /proc/PID/fd/N, shared and writable, after opening a pidfd on
 * it: once the caller has checked that the mapped header names a's pid
 * and incarnation and that a is alive, the pidfd is a's (a pid reused
 * after the pidfd was opened would fail that check).  The caller owns both
 * (munmap, close).  Errors: -EOPNOTSUPP (another node, fd < 0), -errno
 * from pidfd_open, open (-ENOENT, -EACCES) or mmap; nothing is left open. */
int tri_attach_map(
    tr_addr a, int fd, size_t size, void **ret_map, int *ret_pidfd);

#endif
