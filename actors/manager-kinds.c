/* SPDX-License-Identifier: MIT */
/* The manager's kinds added after the first seven -- RLock, Semaphore,
 * BoundedSemaphore, Condition (manager-sync.c) and Array
 * (manager-array.c): their state (struct tri_mgr_ext), made, freed, shown
 * whole and measured, and which requests apply to which of them. */
#include "manager-int.h"

#include <errno.h>
#include <stdlib.h>

int
tri_mgr_ext_new(
    struct object *o, const Trwire__MgrRequest *req, const tr_mval *init)
{
	int r;

	o->ext = calloc(1, sizeof(*o->ext));
	if (!o->ext) {
		return -ENOMEM;
	}
	switch (o->kind) {
	case TR_MOBJ_RLOCK:
	case TR_MOBJ_SEMAPHORE:
	case TR_MOBJ_BOUNDED_SEMAPHORE:
	case TR_MOBJ_CONDITION:
		r = tri_msync_init(o, init);
		break;
	case TR_MOBJ_ARRAY:
		r = tri_marray_init(o, req, init);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r < 0) {
		tri_mgr_ext_free(o);
	}
	return r;
}

void
tri_mgr_ext_free(struct object *o)
{
	if (o->ext) {
		free(o->ext->holds);
		free(o->ext->data);
		free(o->ext);
		o->ext = NULL;
	}
}

tr_mval *
tri_mgr_ext_get_all(const struct object *o)
{
	switch (o->kind) {
	case TR_MOBJ_RLOCK:
	case TR_MOBJ_CONDITION:
		return tr_mval_bool(o->held);
	case TR_MOBJ_SEMAPHORE:
	case TR_MOBJ_BOUNDED_SEMAPHORE:
		return tr_mval_int(o->ext->value);
	default:
		return tri_marray_list(o, 0, o->ext->len);
	}
}

int64_t
tri_mgr_ext_len(const struct object *o)
{
	return o->kind == TR_MOBJ_ARRAY ? (int64_t) o->ext->len : -EOPNOTSUPP;
}

unsigned
tri_mgr_ext_kinds(uint32_t op)
{
	const unsigned sem =
	    1u << TR_MOBJ_SEMAPHORE | 1u << TR_MOBJ_BOUNDED_SEMAPHORE;

	switch (op) {
	case TRI_MGR_RLOCK_ACQUIRE:
	case TRI_MGR_RLOCK_RELEASE:
	case TRI_MGR_RLOCK_RELEASE_NOWAIT:
		return 1u << TR_MOBJ_RLOCK | 1u << TR_MOBJ_CONDITION;
	case TRI_MGR_SEM_ACQUIRE:
	case TRI_MGR_SEM_RELEASE:
	case TRI_MGR_SEM_RELEASE_NOWAIT:
		return sem;
	case TRI_MGR_COND_WAIT:
	case TRI_MGR_COND_NOTIFY:
		return 1u << TR_MOBJ_CONDITION;
	case TRI_MGR_ARRAY_GET:
	case TRI_MGR_ARRAY_SET:
	case TRI_MGR_ARRAY_SLICE:
	case TRI_MGR_ARRAY_SET_SLICE:
	case TRI_MGR_ARRAY_READ:
	case TRI_MGR_ARRAY_WRITE:
		return 1u << TR_MOBJ_ARRAY;
	default:
		return 0;
	}
}
