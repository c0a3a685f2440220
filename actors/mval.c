/* SPDX-License-Identifier: MIT */
/* tr_mval, the manager's tagged value: constructors, accessors, equality,
 * and the dict, which keeps insertion order in an array of entries and
 * finds keys through an open-addressing index of entry numbers (built once
 * a dict has more than a few keys). */
#include "manager-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#define LINEAR_MAX 8 /* dicts up to this size are searched in order */

static tr_mval *
alloc(int kind)
{
	tr_mval *v = calloc(1, sizeof(*v));

	if (v) {
		v->kind = kind;
	}
	return v;
}

tr_mval *
tr_mval_none(void)
{
	return alloc(TR_MVAL_NONE);
}

tr_mval *
tr_mval_int(int64_t i)
{
	tr_mval *v = alloc(TR_MVAL_INT);

	if (v) {
		v->u.i = i;
	}
	return v;
}

tr_mval *
tr_mval_double(double d)
{
	tr_mval *v = alloc(TR_MVAL_DOUBLE);

	if (v) {
		v->u.d = d;
	}
	return v;
}

tr_mval *
tr_mval_bool(bool b)
{
	tr_mval *v = alloc(TR_MVAL_BOOL);

	if (v) {
		v->u.b = b;
	}
	return v;
}

/* bytes, str and pb: data is always NUL-terminated for the str reader. */
static tr_mval *
blob(int kind, const void *data, size_t len)
{
	tr_mval *v;

	if ((!data && len > 0) || len > SIZE_MAX - 1) {
		return NULL;
	}
	v = alloc(kind);
	if (!v) {
		return NULL;
	}
	v->u.s.data = malloc(len + 1);
	if (!v->u.s.data) {
		free(v);
		return NULL;
	}
	if (len > 0) {
		memcpy(v->u.s.data, data, len);
	}
	v->u.s.data[len] = '\0';
	v->u.s.len       = len;
	return v;
}

tr_mval *
tr_mval_str(const char *s)
{
	return s ? blob(TR_MVAL_STR, s, strlen(s)) : NULL;
}

tr_mval *
tr_mval_strn(const char *s, size_t len)
{
	if (len > 0 && (!s || memchr(s, '\0', len))) {
		return NULL; /* a protobuf string ends at its NUL */
	}
	return blob(TR_MVAL_STR, s, len);
}

tr_mval *
tr_mval_bytes(const void *data, size_t len)
{
	return blob(TR_MVAL_BYTES, data, len);
}

tr_mval *
tr_mval_pb(const char *type, const void *data, size_t len)
{
	tr_mval *v;

	if (!type || strlen(type) >= TRI_MVAL_TYPE_MAX) {
		return NULL;
	}
	v = blob(TR_MVAL_PB, data, len);
	if (v && !(v->u.s.type = strdup(type))) {
		tr_mval_destroy(&v);
	}
	return v;
}

tr_mval *
tr_mval_pb_pack(const ProtobufCMessage *msg)
{
	size_t   n;
	uint8_t *buf;
	tr_mval *v;

	if (!msg || !msg->descriptor) {
		return NULL;
	}
	n   = protobuf_c_message_get_packed_size(msg);
	buf = malloc(n ? n : 1);
	if (!buf) {
		return NULL;
	}
	(void) protobuf_c_message_pack(msg, buf);
	v = tr_mval_pb(msg->descriptor->name, buf, n);
	free(buf);
	return v;
}

int
tr_mval_pb_unpack(const tr_mval *v, const ProtobufCMessageDescriptor *d,
    ProtobufCMessage **ret)
{
	ProtobufCMessage *m;

	tr_assert_return(v && d && ret, -EINVAL);
	if (v->kind != TR_MVAL_PB || strcmp(v->u.s.type, d->name) != 0) {
		return TR_EBADTYPE;
	}
	m = protobuf_c_message_unpack(
	    d, NULL, v->u.s.len, (const uint8_t *) v->u.s.data);
	if (!m) {
		return TR_EBADFRAME;
	}
	*ret = m;
	return 0;
}

tr_mval *
tr_mval_list(void)
{
	tr_mval *v = alloc(TR_MVAL_LIST);

	if (v) {
		v->depth = 1;
	}
	return v;
}

tr_mval *
tr_mval_dict(void)
{
	tr_mval *v = alloc(TR_MVAL_DICT);

	if (v) {
		v->depth = 1;
	}
	return v;
}

void
tr_mval_destroy(tr_mval **vp)
{
	tr_mval *v = vp ? *vp : NULL;

	if (!v) {
		return;
	}
	switch (v->kind) {
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
	case TR_MVAL_PB:
		free(v->u.s.data);
		free(v->u.s.type);
		break;
	case TR_MVAL_LIST:
		tri_mval_list_clear(v);
		free(v->u.l.items);
		break;
	case TR_MVAL_DICT:
		for (size_t i = 0; i < v->u.m.n; i++) {
			tr_mval_destroy(&v->u.m.keys[i]);
			tr_mval_destroy(&v->u.m.vals[i]);
		}
		free(v->u.m.keys);
		free(v->u.m.vals);
		free(v->u.m.index);
		break;
	}
	free(v);
	*vp = NULL;
}

tr_mval *
tr_mval_copy(const tr_mval *v)
{
	tr_mval *c = NULL;

	if (!v) {
		return NULL;
	}
	switch (v->kind) {
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
		return blob(v->kind, v->u.s.data, v->u.s.len);
	case TR_MVAL_PB:
		return tr_mval_pb(v->u.s.type, v->u.s.data, v->u.s.len);
	case TR_MVAL_LIST:
		c = tr_mval_list();
		for (size_t i = 0; c && i < v->u.l.n; i++) {
			tr_mval *item = tr_mval_copy(v->u.l.items[i]);

			if (tr_mval_list_append(c, &item) < 0) {
				tr_mval_destroy(&item);
				tr_mval_destroy(&c);
			}
		}
		return c;
	case TR_MVAL_DICT:
		c = tr_mval_dict();
		for (size_t i = 0; c && i < v->u.m.n; i++) {
			tr_mval *k   = tr_mval_copy(v->u.m.keys[i]);
			tr_mval *val = tr_mval_copy(v->u.m.vals[i]);

			if (tr_mval_dict_set(c, &k, &val) < 0) {
				tr_mval_destroy(&k);
				tr_mval_destroy(&val);
				tr_mval_destroy(&c);
			}
		}
		return c;
	default:
		c = alloc(v->kind);
		if (c) {
			c->u = v->u;
		}
		return c;
	}
}

/* ---- lists -------------------------------------------------------------- */

void
tri_mval_list_clear(tr_mval *l)
{
	for (size_t i = 0; i < l->u.l.n; i++) {
		tr_mval_destroy(&l->u.l.items[i]);
	}
	l->u.l.n = 0;
}

int
tri_mval_list_reserve(tr_mval *l, size_t more)
{
	size_t    cap = l->u.l.cap ? l->u.l.cap : 8;
	tr_mval **items;

	if (more > SIZE_MAX / sizeof(*items) - l->u.l.n) {
		return -ENOMEM;
	}
	while (cap < l->u.l.n + more) {
		cap *= 2;
	}
	if (cap == l->u.l.cap) {
		return 0;
	}
	items = realloc(l->u.l.items, cap * sizeof(*items));
	if (!items) {
		return -ENOMEM;
	}
	l->u.l.items = items;
	l->u.l.cap   = cap;
	return 0;
}

static void
grow_depth(tr_mval *c, const tr_mval *item)
{
	if (item->depth + 1 > c->depth) {
		c->depth = item->depth + 1;
	}
}

int
tr_mval_list_append(tr_mval *list, tr_mval **itemp)
{
	tr_assert_return(list && list->kind == TR_MVAL_LIST, -EINVAL);
	tr_assert_return(itemp && *itemp, -EINVAL);
	tr_assert_return((*itemp)->depth < TR_MVAL_MAX_DEPTH, -EINVAL);
	if (tri_mval_list_reserve(list, 1) < 0) {
		return -ENOMEM;
	}
	grow_depth(list, *itemp);
	list->u.l.items[list->u.l.n++] = *itemp;
	*itemp                         = NULL;
	return 0;
}

/* ---- dicts -------------------------------------------------------------- */

bool
tri_mval_is_key(const tr_mval *k)
{
	return k && k->kind != TR_MVAL_LIST && k->kind != TR_MVAL_DICT;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
hash_key(const tr_mval *k)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, &k->kind, sizeof(k->kind));
	double   d;

	switch (k->kind) {
	case TR_MVAL_INT:
		return fnv(h, &k->u.i, sizeof(k->u.i));
	case TR_MVAL_DOUBLE:
		d = k->u.d == 0 ? 0.0 : k->u.d; /* -0.0 == 0.0 */
		return fnv(h, &d, sizeof(d));
	case TR_MVAL_BOOL:
		return fnv(h, &k->u.b, sizeof(k->u.b));
	case TR_MVAL_PB:
		h = fnv(h, k->u.s.type, strlen(k->u.s.type));
		/* fall through */
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
		return fnv(h, k->u.s.data, k->u.s.len);
	default:
		return h;
	}
}

/* Put entry i in the index (which has room). */
static void
index_put(tr_mval *d, size_t i)
{
	size_t mask = d->u.m.nindex - 1;
	size_t s    = hash_key(d->u.m.keys[i]) & mask;

	while (d->u.m.index[s] != 0) {
		s = (s + 1) & mask;
	}
	d->u.m.index[s] = (uint32_t) i + 1;
}

static int
index_rebuild(tr_mval *d)
{
	size_t    n = 16;
	uint32_t *idx;

	free(d->u.m.index);
	d->u.m.index  = NULL;
	d->u.m.nindex = 0;
	if (d->u.m.n <= LINEAR_MAX) {
		return 0;
	}
	while (n < 2 * d->u.m.n) {
		n *= 2;
	}
	idx = calloc(n, sizeof(*idx));
	if (!idx) {
		return -ENOMEM; /* searched in order until the next rebuild */
	}
	d->u.m.index  = idx;
	d->u.m.nindex = n;
	for (size_t i = 0; i < d->u.m.n; i++) {
		index_put(d, i);
	}
	return 0;
}

ssize_t
tri_mval_dict_find(const tr_mval *d, const tr_mval *key)
{
	if (d->u.m.index) {
		size_t mask = d->u.m.nindex - 1;

		for (size_t s = hash_key(key) & mask; d->u.m.index[s];
		     s        = (s + 1) & mask) {
			size_t i = d->u.m.index[s] - 1;

			if (tr_mval_eq(d->u.m.keys[i], key)) {
				return (ssize_t) i;
			}
		}
		return -1;
	}
	for (size_t i = 0; i < d->u.m.n; i++) {
		if (tr_mval_eq(d->u.m.keys[i], key)) {
			return (ssize_t) i;
		}
	}
	return -1;
}

static int
dict_reserve(tr_mval *d)
{
	size_t    cap = d->u.m.cap ? 2 * d->u.m.cap : 8;
	tr_mval **k, **v;

	if (d->u.m.n < d->u.m.cap) {
		return 0;
	}
	if (cap > SIZE_MAX / sizeof(*k) || cap > UINT32_MAX / 2) {
		return -ENOMEM;
	}
	k = realloc(d->u.m.keys, cap * sizeof(*k));
	if (!k) {
		return -ENOMEM;
	}
	d->u.m.keys = k;
	v           = realloc(d->u.m.vals, cap * sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	d->u.m.vals = v;
	d->u.m.cap  = cap;
	return 0;
}

int
tr_mval_dict_set(tr_mval *dict, tr_mval **keyp, tr_mval **valp)
{
	ssize_t i;

	tr_assert_return(dict && dict->kind == TR_MVAL_DICT, -EINVAL);
	tr_assert_return(keyp && tri_mval_is_key(*keyp), -EINVAL);
	tr_assert_return(valp && *valp, -EINVAL);
	tr_assert_return((*valp)->depth < TR_MVAL_MAX_DEPTH, -EINVAL);
	i = tri_mval_dict_find(dict, *keyp);
	if (i >= 0) {
		tr_mval_destroy(&dict->u.m.vals[i]);
		tr_mval_destroy(keyp);
		dict->u.m.vals[i] = *valp;
		*valp             = NULL;
		grow_depth(dict, dict->u.m.vals[i]);
		return 0;
	}
	if (dict_reserve(dict) < 0) {
		return -ENOMEM;
	}
	i                 = (ssize_t) dict->u.m.n++;
	dict->u.m.keys[i] = *keyp;
	dict->u.m.vals[i] = *valp;
	*keyp             = NULL;
	*valp             = NULL;
	grow_depth(dict, dict->u.m.vals[i]);
	if (dict->u.m.index && dict->u.m.n * 2 <= dict->u.m.nindex) {
		index_put(dict, (size_t) i);
	} else if (dict->u.m.n > LINEAR_MAX) {
		(void) index_rebuild(dict);
	}
	return 0;
}

tr_mval *
tri_mval_dict_take(tr_mval *d, size_t i)
{
	tr_mval *v = d->u.m.vals[i];

	tr_mval_destroy(&d->u.m.keys[i]);
	memmove(&d->u.m.keys[i], &d->u.m.keys[i + 1],
	    (d->u.m.n - i - 1) * sizeof(tr_mval *));
	memmove(&d->u.m.vals[i], &d->u.m.vals[i + 1],
	    (d->u.m.n - i - 1) * sizeof(tr_mval *));
	d->u.m.n--;
	(void) index_rebuild(d);
	return v;
}

/* ---- accessors ---------------------------------------------------------- */

int
tr_mval_kind(const tr_mval *v)
{
	return v ? v->kind : -EINVAL;
}

int64_t
tr_mval_get_int(const tr_mval *v)
{
	return v && v->kind == TR_MVAL_INT ? v->u.i : 0;
}

double
tr_mval_get_double(const tr_mval *v)
{
	return v && v->kind == TR_MVAL_DOUBLE ? v->u.d : 0.0;
}

bool
tr_mval_get_bool(const tr_mval *v)
{
	return v && v->kind == TR_MVAL_BOOL ? v->u.b : false;
}

const char *
tr_mval_get_str(const tr_mval *v)
{
	return v && v->kind == TR_MVAL_STR ? v->u.s.data : NULL;
}

static bool
is_blob(const tr_mval *v)
{
	return v &&
	    (v->kind == TR_MVAL_BYTES || v->kind == TR_MVAL_STR ||
	        v->kind == TR_MVAL_PB);
}

const void *
tr_mval_get_bytes(const tr_mval *v, size_t *ret_len)
{
	if (!is_blob(v)) {
		return NULL;
	}
	if (ret_len) {
		*ret_len = v->u.s.len;
	}
	return v->u.s.data;
}

const char *
tr_mval_pb_type(const tr_mval *v)
{
	return v && v->kind == TR_MVAL_PB ? v->u.s.type : NULL;
}

size_t
tr_mval_len(const tr_mval *v)
{
	if (is_blob(v)) {
		return v->u.s.len;
	}
	if (v && v->kind == TR_MVAL_LIST) {
		return v->u.l.n;
	}
	return v && v->kind == TR_MVAL_DICT ? v->u.m.n : 0;
}

const tr_mval *
tr_mval_list_at(const tr_mval *list, size_t i)
{
	return list && list->kind == TR_MVAL_LIST && i < list->u.l.n
	    ? list->u.l.items[i]
	    : NULL;
}

const tr_mval *
tr_mval_dict_key_at(const tr_mval *dict, size_t i)
{
	return dict && dict->kind == TR_MVAL_DICT && i < dict->u.m.n
	    ? dict->u.m.keys[i]
	    : NULL;
}

const tr_mval *
tr_mval_dict_value_at(const tr_mval *dict, size_t i)
{
	return dict && dict->kind == TR_MVAL_DICT && i < dict->u.m.n
	    ? dict->u.m.vals[i]
	    : NULL;
}

const tr_mval *
tr_mval_dict_get(const tr_mval *dict, const tr_mval *key)
{
	ssize_t i;

	if (!dict || dict->kind != TR_MVAL_DICT || !tri_mval_is_key(key)) {
		return NULL;
	}
	i = tri_mval_dict_find(dict, key);
	return i >= 0 ? dict->u.m.vals[i] : NULL;
}

bool
tr_mval_eq(const tr_mval *a, const tr_mval *b)
{
	if (!a || !b || a->kind != b->kind) {
		return a == b;
	}
	switch (a->kind) {
	case TR_MVAL_NONE:
		return true;
	case TR_MVAL_INT:
		return a->u.i == b->u.i;
	case TR_MVAL_DOUBLE:
		return a->u.d == b->u.d;
	case TR_MVAL_BOOL:
		return a->u.b == b->u.b;
	case TR_MVAL_PB:
		if (strcmp(a->u.s.type, b->u.s.type) != 0) {
			return false;
		}
		/* fall through */
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
		return a->u.s.len == b->u.s.len &&
		    memcmp(a->u.s.data, b->u.s.data, a->u.s.len) == 0;
	case TR_MVAL_LIST:
		if (a->u.l.n != b->u.l.n) {
			return false;
		}
		for (size_t i = 0; i < a->u.l.n; i++) {
			if (!tr_mval_eq(a->u.l.items[i], b->u.l.items[i])) {
				return false;
			}
		}
		return true;
	case TR_MVAL_DICT:
		if (a->u.m.n != b->u.m.n) {
			return false;
		}
		for (size_t i = 0; i < a->u.m.n; i++) {
			if (!tr_mval_eq(a->u.m.vals[i],
			        tr_mval_dict_get(b, a->u.m.keys[i]))) {
				return false;
			}
		}
		return true;
	}
	return false;
}

/* ---- repr --------------------------------------------------------------- */

static void
repr_double(FILE *f, double d)
{
	char buf[40];

	if (isnan(d)) {
		fputs("nan", f);
		return;
	}
	if (isinf(d)) {
		fputs(d < 0 ? "-inf" : "inf", f);
		return;
	}
	for (int p = 1; p <= 17; p++) { /* shortest that reads back */
		snprintf(buf, sizeof(buf), "%.*g", p, d);
		if (strtod(buf, NULL) == d) {
			break;
		}
	}
	fputs(buf, f);
	if (!strpbrk(buf, ".e")) {
		fputs(".0", f);
	}
}

static void
repr_text(FILE *f, const tr_mval *v)
{
	const unsigned char *s  = (const unsigned char *) v->u.s.data;
	bool                 by = v->kind == TR_MVAL_BYTES;
	char q = memchr(s, '\'', v->u.s.len) && !memchr(s, '"', v->u.s.len)
	    ? '"'
	    : '\'';

	if (by) {
		fputc('b', f);
	}
	fputc(q, f);
	for (size_t i = 0; i < v->u.s.len; i++) {
		unsigned char c = s[i];

		if (c == '\\' || c == (unsigned char) q) {
			fprintf(f, "\\%c", c);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20 || c == 0x7f || (by && c >= 0x80)) {
			fprintf(f, "\\x%02x", c);
		} else {
			fputc(c, f);
		}
	}
	fputc(q, f);
}

void
tri_mval_repr_to(FILE *f, const tr_mval *v)
{
	switch (v->kind) {
	case TR_MVAL_NONE:
		fputs("None", f);
		break;
	case TR_MVAL_INT:
		fprintf(f, "%lld", (long long) v->u.i);
		break;
	case TR_MVAL_DOUBLE:
		repr_double(f, v->u.d);
		break;
	case TR_MVAL_BOOL:
		fputs(v->u.b ? "True" : "False", f);
		break;
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
		repr_text(f, v);
		break;
	case TR_MVAL_PB:
		fprintf(f, "<%s: %zu bytes>", v->u.s.type, v->u.s.len);
		break;
	case TR_MVAL_LIST:
		fputc('[', f);
		for (size_t i = 0; i < v->u.l.n; i++) {
			fputs(i ? ", " : "", f);
			tri_mval_repr_to(f, v->u.l.items[i]);
		}
		fputc(']', f);
		break;
	case TR_MVAL_DICT:
		fputc('{', f);
		for (size_t i = 0; i < v->u.m.n; i++) {
			fputs(i ? ", " : "", f);
			tri_mval_repr_to(f, v->u.m.keys[i]);
			fputs(": ", f);
			tri_mval_repr_to(f, v->u.m.vals[i]);
		}
		fputc('}', f);
		break;
	}
}

char *
tr_mval_repr(const tr_mval *v)
{
	char  *buf = NULL;
	size_t n   = 0;
	FILE  *f;

	if (!v) {
		return NULL;
	}
	f = open_memstream(&buf, &n);
	if (!f) {
		return NULL;
	}
	tri_mval_repr_to(f, v);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
