/* SPDX-License-Identifier: MIT */
/* tr_mval to and from trwire.MgrValue, and the nesting check that runs on
 * every packed request and reply before protobuf-c unpacks it: protobuf-c
 * recurses once per nested message without a limit, so a peer could
 * otherwise send a few megabytes of nested lists and overflow the stack. */
#include "manager-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- to the wire -------------------------------------------------------- */

void
tri_mval_pb_free(Trwire__MgrValue *pb)
{
	if (!pb) {
		return;
	}
	switch (pb->v_case) {
	case TRWIRE__MGR_VALUE__V_PB:
		free(pb->pb);
		break;
	case TRWIRE__MGR_VALUE__V_LIST:
		for (size_t i = 0; i < pb->list->n_items; i++) {
			tri_mval_pb_free(pb->list->items[i]);
		}
		free(pb->list->items);
		free(pb->list);
		break;
	case TRWIRE__MGR_VALUE__V_DICT:
		for (size_t i = 0; i < pb->dict->n_keys; i++) {
			tri_mval_pb_free(pb->dict->keys[i]);
			tri_mval_pb_free(pb->dict->values[i]);
		}
		free(pb->dict->keys);
		free(pb->dict->values);
		free(pb->dict);
		break;
	default:
		break;
	}
	free(pb);
}

static int
list_to_pb(const tr_mval *v, Trwire__MgrValue *pb)
{
	Trwire__MgrList *l = calloc(1, sizeof(*l));

	if (!l) {
		return -ENOMEM;
	}
	trwire__mgr_list__init(l);
	pb->v_case = TRWIRE__MGR_VALUE__V_LIST;
	pb->list   = l;
	l->items   = calloc(v->u.l.n ? v->u.l.n : 1, sizeof(*l->items));
	if (!l->items) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < v->u.l.n; i++, l->n_items++) {
		if (tri_mval_to_pb(v->u.l.items[i], &l->items[i]) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int
dict_to_pb(const tr_mval *v, Trwire__MgrValue *pb)
{
	Trwire__MgrDict *d = calloc(1, sizeof(*d));
	size_t           n = v->u.m.n ? v->u.m.n : 1;

	if (!d) {
		return -ENOMEM;
	}
	trwire__mgr_dict__init(d);
	pb->v_case = TRWIRE__MGR_VALUE__V_DICT;
	pb->dict   = d;
	d->keys    = calloc(n, sizeof(*d->keys));
	d->values  = calloc(n, sizeof(*d->values));
	if (!d->keys || !d->values) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < v->u.m.n; i++) {
		d->n_keys++;
		d->n_values++;
		if (tri_mval_to_pb(v->u.m.keys[i], &d->keys[i]) < 0 ||
		    tri_mval_to_pb(v->u.m.vals[i], &d->values[i]) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

int
tri_mval_to_pb(const tr_mval *v, Trwire__MgrValue **ret)
{
	Trwire__MgrValue *pb = calloc(1, sizeof(*pb));
	int               r  = 0;

	if (!pb) {
		return -ENOMEM;
	}
	trwire__mgr_value__init(pb);
	switch (v->kind) {
	case TR_MVAL_NONE:
		pb->v_case = TRWIRE__MGR_VALUE__V_NONE;
		pb->none   = true;
		break;
	case TR_MVAL_BYTES:
		pb->v_case     = TRWIRE__MGR_VALUE__V_BYTES;
		pb->bytes.data = (uint8_t *) v->u.s.data;
		pb->bytes.len  = v->u.s.len;
		break;
	case TR_MVAL_STR:
		pb->v_case = TRWIRE__MGR_VALUE__V_STR;
		pb->str    = v->u.s.data;
		break;
	case TR_MVAL_INT:
		pb->v_case = TRWIRE__MGR_VALUE__V_I;
		pb->i      = v->u.i;
		break;
	case TR_MVAL_DOUBLE:
		pb->v_case = TRWIRE__MGR_VALUE__V_D;
		pb->d      = v->u.d;
		break;
	case TR_MVAL_BOOL:
		pb->v_case = TRWIRE__MGR_VALUE__V_B;
		pb->b      = v->u.b;
		break;
	case TR_MVAL_PB:
		pb->pb = calloc(1, sizeof(*pb->pb));
		if (!pb->pb) {
			r = -ENOMEM;
			break;
		}
		trwire__mgr_pb__init(pb->pb);
		pb->v_case        = TRWIRE__MGR_VALUE__V_PB;
		pb->pb->type      = v->u.s.type;
		pb->pb->data.data = (uint8_t *) v->u.s.data;
		pb->pb->data.len  = v->u.s.len;
		break;
	case TR_MVAL_LIST:
		r = list_to_pb(v, pb);
		break;
	case TR_MVAL_DICT:
		r = dict_to_pb(v, pb);
		break;
	}
	if (r < 0) {
		tri_mval_pb_free(pb);
		return r;
	}
	*ret = pb;
	return 0;
}

/* ---- from the wire ------------------------------------------------------ */

static int from_pb(const Trwire__MgrValue *pb, tr_mval **ret, unsigned left);

static int
list_from_pb(const Trwire__MgrList *pl, tr_mval *l, unsigned left)
{
	if (tri_mval_list_reserve(l, pl->n_items) < 0) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < pl->n_items; i++) {
		tr_mval *item = NULL;
		int      r    = from_pb(pl->items[i], &item, left - 1);

		if (r < 0) {
			return r;
		}
		r = tr_mval_list_append(l, &item);
		if (r < 0) {
			tr_mval_destroy(&item);
			return r == -EINVAL ? TR_EBADFRAME : r;
		}
	}
	return 0;
}

static int
dict_from_pb(const Trwire__MgrDict *pd, tr_mval *d, unsigned left)
{
	if (pd->n_keys != pd->n_values) {
		return TR_EBADFRAME;
	}
	for (size_t i = 0; i < pd->n_keys; i++) {
		tr_mval *k = NULL, *v = NULL;
		int      r = from_pb(pd->keys[i], &k, left - 1);

		if (r == 0) {
			r = tri_mval_is_key(k)
			    ? from_pb(pd->values[i], &v, left - 1)
			    : TR_EBADFRAME;
		}
		if (r == 0) {
			r = tr_mval_dict_set(d, &k, &v);
			r = r == -EINVAL ? TR_EBADFRAME : r;
		}
		tr_mval_destroy(&k);
		tr_mval_destroy(&v);
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

static tr_mval *
scalar_from_pb(const Trwire__MgrValue *pb)
{
	switch (pb->v_case) {
	case TRWIRE__MGR_VALUE__V_NONE:
		return tr_mval_none();
	case TRWIRE__MGR_VALUE__V_BYTES:
		return tr_mval_bytes(pb->bytes.data, pb->bytes.len);
	case TRWIRE__MGR_VALUE__V_STR:
		return tr_mval_str(pb->str);
	case TRWIRE__MGR_VALUE__V_I:
		return tr_mval_int(pb->i);
	case TRWIRE__MGR_VALUE__V_D:
		return tr_mval_double(pb->d);
	case TRWIRE__MGR_VALUE__V_B:
		return tr_mval_bool(pb->b);
	default:
		return NULL;
	}
}

static int
from_pb(const Trwire__MgrValue *pb, tr_mval **ret, unsigned left)
{
	tr_mval *v = NULL;
	int      r = 0;

	if (!pb || left == 0) {
		return TR_EBADFRAME;
	}
	switch (pb->v_case) {
	case TRWIRE__MGR_VALUE__V_PB:
		if (!pb->pb || strlen(pb->pb->type) >= TRI_MVAL_TYPE_MAX) {
			return TR_EBADFRAME;
		}
		v = tr_mval_pb(
		    pb->pb->type, pb->pb->data.data, pb->pb->data.len);
		break;
	case TRWIRE__MGR_VALUE__V_LIST:
		v = tr_mval_list();
		r = v ? list_from_pb(pb->list, v, left) : 0;
		break;
	case TRWIRE__MGR_VALUE__V_DICT:
		v = tr_mval_dict();
		r = v ? dict_from_pb(pb->dict, v, left) : 0;
		break;
	case TRWIRE__MGR_VALUE__V__NOT_SET:
		return TR_EBADFRAME;
	default:
		v = scalar_from_pb(pb);
		break;
	}
	if (!v || r < 0) {
		tr_mval_destroy(&v);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = v;
	return 0;
}

int
tri_mval_from_pb(const Trwire__MgrValue *pb, tr_mval **ret)
{
	return from_pb(pb, ret, TR_MVAL_MAX_DEPTH + 1);
}

/* ---- nesting check on the packed bytes ---------------------------------- */

enum shape { REQ, VALUE, LIST, DICT, OTHER };

static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* What field `field` of a message of shape s holds, if it nests values. */
static enum shape
inner(enum shape s, uint64_t field)
{
	switch (s) {
	case REQ: /* MgrRequest key/value; MgrReply value */
		return field == 3 || field == 4 || field == 2 ? VALUE : OTHER;
	case VALUE:
		return field == 8 ? LIST : field == 9 ? DICT : OTHER;
	case LIST:
		return field == 1 ? VALUE : OTHER;
	case DICT:
		return field == 1 || field == 2 ? VALUE : OTHER;
	default:
		return OTHER;
	}
}

static bool
scan(const uint8_t *p, const uint8_t *end, enum shape s, unsigned left)
{
	while (p < end) {
		uint64_t tag, len;

		if (!varint(&p, end, &tag)) {
			return false;
		}
		switch (tag & 7) {
		case 0:
			if (!varint(&p, end, &len)) {
				return false;
			}
			break;
		case 1:
		case 5:
			len = (tag & 7) == 1 ? 8 : 4;
			if ((uint64_t) (end - p) < len) {
				return false;
			}
			p += len;
			break;
		case 2: {
			enum shape in;

			if (!varint(&p, end, &len) ||
			    (uint64_t) (end - p) < len) {
				return false;
			}
			in = inner(s, tag >> 3);
			if (in != OTHER &&
			    (left == 0 || !scan(p, p + len, in, left - 1))) {
				return false;
			}
			p += len;
			break;
		}
		default:
			return false; /* groups: not in our messages */
		}
	}
	return true;
}

bool
tri_mgr_depth_ok(const void *data, size_t len)
{
	const uint8_t *p = data;

	/* a value level is two messages deep (value, then list or dict) */
	return scan(p, p + len, REQ, 2 * (TR_MVAL_MAX_DEPTH + 2));
}
