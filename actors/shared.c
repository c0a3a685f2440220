/* SPDX-License-Identifier: MIT */
/* Value and Array: a header (type code, length, the optional RLock) and
 * the items, 64-byte aligned, in one shared segment.  A Value is an Array
 * of one item marked as a Value, so that each open() gets what it asks
 * for. */
#include "troupe/shared.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sync-int.h"

struct tri_arraypage {
	struct tri_lockword lock;
	uint64_t            len;
	uint32_t            itemsize;
	char                typecode;
	uint8_t             nolock;
	uint8_t             is_value;
	uint8_t             pad;
};
#define ITEMS_OFF ((sizeof(struct tri_arraypage) + 63) / 64 * 64)

struct tr_array {
	tr_shm               *shm;
	struct tri_arraypage *p;
	char                 *items;
	tr_lock               lock; /* view of p->lock */
};

/* tr_value is a tr_array with len 1. */
struct tr_value {
	struct tr_array a;
};

static const uint32_t array_kinds[] = { TRI_SYNC_ARRAY, 0 };

static size_t
type_size(char tc)
{
	switch (tc) {
	case 'b':
	case 'B':
		return 1;
	case 'h':
	case 'H':
		return 2;
	case 'i':
	case 'I':
	case 'f':
		return 4;
	case 'l':
	case 'L':
		return sizeof(long);
	case 'q':
	case 'Q':
	case 'd':
		return 8;
	default:
		return 0;
	}
}

static int
array_make(tr_array *a, const char *name, char tc, size_t len, const void *init,
    int flags)
{
	size_t isz = type_size(tc);
	void  *obj;
	int    r;

	if (isz == 0 || len == 0 || len > ((size_t) 1 << 36) / isz ||
	    (flags & ~TR_SHARED_NOLOCK)) {
		return -EINVAL;
	}
	r = tri_sync_create(&a->shm, name, ITEMS_OFF + len * isz, &obj);
	if (r < 0) {
		return r;
	}
	a->p     = obj;
	a->items = (char *) obj + ITEMS_OFF;
	if (!(flags & TR_SHARED_NOLOCK)) {
		r = tri_lockword_init(&a->p->lock, true);
		if (r < 0) {
			return r;
		}
		a->lock.w = &a->p->lock;
	}
	a->p->len      = len;
	a->p->itemsize = (uint32_t) isz;
	a->p->typecode = tc;
	a->p->nolock   = (flags & TR_SHARED_NOLOCK) != 0;
	if (init) {
		memcpy(a->items, init, len * isz);
	}
	return 0;
}

int
tr_array_new(tr_array **ret, const char *name, char typecode, size_t len,
    const void *init, int flags)
{
	tr_array *a;
	int       r;

	if (!ret) {
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	r = array_make(a, name, typecode, len, init, flags);
	if (r < 0) {
		tr_array_destroy(&a);
		return r;
	}
	tri_sync_publish(a->shm, TRI_SYNC_ARRAY);
	*ret = a;
	return 0;
}

static int
array_attach(tr_array *a, const char *where)
{
	uint32_t kind;
	size_t   isz;
	int      r;

	r = tri_sync_open(&a->shm, where, array_kinds, &kind);
	if (r < 0) {
		return r;
	}
	a->p = (struct tri_arraypage *) TRI_SYNC_OBJ(a->shm);
	isz  = type_size(a->p->typecode);
	if (isz == 0 || isz != a->p->itemsize ||
	    tr_shm_size(a->shm) < 64 + ITEMS_OFF + a->p->len * isz) {
		return TR_EBADTYPE;
	}
	a->items = (char *) a->p + ITEMS_OFF;
	if (!a->p->nolock) {
		a->lock.w = &a->p->lock;
	}
	return 0;
}

int
tr_array_open(tr_array **ret, const char *where)
{
	tr_array *a;
	int       r;

	if (!ret || !where) {
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	r = array_attach(a, where);
	if (r < 0) {
		tr_array_destroy(&a);
		return r;
	}
	*ret = a;
	return 0;
}

void
tr_array_destroy(tr_array **ap)
{
	tr_array *a = ap ? *ap : NULL;

	if (!a) {
		return;
	}
	tr_shm_destroy(&a->shm);
	free(a);
	*ap = NULL;
}

size_t
tr_array_len(tr_array *a)
{
	return a ? (size_t) a->p->len : 0;
}

char
tr_array_typecode(tr_array *a)
{
	return a ? a->p->typecode : 0;
}

size_t
tr_array_itemsize(tr_array *a)
{
	return a ? a->p->itemsize : 0;
}

void *
tr_array_data(tr_array *a)
{
	return a ? a->items : NULL;
}

tr_lock *
tr_array_get_lock(tr_array *a)
{
	return a && a->lock.w ? &a->lock : NULL;
}

const char *
tr_array_addr(tr_array *a)
{
	return a ? tr_shm_addr(a->shm) : "";
}

/* ---- typed access ------------------------------------------------------- */

static void
lock_items(tr_array *a)
{
	if (a->lock.w) {
		(void) tri_lockword_acquire(a->lock.w, TR_TIMEOUT_INFINITE);
	}
}

static void
unlock_items(tr_array *a)
{
	if (a->lock.w) {
		(void) tri_lockword_release(a->lock.w);
	}
}

static double
load_f64(char tc, const void *p)
{
	switch (tc) {
	case 'f':
		return *(const float *) p;
	case 'd':
		return *(const double *) p;
	case 'b':
		return *(const int8_t *) p;
	case 'B':
		return *(const uint8_t *) p;
	case 'h':
		return *(const int16_t *) p;
	case 'H':
		return *(const uint16_t *) p;
	case 'i':
		return *(const int32_t *) p;
	case 'I':
		return *(const uint32_t *) p;
	case 'l':
		return (double) *(const long *) p;
	case 'L':
		return (double) *(const unsigned long *) p;
	case 'q':
		return (double) *(const int64_t *) p;
	default:
		return (double) *(const uint64_t *) p;
	}
}

static int64_t
load_i64(char tc, const void *p)
{
	switch (tc) {
	case 'f':
		return (int64_t) * (const float *) p;
	case 'd':
		return (int64_t) * (const double *) p;
	case 'b':
		return *(const int8_t *) p;
	case 'B':
		return *(const uint8_t *) p;
	case 'h':
		return *(const int16_t *) p;
	case 'H':
		return *(const uint16_t *) p;
	case 'i':
		return *(const int32_t *) p;
	case 'I':
		return *(const uint32_t *) p;
	case 'l':
		return *(const long *) p;
	case 'L':
		return (int64_t) * (const unsigned long *) p;
	case 'q':
		return *(const int64_t *) p;
	default:
		return (int64_t) * (const uint64_t *) p;
	}
}

#define STORE_CHECKED(T, lo, hi)            \
	do {                                \
		if (v < (lo) || v > (hi)) { \
			return -EOVERFLOW;  \
		}                           \
		*(T *) p = (T) v;           \
		return 0;                   \
	} while (0)

static int
store_i64(char tc, void *p, int64_t v)
{
	switch (tc) {
	case 'b':
		STORE_CHECKED(int8_t, INT8_MIN, INT8_MAX);
	case 'B':
		STORE_CHECKED(uint8_t, 0, UINT8_MAX);
	case 'h':
		STORE_CHECKED(int16_t, INT16_MIN, INT16_MAX);
	case 'H':
		STORE_CHECKED(uint16_t, 0, UINT16_MAX);
	case 'i':
		STORE_CHECKED(int32_t, INT32_MIN, INT32_MAX);
	case 'I':
		STORE_CHECKED(uint32_t, 0, (int64_t) UINT32_MAX);
	case 'l':
	case 'q':
		*(int64_t *) p = v;
		return 0;
	case 'L':
	case 'Q':
		STORE_CHECKED(uint64_t, 0, INT64_MAX);
	case 'f':
		*(float *) p = (float) v;
		return 0;
	default:
		*(double *) p = (double) v;
		return 0;
	}
}

static int
store_f64(char tc, void *p, double v)
{
	if (tc == 'f') {
		if (isfinite(v) && fabs(v) > 3.4028234663852886e38) {
			return -EOVERFLOW;
		}
		*(float *) p = (float) v;
		return 0;
	}
	if (tc == 'd') {
		*(double *) p = v;
		return 0;
	}
	/* an integer item takes the truncated value, if it fits */
	if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
		return -EOVERFLOW;
	}
	return store_i64(tc, p, (int64_t) v);
}

int
tr_array_get_i64(tr_array *a, size_t i, int64_t *ret)
{
	if (!a || !ret) {
		return -EINVAL;
	}
	if (i >= a->p->len) {
		return -ERANGE;
	}
	lock_items(a);
	*ret = load_i64(a->p->typecode, a->items + i * a->p->itemsize);
	unlock_items(a);
	return 0;
}

int
tr_array_get_f64(tr_array *a, size_t i, double *ret)
{
	if (!a || !ret) {
		return -EINVAL;
	}
	if (i >= a->p->len) {
		return -ERANGE;
	}
	lock_items(a);
	*ret = load_f64(a->p->typecode, a->items + i * a->p->itemsize);
	unlock_items(a);
	return 0;
}

int
tr_array_set_i64(tr_array *a, size_t i, int64_t v)
{
	int r;

	if (!a) {
		return -EINVAL;
	}
	if (i >= a->p->len) {
		return -ERANGE;
	}
	lock_items(a);
	r = store_i64(a->p->typecode, a->items + i * a->p->itemsize, v);
	unlock_items(a);
	return r;
}

int
tr_array_set_f64(tr_array *a, size_t i, double v)
{
	int r;

	if (!a) {
		return -EINVAL;
	}
	if (i >= a->p->len) {
		return -ERANGE;
	}
	lock_items(a);
	r = store_f64(a->p->typecode, a->items + i * a->p->itemsize, v);
	unlock_items(a);
	return r;
}

int
tr_array_read(tr_array *a, size_t from, size_t n, void *buf)
{
	if (!a || (!buf && n > 0)) {
		return -EINVAL;
	}
	if (from > a->p->len || n > a->p->len - from) {
		return -ERANGE;
	}
	lock_items(a);
	memcpy(buf, a->items + from * a->p->itemsize, n * a->p->itemsize);
	unlock_items(a);
	return 0;
}

/* ---- Value -------------------------------------------------------------- */

int
tr_value_new(tr_value **ret, const char *name, char typecode, int flags)
{
	tr_value *v;
	int       r;

	if (!ret) {
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	r = array_make(&v->a, name, typecode, 1, NULL, flags);
	if (r < 0) {
		tr_value_destroy(&v);
		return r;
	}
	v->a.p->is_value = 1;
	tri_sync_publish(v->a.shm, TRI_SYNC_ARRAY);
	*ret = v;
	return 0;
}

int
tr_value_open(tr_value **ret, const char *where)
{
	tr_value *v;
	int       r;

	if (!ret || !where) {
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	r = array_attach(&v->a, where);
	if (r == 0 && !v->a.p->is_value) {
		r = TR_EBADTYPE;
	}
	if (r < 0) {
		tr_value_destroy(&v);
		return r;
	}
	*ret = v;
	return 0;
}

void
tr_value_destroy(tr_value **vp)
{
	tr_value *v = vp ? *vp : NULL;

	if (!v) {
		return;
	}
	tr_shm_destroy(&v->a.shm);
	free(v);
	*vp = NULL;
}

int
tr_value_get_i64(tr_value *v, int64_t *ret)
{
	return v ? tr_array_get_i64(&v->a, 0, ret) : -EINVAL;
}

int
tr_value_get_f64(tr_value *v, double *ret)
{
	return v ? tr_array_get_f64(&v->a, 0, ret) : -EINVAL;
}

int
tr_value_set_i64(tr_value *v, int64_t x)
{
	return v ? tr_array_set_i64(&v->a, 0, x) : -EINVAL;
}

int
tr_value_set_f64(tr_value *v, double x)
{
	return v ? tr_array_set_f64(&v->a, 0, x) : -EINVAL;
}

void *
tr_value_ptr(tr_value *v)
{
	return v ? v->a.items : NULL;
}

tr_lock *
tr_value_get_lock(tr_value *v)
{
	return v ? tr_array_get_lock(&v->a) : NULL;
}

char
tr_value_typecode(tr_value *v)
{
	return v ? v->a.p->typecode : 0;
}

const char *
tr_value_addr(tr_value *v)
{
	return v ? tr_shm_addr(v->a.shm) : "";
}
