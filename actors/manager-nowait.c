/* SPDX-License-Identifier: MIT */
/* The manager's record of failed one-way writes (the *_nowait calls):
 * for each client process, the first failure since it last asked and how
 * many there were, handed over by TRI_MGR_ERRORS (tr_manager_errors())
 * so that no failure goes unreported.  A client's record goes with its
 * DOWN. */
#include "manager-int.h"

#include <errno.h>
#include <stdlib.h>

static struct tri_mgr_nowait_err *
lookup(struct tri_mgr_errs *e, tr_addr who)
{
	for (size_t i = 0; i < e->n; i++) {
		if (tr_addr_eq(e->v[i].who, who)) {
			return &e->v[i];
		}
	}
	return NULL;
}

void
tri_mgr_errs_note(struct tri_mgr_errs *e, tr_addr who, int64_t err)
{
	struct tri_mgr_nowait_err *x = lookup(e, who);

	if (!x) {
		if (e->n == e->cap) {
			size_t cap = e->cap ? 2 * e->cap : 8;
			struct tri_mgr_nowait_err *v =
			    realloc(e->v, cap * sizeof(*v));

			if (!v) {
				return; /* still counted and logged */
			}
			e->v   = v;
			e->cap = cap;
		}
		x        = &e->v[e->n++];
		x->who   = who;
		x->first = err;
		x->n     = 0;
	}
	x->n++;
}

int64_t
tri_mgr_errs_take(struct tri_mgr_errs *e, tr_addr who, uint64_t *n)
{
	struct tri_mgr_nowait_err *x = lookup(e, who);
	int64_t                    r;

	*n = 0;
	if (!x) {
		return 0;
	}
	r  = x->first;
	*n = x->n;
	*x = e->v[--e->n];
	return r;
}

void
tri_mgr_errs_forget(struct tri_mgr_errs *e, tr_addr who)
{
	uint64_t n;

	(void) tri_mgr_errs_take(e, who, &n);
}

void
tri_mgr_errs_free(struct tri_mgr_errs *e)
{
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}
