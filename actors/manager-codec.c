/* SPDX-License-Identifier: MIT */
/* tr_mval to and from a packed trwire.MgrValue, by hand: straight between
 * the value tree and the bytes, with no protobuf-c message tree on the
 * way (one allocation per value, not three), and with a bound on nesting
 * (protobuf-c's unpacker recurses once per nested message with none, so a
 * few megabytes of nested lists could overflow a stack).  The decoder is
 * never more lenient than protobuf-c: what it accepts, protobuf-c decodes
 * to the same value (test-manager checks both ways); it is stricter in
 * refusing a value with no field or two, unknown fields, a dict whose
 * counts differ or whose keys are containers, strings with a NUL, and
 * nesting past TR_MVAL_MAX_DEPTH. */
#include "manager-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ----------------------------------------------------------- */

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

static uint64_t
zigzag(int64_t i)
{
	return ((uint64_t) i << 1) ^ (uint64_t) (i >> 63);
}

/* A length-delimited field of n bytes, with its tag and length. */
static size_t
field_size(size_t n)
{
	return 1 + varint_size(n) + n;
}

static size_t body_size(const tr_mval *v);

static size_t
pb_body_size(const tr_mval *v)
{
	return field_size(strlen(v->u.s.type)) + field_size(v->u.s.len);
}

static size_t
container_size(const tr_mval *v)
{
	size_t n = 0;

	if (v->kind == TR_MVAL_LIST) {
		for (size_t i = 0; i < v->u.l.n; i++) {
			n += field_size(body_size(v->u.l.items[i]));
		}
		return n;
	}
	for (size_t i = 0; i < v->u.m.n; i++) {
		n += field_size(body_size(v->u.m.keys[i]));
		n += field_size(body_size(v->u.m.vals[i]));
	}
	return n;
}

/* Bytes of v's MgrValue message (without a tag and length of its own). */
static size_t
body_size(const tr_mval *v)
{
	switch (v->kind) {
	case TR_MVAL_NONE:
	case TR_MVAL_BOOL:
		return 2;
	case TR_MVAL_INT:
		return 1 + varint_size(zigzag(v->u.i));
	case TR_MVAL_DOUBLE:
		return 9;
	case TR_MVAL_BYTES:
	case TR_MVAL_STR:
		return field_size(v->u.s.len);
	case TR_MVAL_PB:
		return field_size(pb_body_size(v));
	default:
		return field_size(container_size(v));
	}
}

static uint8_t *
put_bytes(uint8_t *p, uint8_t tag, const void *data, size_t n)
{
	*p++ = tag;
	p    = put_varint(p, n);
	if (n > 0) {
		memcpy(p, data, n);
	}
	return p + n;
}

static uint8_t *put_body(uint8_t *p, const tr_mval *v);

static uint8_t *
put_item(uint8_t *p, uint8_t tag, const tr_mval *v)
{
	*p++ = tag;
	p    = put_varint(p, body_size(v));
	return put_body(p, v);
}

static uint8_t *
put_body(uint8_t *p, const tr_mval *v)
{
	uint64_t bits;

	switch (v->kind) {
	case TR_MVAL_NONE:
		*p++ = 0x08; /* field 1, varint */
		*p++ = 1;
		return p;
	case TR_MVAL_BYTES:
		return put_bytes(p, 0x12, v->u.s.data, v->u.s.len);
	case TR_MVAL_STR:
		return put_bytes(p, 0x1a, v->u.s.data, v->u.s.len);
	case TR_MVAL_INT:
		*p++ = 0x20;
		return put_varint(p, zigzag(v->u.i));
	case TR_MVAL_DOUBLE:
		*p++ = 0x29; /* field 5, 64-bit */
		memcpy(&bits, &v->u.d, 8);
		for (int i = 0; i < 8; i++) {
			*p++ = (uint8_t) (bits >> (8 * i));
		}
		return p;
	case TR_MVAL_BOOL:
		*p++ = 0x30;
		*p++ = v->u.b;
		return p;
	case TR_MVAL_PB:
		*p++ = 0x3a;
		p    = put_varint(p, pb_body_size(v));
		p    = put_bytes(p, 0x0a, v->u.s.type, strlen(v->u.s.type));
		return put_bytes(p, 0x12, v->u.s.data, v->u.s.len);
	case TR_MVAL_LIST:
		*p++ = 0x42;
		p    = put_varint(p, container_size(v));
		for (size_t i = 0; i < v->u.l.n; i++) {
			p = put_item(p, 0x0a, v->u.l.items[i]);
		}
		return p;
	default:
		*p++ = 0x4a;
		p    = put_varint(p, container_size(v));
		for (size_t i = 0; i < v->u.m.n; i++) {
			p = put_item(p, 0x0a, v->u.m.keys[i]);
		}
		for (size_t i = 0; i < v->u.m.n; i++) {
			p = put_item(p, 0x12, v->u.m.vals[i]);
		}
		return p;
	}
}

int
tri_mval_pack(const tr_mval *v, uint8_t **ret, size_t *ret_len)
{
	size_t   n = body_size(v);
	uint8_t *buf;

	buf = malloc(n);
	if (!buf) {
		return -ENOMEM;
	}
	if (put_body(buf, v) != buf + n) { /* never: the sizes agree */
		free(buf);
		return -EINVAL;
	}
	*ret     = buf;
	*ret_len = n;
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

struct in {
	const uint8_t *p, *end;
};

static bool
get_varint(struct in *in, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && in->p < in->end; shift += 7) {
		uint8_t b = *in->p++;

		v |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* A length-delimited field's bytes into *ret. */
static bool
get_delimited(struct in *in, struct in *ret)
{
	uint64_t n;

	if (!get_varint(in, &n) || n > (uint64_t) (in->end - in->p)) {
		return false;
	}
	ret->p   = in->p;
	ret->end = in->p + n;
	in->p += n;
	return true;
}

static int decode(struct in in, unsigned left, tr_mval **ret);

/* Items of a MgrList (field 1) or a MgrDict (fields 1 and 2), appended
 * to lists a and b (b NULL for a list). */
static int
decode_items(struct in in, unsigned left, tr_mval *a, tr_mval *b)
{
	while (in.p < in.end) {
		uint64_t  tag;
		struct in sub;
		tr_mval  *item = NULL;
		int       r;

		if (!get_varint(&in, &tag) || !get_delimited(&in, &sub) ||
		    (tag != 0x0a && (!b || tag != 0x12))) {
			return TR_EBADFRAME;
		}
		r = decode(sub, left - 1, &item);
		if (r == 0) {
			r = tr_mval_list_append(tag == 0x0a ? a : b, &item);
		}
		if (r < 0) {
			tr_mval_destroy(&item);
			return r == -EINVAL ? TR_EBADFRAME : r;
		}
	}
	return 0;
}

static tr_mval *
decode_dict(struct in in, unsigned left, int *ret_err)
{
	tr_mval *keys = tr_mval_list(), *vals = tr_mval_list();
	tr_mval *d = tr_mval_dict();
	int      r = keys && vals && d ? 0 : -ENOMEM;

	r = r < 0 ? r : decode_items(in, left, keys, vals);
	if (r == 0 && keys->u.l.n != vals->u.l.n) {
		r = TR_EBADFRAME;
	}
	for (size_t i = 0; r == 0 && i < keys->u.l.n; i++) {
		r = tr_mval_dict_set(
		    d, &keys->u.l.items[i], &vals->u.l.items[i]);
		r = r == -EINVAL ? TR_EBADFRAME : r;
	}
	tr_mval_destroy(&keys);
	tr_mval_destroy(&vals);
	if (r < 0) {
		tr_mval_destroy(&d);
		*ret_err = r;
	}
	return d;
}

static tr_mval *
decode_pb(struct in in)
{
	struct in type = { NULL, NULL }, data = { NULL, NULL }, sub;
	char      name[TRI_MVAL_TYPE_MAX];
	uint64_t  tag;
	size_t    n;

	while (in.p < in.end) {
		if (!get_varint(&in, &tag) || !get_delimited(&in, &sub) ||
		    (tag != 0x0a && tag != 0x12)) {
			return NULL;
		}
		*(tag == 0x0a ? &type : &data) = sub;
	}
	n = (size_t) (type.end - type.p);
	if (n >= sizeof(name) || (n > 0 && memchr(type.p, '\0', n))) {
		return NULL;
	}
	if (n > 0) {
		memcpy(name, type.p, n);
	}
	name[n] = '\0';
	return tr_mval_pb(name, data.p, (size_t) (data.end - data.p));
}

static tr_mval *
decode_field(struct in *in, uint64_t tag, unsigned left, int *err)
{
	struct in sub = { NULL, NULL };
	uint64_t  x   = 0;
	double    d;

	if ((tag & 7) == 2) {
		if (!get_delimited(in, &sub)) {
			return NULL;
		}
	} else if ((tag & 7) == 0 && !get_varint(in, &x)) {
		return NULL;
	}
	switch (tag) {
	case 0x08:
		return tr_mval_none();
	case 0x12:
		return tr_mval_bytes(sub.p, (size_t) (sub.end - sub.p));
	case 0x1a:
		return tr_mval_strn(
		    (const char *) sub.p, (size_t) (sub.end - sub.p));
	case 0x20:
		return tr_mval_int((int64_t) ((x >> 1) ^ (~(x & 1) + 1)));
	case 0x29:
		if (in->end - in->p < 8) {
			return NULL;
		}
		for (int i = 7; i >= 0; i--) {
			x = x << 8 | in->p[i];
		}
		in->p += 8;
		memcpy(&d, &x, 8);
		return tr_mval_double(d);
	case 0x30:
		return tr_mval_bool(x != 0);
	case 0x3a:
		return decode_pb(sub);
	case 0x42: {
		tr_mval *l = tr_mval_list();

		if (l && (*err = decode_items(sub, left, l, NULL)) < 0) {
			tr_mval_destroy(&l);
		}
		return l;
	}
	case 0x4a:
		return decode_dict(sub, left, err);
	default:
		return NULL; /* unknown field or wire type */
	}
}

/* One MgrValue: exactly one field. */
static int
decode(struct in in, unsigned left, tr_mval **ret)
{
	tr_mval *v = NULL;
	uint64_t tag;
	int      err = 0;

	if (left == 0 || !get_varint(&in, &tag)) {
		return TR_EBADFRAME;
	}
	v = decode_field(&in, tag, left, &err);
	if (!v || in.p != in.end) {
		tr_mval_destroy(&v);
		return err < 0 && err != TR_EBADFRAME && err != -EINVAL
		    ? err
		    : TR_EBADFRAME;
	}
	*ret = v;
	return 0;
}

int
tri_mval_unpack(const uint8_t *data, size_t len, tr_mval **ret)
{
	struct in in;

	/* an empty bytes field comes as NULL, 0 (found by fuzz-wire: NULL
	 * + 0 is undefined) */
	if (!data || len == 0) {
		return TR_EBADFRAME;
	}
	in = (struct in) { data, data + len };
	return decode(in, TR_MVAL_MAX_DEPTH + 1, ret);
}
