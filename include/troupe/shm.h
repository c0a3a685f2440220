/* SPDX-License-Identifier: MIT */
#ifndef TR_SHM_H
#define TR_SHM_H

#include <stddef.h>

#include "troupe/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tr_shm -- a segment of memory shared by the processes of one host, the
 * ground under the local fast path of Lock, Semaphore, Condition, Barrier
 * and under Value/Array (troupe/sync.h, troupe/shared.h).
 *
 * A segment is an anonymous memfd(2) held open by the process that created
 * it.  It has no name in any file system (nothing in /dev/shm): the kernel
 * frees it when the last process that maps it or holds its descriptor has
 * ended, however it ended, SIGKILL included.  Another process of the same
 * user attaches to it with tr_shm_open(), given its address text (which a
 * parent hands to a child as an argument: it works the same under fork,
 * spawn and forkserver) or, for a named segment, its name; it then opens
 * the creator's descriptor through /proc/PID/fd/N.  So attaching needs
 * the creator to be alive; a process already attached keeps the memory
 * for as long as it keeps its handle, whatever happens to the creator.
 *
 * The memory starts zero-filled.  Unlike most troupe handles, a tr_shm
 * stays usable in a fork()ed child (the mapping is shared, as Python's
 * shared objects are when inherited); only the creator removes the name.
 * Calls do not block (the name is a link in the runtime directory). */
typedef struct tr_shm tr_shm;

/* Most bytes in a segment name, NUL excluded; names use letters, digits
 * and "._-". */
#define TR_SHM_NAME_MAX 63
/* Room for a segment's address text plus NUL. */
#define TR_SHM_ADDRLEN 64

/* Create a zero-filled segment of size bytes (> 0), owned by the caller.
 * With a name (NULL: anonymous) the segment can be found by
 * tr_shm_open(name) from any process of this run while the creator
 * lives; a name whose creator has died is taken over.  Errors: -EINVAL,
 * TR_EEXISTS (the name is held by a live process), TR_ENOTINIT, -ENOMEM,
 * -EMFILE and other -errno from memfd_create/mmap. */
TR_API int tr_shm_new(tr_shm **ret, const char *name, size_t size);

/* Attach to the segment with address text or name `where`; *ret is a new
 * handle owned by the caller.  Errors: -EINVAL, TR_ENOTFOUND (no such
 * name), TR_EBADADDR (malformed address), -ESRCH (the creator has ended,
 * or the address names no troupe segment), -EACCES (another user's). */
TR_API int tr_shm_open(tr_shm **ret, const char *where);

/* Unmap the segment and close the handle; sets *sp to NULL.  NULL-safe,
 * idempotent.  The creator's handle also gives up the name; the memory
 * itself lives on while another process has it mapped. */
TR_API void tr_shm_destroy(tr_shm **sp);

/* The segment's memory (size bytes, 64-byte aligned), valid until
 * destroy. */
TR_API void  *tr_shm_data(tr_shm *s);
TR_API size_t tr_shm_size(tr_shm *s);
/* Address text for tr_shm_open(), "shm:PID.INCARNATION.FD"; borrowed,
 * valid until destroy. */
TR_API const char *tr_shm_addr(tr_shm *s);
/* The name given at creation, or "" (borrowed). */
TR_API const char *tr_shm_name(tr_shm *s);

#ifdef __cplusplus
}
#endif

#endif /* TR_SHM_H */
