/* SPDX-License-Identifier: MIT */
/* The manager's Array: len items of one array-module type code held by
 * the manager (Python's manager.Array(typecode, sequence)), read and
 * written an item or a slice at a time through its proxy.  Items go over
 * the wire as values: an int for the integer codes, a double for 'f' and
 * 'd'.  Writes check every item first and change nothing when one does
 * not fit (Python's OverflowError and TypeError). */
#include "manager-int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- items -------------------------------------------------------------- */

static size_t
itemsize_of(char t)
{
	switch (t) {
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

static bool
is_float(char t)
{
	return t == 'f' || t == 'd';
}

/* Whether v fits an item of type t (checked before any write). */
static int
fits(char t, const tr_mval *v)
{
	int64_t i;

	if (is_float(t)) {
		return v->kind == TR_MVAL_DOUBLE || v->kind == TR_MVAL_INT
		    ? 0
		    : TR_EBADTYPE;
	}
	if (v->kind == TR_MVAL_BOOL) {
		return 0;
	}
	if (v->kind != TR_MVAL_INT) {
		return TR_EBADTYPE; /* Python: TypeError for a float too */
	}
	i = v->u.i;
	switch (t) {
	case 'b':
		return i >= INT8_MIN && i <= INT8_MAX ? 0 : -EOVERFLOW;
	case 'B':
		return i >= 0 && i <= UINT8_MAX ? 0 : -EOVERFLOW;
	case 'h':
		return i >= INT16_MIN && i <= INT16_MAX ? 0 : -EOVERFLOW;
	case 'H':
		return i >= 0 && i <= UINT16_MAX ? 0 : -EOVERFLOW;
	case 'i':
		return i >= INT32_MIN && i <= INT32_MAX ? 0 : -EOVERFLOW;
	case 'I':
		return i >= 0 && i <= UINT32_MAX ? 0 : -EOVERFLOW;
	case 'L':
	case 'Q':
		return i >= 0 ? 0 : -EOVERFLOW;
	default: /* 'l', 'q': 64 bits here */
		return 0;
	}
}

static void
store(struct tri_mgr_ext *x, size_t at, const tr_mval *v)
{
	void   *p = (char *) x->data + at * x->itemsize;
	double  d = v->kind == TR_MVAL_DOUBLE ? v->u.d
	     : v->kind == TR_MVAL_BOOL        ? (double) v->u.b
	                                      : (double) v->u.i;
	int64_t i = v->kind == TR_MVAL_BOOL ? v->u.b : v->u.i;

	switch (x->typecode) {
	case 'f': {
		float f = (float) d;

		memcpy(p, &f, sizeof(f));
		return;
	}
	case 'd':
		memcpy(p, &d, sizeof(d));
		return;
	default: {
		/* little or big endian alike: the low bytes of the value */
		int8_t  i8  = (int8_t) i;
		int16_t i16 = (int16_t) i;
		int32_t i32 = (int32_t) i;

		switch (x->itemsize) {
		case 1:
			memcpy(p, &i8, 1);
			break;
		case 2:
			memcpy(p, &i16, 2);
			break;
		case 4:
			memcpy(p, &i32, 4);
			break;
		default:
			memcpy(p, &i, 8);
			break;
		}
	}
	}
}

static tr_mval *
load(const struct tri_mgr_ext *x, size_t at)
{
	const void *p = (const char *) x->data + at * x->itemsize;

	switch (x->typecode) {
	case 'b':
		return tr_mval_int(*(const int8_t *) p);
	case 'B':
		return tr_mval_int(*(const uint8_t *) p);
	case 'h':
		return tr_mval_int(*(const int16_t *) p);
	case 'H':
		return tr_mval_int(*(const uint16_t *) p);
	case 'i':
		return tr_mval_int(*(const int32_t *) p);
	case 'I':
		return tr_mval_int(*(const uint32_t *) p);
	case 'f':
		return tr_mval_double(*(const float *) p);
	case 'd':
		return tr_mval_double(*(const double *) p);
	default: /* l L q Q: stored from an int64 >= 0 for the unsigned */
		return tr_mval_int(*(const int64_t *) p);
	}
}

tr_mval *
tri_marray_list(const struct object *o, size_t from, size_t to)
{
	tr_mval *l = tr_mval_list();

	if (l && tri_mval_list_reserve(l, to > from ? to - from : 0) < 0) {
		tr_mval_destroy(&l);
	}
	for (size_t i = from; l && i < to; i++) {
		tr_mval *v = load(o->ext, i);

		if (!v || tr_mval_list_append(l, &v) < 0) {
			tr_mval_destroy(&v);
			tr_mval_destroy(&l);
		}
	}
	return l;
}

/* ---- server ------------------------------------------------------------- */

/* Raw 'L' and 'Q' items past INT64_MAX would not come back as values
 * (64-bit signed): refused, as a value write of them is. */
static int
raw_fits(char t, const tr_mval *bytes)
{
	if (t != 'L' && t != 'Q') {
		return 0;
	}
	for (size_t i = 0; i + 8 <= bytes->u.s.len; i += 8) {
		uint64_t u;

		memcpy(&u, bytes->u.s.data + i, 8);
		if (u > INT64_MAX) {
			return -EOVERFLOW;
		}
	}
	return 0;
}

/* Check every item of list l against type t. */
static int
all_fit(char t, const tr_mval *l)
{
	for (size_t i = 0; i < l->u.l.n; i++) {
		int r = fits(t, l->u.l.items[i]);

		if (r < 0) {
			return r;
		}
	}
	return 0;
}

int
tri_marray_init(
    struct object *o, const Trwire__MgrRequest *req, const tr_mval *init)
{
	struct tri_mgr_ext *x = o->ext;
	char                t = (char) req->typecode;
	size_t              n = (size_t) req->size;
	int                 r;

	x->itemsize = req->typecode < 128 ? itemsize_of(t) : 0;
	if (x->itemsize == 0) {
		return -EINVAL;
	}
	if (init) {
		if (init->kind != TR_MVAL_LIST ||
		    (n != 0 && n != init->u.l.n)) {
			return -EINVAL;
		}
		n = init->u.l.n;
		r = all_fit(t, init);
		if (r < 0) {
			return r;
		}
	}
	if (n == 0 || n > TR_MARRAY_MAX_LEN) {
		return -EINVAL;
	}
	x->data = calloc(n, x->itemsize);
	if (!x->data) {
		return -ENOMEM;
	}
	x->typecode = t;
	x->len      = n;
	for (size_t i = 0; init && i < n; i++) {
		store(x, i, init->u.l.items[i]);
	}
	return 0;
}

static int64_t
index_of(int64_t i, size_t n)
{
	if (i < 0) {
		i += (int64_t) n;
	}
	return i >= 0 && (uint64_t) i < n ? i : -1;
}

static int64_t
clamp(int64_t i, size_t n)
{
	if (i < 0) {
		i += (int64_t) n;
	}
	if (i < 0) {
		return 0;
	}
	return (uint64_t) i > n ? (int64_t) n : i;
}

static int64_t
answer_list(const struct object *o, const tr_msg *m, size_t a, size_t b)
{
	tr_mval *l = tri_marray_list(o, a, b);

	if (!l) {
		return -ENOMEM;
	}
	tri_mgr_answer(m, 0, l, 0);
	tr_mval_destroy(&l);
	return TRI_MGR_DONE;
}

int64_t
tri_marray_op(struct object *o, const tr_msg *m, const Trwire__MgrRequest *req)
{
	struct tri_mgr_ext *x = o->ext;
	int64_t             i = index_of(req->index, x->len);
	int64_t             a = clamp(req->index, x->len);
	int64_t             b = clamp(req->stop, x->len);
	tr_mval            *v = NULL;
	int64_t             r;

	b = b < a ? a : b;
	switch (req->op) {
	case TRI_MGR_ARRAY_GET:
		if (i < 0) {
			return TR_ENOTFOUND;
		}
		if (!(v = load(x, (size_t) i))) {
			return -ENOMEM;
		}
		tri_mgr_answer(m, 0, v, 0);
		tr_mval_destroy(&v);
		return TRI_MGR_DONE;
	case TRI_MGR_ARRAY_SLICE:
		return answer_list(o, m, (size_t) a, (size_t) b);
	case TRI_MGR_ARRAY_SET:
		if (i < 0) {
			return TR_ENOTFOUND;
		}
		r = tri_mgr_value_arg(req, &v);
		r = r < 0 ? r : fits(x->typecode, v);
		if (r == 0) {
			store(x, (size_t) i, v);
		}
		break;
	case TRI_MGR_ARRAY_READ:
		/* items index..stop-1 as they lie (no clamping) */
		if (req->index < 0 || req->stop < req->index ||
		    (uint64_t) req->stop > x->len) {
			return TR_ENOTFOUND;
		}
		v = tr_mval_bytes(
		    (char *) x->data + (size_t) req->index * x->itemsize,
		    (size_t) (req->stop - req->index) * x->itemsize);
		if (!v) {
			return -ENOMEM;
		}
		tri_mgr_answer(m, 0, v, 0);
		tr_mval_destroy(&v);
		return TRI_MGR_DONE;
	case TRI_MGR_ARRAY_WRITE:
		r = tri_mgr_value_arg(req, &v);
		if (r == 0 &&
		    (req->index < 0 || v->kind != TR_MVAL_BYTES ||
		        v->u.s.len % x->itemsize != 0)) {
			r = -EINVAL;
		} else if (r == 0 &&
		    (uint64_t) req->index + v->u.s.len / x->itemsize > x->len) {
			r = TR_ENOTFOUND;
		}
		if (r == 0) {
			r = raw_fits(x->typecode, v);
		}
		if (r == 0 && v->u.s.len > 0) {
			memcpy((char *) x->data +
			        (size_t) req->index * x->itemsize,
			    v->u.s.data, v->u.s.len);
		}
		break;
	case TRI_MGR_ARRAY_SET_SLICE:
		r = tri_mgr_value_arg(req, &v);
		if (r == 0 &&
		    (v->kind != TR_MVAL_LIST || v->u.l.n != (size_t) (b - a))) {
			r = -EINVAL; /* Python: same size only */
		}
		r = r < 0 ? r : all_fit(x->typecode, v);
		for (size_t k = 0; r == 0 && k < v->u.l.n; k++) {
			store(x, (size_t) a + k, v->u.l.items[k]);
		}
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	tr_mval_destroy(&v);
	return r;
}

/* ---- proxies ------------------------------------------------------------ */

int
tr_marray_new(tr_mobj **ret, tr_manager *m, const char *name, char typecode,
    size_t len, const tr_mval *init)
{
	tr_assert_return(ret && m && itemsize_of(typecode) > 0, -EINVAL);
	tr_assert_return(len > 0 || init, -EINVAL);
	tr_assert_return(!init || tr_mval_kind(init) == TR_MVAL_LIST, -EINVAL);
	tr_assert_return(
	    !init || len == 0 || len == tr_mval_len(init), -EINVAL);
	return tri_mobj_new_sized(
	    ret, m, TR_MOBJ_ARRAY, name, init, typecode, len);
}

int
tr_marray_get(tr_mobj *o, int64_t index, tr_mval **ret)
{
	tr_assert_return(o && ret, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_ARRAY_GET, NULL, NULL, index, 0, 0, ret);
}

int
tr_marray_set(tr_mobj *o, int64_t index, const tr_mval *val)
{
	tr_assert_return(o && val, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_ARRAY_SET, NULL, val, index, 0, 0, NULL);
}

int
tr_marray_slice(tr_mobj *o, int64_t start, int64_t stop, tr_mval **ret)
{
	tr_assert_return(o && ret, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_ARRAY_SLICE, NULL, NULL, start, stop, 0, ret);
}

char
tr_marray_typecode(const tr_mobj *o)
{
	return o ? tri_mobj_typecode(o) : 0;
}

int
tr_marray_read(tr_mobj *o, size_t from, size_t n, void *buf)
{
	char        t    = o ? tri_mobj_typecode(o) : 0;
	size_t      size = itemsize_of(t), len = 0;
	tr_mval    *v = NULL;
	const void *p;
	int         r;

	tr_assert_return(o && size > 0 && (buf || n == 0), -EINVAL);
	tr_assert_return(n <= TR_MARRAY_MAX_LEN && from <= INT64_MAX, -EINVAL);
	r = (int) tri_mobj_call(o, TRI_MGR_ARRAY_READ, NULL, NULL,
	    (int64_t) from, (int64_t) (from + n), 0, &v);
	if (r < 0) {
		return r;
	}
	p = tr_mval_get_bytes(v, &len);
	if (tr_mval_kind(v) != TR_MVAL_BYTES || len != n * size) {
		r = TR_EBADFRAME; /* not what was asked for */
	} else if (len > 0) {
		memcpy(buf, p, len);
	}
	tr_mval_destroy(&v);
	return r;
}

int
tr_marray_write(tr_mobj *o, size_t from, size_t n, const void *buf)
{
	char     t    = o ? tri_mobj_typecode(o) : 0;
	size_t   size = itemsize_of(t);
	tr_mval *v;
	int      r;

	tr_assert_return(o && size > 0 && (buf || n == 0), -EINVAL);
	tr_assert_return(n <= TR_MARRAY_MAX_LEN && from <= INT64_MAX, -EINVAL);
	v = tr_mval_bytes(buf, n * size);
	if (!v) {
		return -ENOMEM;
	}
	r = (int) tri_mobj_call(
	    o, TRI_MGR_ARRAY_WRITE, NULL, v, (int64_t) from, 0, 0, NULL);
	tr_mval_destroy(&v);
	return r;
}

int
tr_marray_set_slice(
    tr_mobj *o, int64_t start, int64_t stop, const tr_mval *list)
{
	tr_assert_return(o && list, -EINVAL);
	return (int) tri_mobj_call(
	    o, TRI_MGR_ARRAY_SET_SLICE, NULL, list, start, stop, 0, NULL);
}
