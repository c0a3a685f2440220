/* SPDX-License-Identifier: MIT */
#ifndef TR_SHARED_H
#define TR_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value and Array -- typed memory shared by the processes of one host,
 * like multiprocessing.Value and multiprocessing.Array.  The items live in
 * a shared-memory segment (troupe/shm.h): nothing in /dev/shm, freed when
 * the last process using it has ended, SIGKILL included.  Hand one to a
 * child as an argument, its address text (tr_array_addr()) or its name,
 * and tr_array_open() it there: the same under fork, spawn and forkserver.
 *
 * Item types are the array module's type codes:
 *   'b' int8   'B' uint8   'h' int16  'H' uint16  'i' int32  'I' uint32
 *   'l' long   'L' unsigned long      'q' int64   'Q' uint64
 *   'f' float  'd' double
 *
 * By default an object carries its own lock (an RLock, as Python's
 * lock=True), and the get/set calls below take it around each access, as
 * Python's synchronized wrapper does; tr_array_get_lock() gives it, to
 * hold it across several accesses (a read-modify-write such as
 * `v.value += 1` needs that, in Python too).  With TR_SHARED_NOLOCK there
 * is no lock and the calls access the memory directly.  tr_array_data()
 * gives the raw items, for code that does its own locking. */

enum tr_shared_flags {
	TR_SHARED_NOLOCK = 1 << 0, /* no lock (Python's lock=False) */
};

typedef struct tr_array tr_array;

/* A new Array of len items (>= 1) of type typecode.  init, if not NULL,
 * points at len items of that C type to copy in; otherwise the items are
 * zero.  name may be NULL (as tr_lock_new()).  Errors: -EINVAL (unknown
 * type code, len 0, unknown flags), TR_EEXISTS, TR_ENOTINIT, -ENOMEM,
 * -EMFILE. */
TR_API int tr_array_new(tr_array **ret, const char *name, char typecode,
    size_t len, const void *init, int flags);
/* Attach to the Array (or Value) at address text or name `where`.
 * Errors: tr_shm_open()'s, TR_EBADTYPE (not an Array or Value). */
TR_API int tr_array_open(tr_array **ret, const char *where);
/* Release the handle; NULL-safe, idempotent, sets *ap to NULL. */
TR_API void tr_array_destroy(tr_array **ap);

TR_API size_t tr_array_len(tr_array *a);
TR_API char   tr_array_typecode(tr_array *a);
/* Bytes per item. */
TR_API size_t tr_array_itemsize(tr_array *a);
/* The items, unsynchronized (borrowed, valid until destroy). */
TR_API void *tr_array_data(tr_array *a);
/* The object's lock (borrowed), or NULL with TR_SHARED_NOLOCK. */
TR_API tr_lock *tr_array_get_lock(tr_array *a);
/* Address text for tr_array_open(); borrowed. */
TR_API const char *tr_array_addr(tr_array *a);

/* Read item i as an integer / a double, taking the lock (if any) for the
 * access; reading a float item as an integer truncates it.  Errors:
 * -ERANGE (i >= len), -EINVAL. */
TR_API int tr_array_get_i64(tr_array *a, size_t i, int64_t *ret);
TR_API int tr_array_get_f64(tr_array *a, size_t i, double *ret);
/* Write item i, taking the lock (if any).  Errors: -ERANGE (i >= len),
 * -EOVERFLOW (v does not fit the item type: nothing is written),
 * -EINVAL. */
TR_API int tr_array_set_i64(tr_array *a, size_t i, int64_t v);
TR_API int tr_array_set_f64(tr_array *a, size_t i, double v);
/* Copy n items from index `from` into buf (of the item C type), under
 * the lock (if any) for the whole copy: a consistent snapshot (Python's
 * a[:]).  Errors: -ERANGE, -EINVAL. */
TR_API int tr_array_read(tr_array *a, size_t from, size_t n, void *buf);

/* ---- Value: a one-item Array ------------------------------------------- */

typedef struct tr_value tr_value;

/* A new Value of type typecode, zero; as tr_array_new() with len 1. */
TR_API int tr_value_new(
    tr_value **ret, const char *name, char typecode, int flags);
/* Attach; TR_EBADTYPE unless `where` is a Value. */
TR_API int         tr_value_open(tr_value **ret, const char *where);
TR_API void        tr_value_destroy(tr_value **vp);
TR_API int         tr_value_get_i64(tr_value *v, int64_t *ret);
TR_API int         tr_value_get_f64(tr_value *v, double *ret);
TR_API int         tr_value_set_i64(tr_value *v, int64_t x);
TR_API int         tr_value_set_f64(tr_value *v, double x);
TR_API void       *tr_value_ptr(tr_value *v); /* the raw item */
TR_API tr_lock    *tr_value_get_lock(tr_value *v);
TR_API char        tr_value_typecode(tr_value *v);
TR_API const char *tr_value_addr(tr_value *v);

#ifdef __cplusplus
}
#endif

#endif /* TR_SHARED_H */
