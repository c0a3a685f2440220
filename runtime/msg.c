/* SPDX-License-Identifier: MIT */
/* tr_msg, addresses, the payload type registry and the envelope codec. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "log.h"
#include "troupe.pb-c.h"
#include "util.h"

/* ---- addresses ------------------------------------------------------------
 */

char *
tr_addr_format(tr_addr a, char *buf, size_t n)
{
	if (buf && n) {
		snprintf(buf, n, "%" PRIu32 ".%" PRIu32 ".%" PRIu64, a.node,
		    a.pid, a.incarnation);
	}
	return buf;
}

int
tr_addr_parse(const char *text, tr_addr *ret)
{
	unsigned long long node, pid, inc;
	int                used = 0;

	tr_assert_return(text && ret, -EINVAL);
	if (text[0] < '0' || text[0] > '9' ||
	    sscanf(text, "%llu.%llu.%llu%n", &node, &pid, &inc, &used) != 3 ||
	    text[used] != '\0' || node > UINT32_MAX || pid == 0 ||
	    pid > INT32_MAX || strchr(text, '-') || strchr(text, ' ')) {
		return TR_EBADADDR;
	}
	*ret = (tr_addr) { (uint32_t) node, (uint32_t) pid, inc };
	return 0;
}

bool
tr_addr_eq(tr_addr a, tr_addr b)
{
	return a.node == b.node && a.pid == b.pid &&
	    a.incarnation == b.incarnation;
}

bool
tr_addr_is_null(tr_addr a)
{
	return a.pid == 0;
}

bool
tr_addr_is_alive(tr_addr a)
{
	uint64_t st;
	char     state;

	if (a.node != 0 || a.pid == 0) {
		return false;
	}
	return tri_proc_starttime((pid_t) a.pid, &st, &state) == 0 &&
	    st == a.incarnation && state != 'Z' && state != 'X';
}

/* ---- payload types --------------------------------------------------------
 */

static const ProtobufCMessageDescriptor **types;
static size_t                             ntypes, captypes;

int
tr_msg_type_register(const ProtobufCMessageDescriptor *d)
{
	tr_assert_return(
	    d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, -EINVAL);
	tr_assert_return(strlen(d->name) < TRI_TYPE_MAX, -EINVAL);
	if (tri_type_known(d->name)) {
		return 0;
	}
	if (ntypes == captypes) {
		size_t ncap = captypes ? captypes * 2 : 16;
		const ProtobufCMessageDescriptor **t =
		    tri_realloc(types, ncap * sizeof(*t));

		if (!t) {
			return -ENOMEM;
		}
		types    = t;
		captypes = ncap;
	}
	types[ntypes++] = d;
	return 0;
}

bool
tri_type_known(const char *type)
{
	for (size_t i = 0; i < ntypes; i++) {
		if (strcmp(types[i]->name, type) == 0) {
			return true;
		}
	}
	return false;
}

/* ---- messages -------------------------------------------------------------
 */

tr_msg *
tri_msg_alloc(void)
{
	tr_msg *m = tri_alloc(sizeof(*m));

	if (m) {
		memset(&m->env, 0, sizeof(m->env));
		m->next = NULL;
	}
	return m;
}

int
tr_msg_new_bytes(tr_msg **ret, const void *data, size_t len)
{
	tr_msg *m;

	tr_assert_return(ret && (data || len == 0), -EINVAL);
	m = tri_msg_alloc();
	if (!m) {
		return -ENOMEM;
	}
	if (zmq_msg_init_size(&m->payload, len) < 0) {
		tri_free(m);
		return -ENOMEM;
	}
	if (len) {
		memcpy(zmq_msg_data(&m->payload), data, len);
	}
	*ret = m;
	return 0;
}

int
tr_msg_new_take(tr_msg **ret, void *data, size_t len,
    void (*free_fn)(void *data, void *hint), void *hint)
{
	tr_msg *m;

	tr_assert_return(ret && data && free_fn, -EINVAL);
	m = tri_msg_alloc();
	if (!m) {
		return -ENOMEM;
	}
	if (zmq_msg_init_data(&m->payload, data, len, free_fn, hint) < 0) {
		tri_free(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

static int
new_pb(tr_msg **ret, const ProtobufCMessage *pb, uint32_t flags)
{
	tr_msg *m;
	size_t  n;

	tr_assert_return(ret && pb, -EINVAL);
	tr_assert_return(
	    pb->descriptor && strlen(pb->descriptor->name) < TRI_TYPE_MAX,
	    -EINVAL);
	n = protobuf_c_message_get_packed_size(pb);
	m = tri_msg_alloc();
	if (!m) {
		return -ENOMEM;
	}
	if (zmq_msg_init_size(&m->payload, n) < 0) {
		tri_free(m);
		return -ENOMEM;
	}
	(void) protobuf_c_message_pack(pb, zmq_msg_data(&m->payload));
	tri_strlcpy(m->env.type, pb->descriptor->name, sizeof(m->env.type));
	m->env.flags = flags;
	*ret         = m;
	return 0;
}

int
tr_msg_new_pb(tr_msg **ret, const ProtobufCMessage *pb)
{
	return new_pb(ret, pb, 0);
}

int
tri_msg_new_system(tr_msg **ret, const ProtobufCMessage *pb)
{
	return new_pb(ret, pb, TRI_FLAG_SYSTEM);
}

int
tr_msg_set_type(tr_msg *m, const char *type)
{
	size_t n;

	tr_assert_return(m && type, -EINVAL);
	n = strlen(type);
	tr_assert_return(n < TRI_TYPE_MAX, -EINVAL);
	memcpy(m->env.type, type, n + 1);
	return 0;
}

void
tr_msg_destroy(tr_msg **mp)
{
	if (!mp || !*mp) {
		return;
	}
	zmq_msg_close(&(*mp)->payload);
	tri_free(*mp);
	*mp = NULL;
}

const void *
tr_msg_data(const tr_msg *m)
{
	return m ? zmq_msg_data((zmq_msg_t *) &m->payload) : NULL;
}

size_t
tr_msg_size(const tr_msg *m)
{
	return m ? zmq_msg_size(&m->payload) : 0;
}

const char *
tr_msg_type(const tr_msg *m)
{
	return m ? m->env.type : "";
}

tr_addr
tr_msg_sender(const tr_msg *m)
{
	return m ? m->env.sender : TR_ADDR_NULL;
}

uint64_t
tr_msg_id(const tr_msg *m)
{
	return m ? m->env.id : 0;
}

uint64_t
tr_msg_correlation(const tr_msg *m)
{
	return m ? m->env.correlation : 0;
}

void
tr_msg_set_correlation(tr_msg *m, uint64_t id)
{
	if (m) {
		m->env.correlation = id;
	}
}

uint64_t
tr_msg_lamport(const tr_msg *m)
{
	return m ? m->env.lamport : 0;
}

bool
tr_msg_is_system(const tr_msg *m)
{
	return m && (m->env.flags & TRI_FLAG_SYSTEM);
}

int
tr_msg_unpack(const tr_msg *m, const ProtobufCMessageDescriptor *d,
    ProtobufCMessage **ret)
{
	ProtobufCMessage *pb;

	tr_assert_return(m && d && ret, -EINVAL);
	if (strcmp(m->env.type, d->name) != 0) {
		return TR_EBADTYPE;
	}
	pb = protobuf_c_message_unpack(d, NULL, tr_msg_size(m), tr_msg_data(m));
	if (!pb) {
		return TR_EBADFRAME;
	}
	*ret = pb;
	return 0;
}

/* ---- envelope codec -------------------------------------------------------
 * Written by hand: the bytes are plain protobuf (proto3) of
 * trwire.Envelope, as protobuf-c would write them, but the generic
 * reflection-driven pack/unpack cost about 3,000 instructions a message
 * each way.  tests/unit/test-codec.c checks both directions against
 * protobuf-c and feeds the decoder garbage. */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct wbuf {
	uint8_t *p, *end;
	bool     overflow;
};

static void
put_byte(struct wbuf *w, uint8_t b)
{
	if (w->p < w->end) {
		*w->p++ = b;
	} else {
		w->overflow = true;
	}
}

static void
put_varint(struct wbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		put_byte(w, (uint8_t) (v | 0x80));
		v >>= 7;
	}
	put_byte(w, (uint8_t) v);
}

static void
put_tag(struct wbuf *w, unsigned field, unsigned wt)
{
	put_varint(w, (uint64_t) field << 3 | wt);
}

static void
put_uint(struct wbuf *w, unsigned field, uint64_t v)
{
	if (v) { /* proto3: zero is the default and is not written */
		put_tag(w, field, WT_VARINT);
		put_varint(w, v);
	}
}

static void
put_bytes(struct wbuf *w, unsigned field, const void *data, size_t n)
{
	put_tag(w, field, WT_LEN);
	put_varint(w, n);
	for (size_t i = 0; i < n; i++) {
		put_byte(w, ((const uint8_t *) data)[i]);
	}
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
uint_len(unsigned field, uint64_t v)
{
	return v ? varint_len((uint64_t) field << 3) + varint_len(v) : 0;
}

static void
put_addr(struct wbuf *w, unsigned field, const tr_addr *a)
{
	size_t n = uint_len(1, a->node) + uint_len(2, a->pid) +
	    uint_len(3, a->incarnation);

	put_tag(w, field, WT_LEN);
	put_varint(w, n);
	put_uint(w, 1, a->node);
	put_uint(w, 2, a->pid);
	put_uint(w, 3, a->incarnation);
}

static bool
trace_set(const struct tri_env *e)
{
	static const uint8_t zero_id[16];

	return e->span_id || memcmp(e->trace_id, zero_id, 16) != 0;
}

/* Fields 1 and 2 (sender, recipient): the same for every message of one
 * sender to one peer, so the mailbox encodes them once per peer. */
int
tri_env_encode_addrs(
    tr_addr sender, tr_addr recipient, uint8_t *buf, size_t cap)
{
	struct wbuf w = { buf, buf + cap, false };

	put_addr(&w, 1, &sender);
	put_addr(&w, 2, &recipient);
	return w.overflow ? -ENOBUFS : (int) (w.p - buf);
}

/* Packed size, or -ENOBUFS when cap is too small. */
int
tri_env_encode(const struct tri_env *e, uint8_t *buf, size_t cap)
{
	int n = tri_env_encode_addrs(e->sender, e->recipient, buf, cap);
	int m;

	if (n < 0) {
		return n;
	}
	m = tri_env_encode_rest(e, buf + n, cap - (size_t) n);
	return m < 0 ? m : n + m;
}

/* Fields 3 to 10, to follow tri_env_encode_addrs()'s bytes. */
int
tri_env_encode_rest(const struct tri_env *e, uint8_t *buf, size_t cap)
{
	struct wbuf w = { buf, buf + cap, false };

	if (!tr_addr_is_null(e->reply_to)) {
		put_addr(&w, 3, &e->reply_to);
	}
	put_uint(&w, 4, e->id);
	put_uint(&w, 5, e->correlation);
	if (e->type[0]) {
		put_bytes(&w, 6, e->type, strlen(e->type));
	}
	put_uint(&w, 7, e->flags);
	if (trace_set(e)) {
		put_tag(&w, 8, WT_LEN);
		put_varint(&w, 2 + 16 + (e->span_id ? 9 : 0));
		put_bytes(&w, 1, e->trace_id, 16);
		if (e->span_id) {
			put_tag(&w, 2, WT_I64);
			for (int i = 0; i < 8; i++) {
				put_byte(&w, (uint8_t) (e->span_id >> (8 * i)));
			}
		}
	}
	/* int64 is written as its two's complement, ten bytes if negative */
	put_uint(&w, 9, (uint64_t) e->send_time_ns);
	put_uint(&w, 10, e->lamport);
	if (w.overflow) {
		return -ENOBUFS;
	}
	return (int) (w.p - buf);
}

struct rbuf {
	const uint8_t *p, *end;
};

static inline bool
get_varint(struct rbuf *r, uint64_t *ret)
{
	const uint8_t *p = r->p;
	uint64_t       v = 0;

	if (p < r->end && *p < 0x80) { /* tags and small values: one byte */
		*ret = *p;
		r->p = p + 1;
		return true;
	}
	for (unsigned shift = 0; shift < 64 && p < r->end; shift += 7) {
		uint8_t b = *p++;

		v |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (shift == 63 && b > 1) {
				return false; /* more than 64 bits */
			}
			*ret = v;
			r->p = p;
			return true;
		}
	}
	return false;
}

/* Skip a field of wire type wt; false if it runs past the end or the
 * wire type is not one proto3 writes (groups). */
static bool
skip_field(struct rbuf *r, unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case WT_VARINT:
		return get_varint(r, &n);
	case WT_I64:
		n = 8;
		break;
	case WT_I32:
		n = 4;
		break;
	case WT_LEN:
		if (!get_varint(r, &n)) {
			return false;
		}
		break;
	default:
		return false;
	}
	if (n > (uint64_t) (r->end - r->p)) {
		return false;
	}
	r->p += n;
	return true;
}

/* Next field: its number, wire type, and for WT_LEN a sub-buffer. */
static inline bool
get_field(struct rbuf *r, unsigned *field, unsigned *wt, uint64_t *v,
    struct rbuf *sub)
{
	uint64_t tag, n;

	if (!get_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX) {
		return false;
	}
	*field = (unsigned) (tag >> 3);
	*wt    = (unsigned) (tag & 7);
	if (*wt == WT_VARINT) {
		return get_varint(r, v);
	}
	if (*wt == WT_LEN) {
		if (!get_varint(r, &n) || n > (uint64_t) (r->end - r->p)) {
			return false;
		}
		sub->p   = r->p;
		sub->end = r->p + n;
		r->p += n;
		return true;
	}
	if (*wt == WT_I64 && r->end - r->p >= 8) {
		*v = 0;
		for (int i = 0; i < 8; i++) {
			*v |= (uint64_t) r->p[i] << (8 * i);
		}
		r->p += 8;
		return true;
	}
	return skip_field(r, *wt);
}

static bool
get_addr(struct rbuf r, tr_addr *a)
{
	*a = TR_ADDR_NULL;
	while (r.p < r.end) {
		struct rbuf sub;
		unsigned    f, wt;
		uint64_t    v = 0;

		if (!get_field(&r, &f, &wt, &v, &sub)) {
			return false;
		}
		if ((f >= 1 && f <= 3) && wt != WT_VARINT) {
			return false;
		}
		if (f == 1) {
			a->node = (uint32_t) v;
		} else if (f == 2) {
			a->pid = (uint32_t) v;
		} else if (f == 3) {
			a->incarnation = v;
		}
	}
	if (a->pid == 0) {
		*a = TR_ADDR_NULL; /* the null address, in one form only */
	}
	return true;
}

static bool
get_trace(struct rbuf r, struct tri_env *e)
{
	while (r.p < r.end) {
		struct rbuf sub;
		unsigned    f, wt;
		uint64_t    v = 0;

		if (!get_field(&r, &f, &wt, &v, &sub)) {
			return false;
		}
		if (f == 1 && wt == WT_LEN) {
			if (sub.end - sub.p == 16) {
				memcpy(e->trace_id, sub.p, 16);
			}
		} else if (f == 2 && wt == WT_I64) {
			e->span_id = v;
		} else if (f == 3 && wt == WT_VARINT) {
			e->lamport = v; /* older senders */
		} else if (f <= 3) {
			return false;
		}
	}
	return true;
}

static bool
env_field(struct tri_env *e, unsigned f, unsigned wt, uint64_t v,
    struct rbuf sub, unsigned *seen)
{
	static const uint8_t want[11] = { 0, WT_LEN, WT_LEN, WT_LEN, WT_VARINT,
		WT_VARINT, WT_LEN, WT_VARINT, WT_LEN, WT_VARINT, WT_VARINT };

	if (f > 10) {
		return true; /* unknown field from a newer sender: skipped */
	}
	if (wt != want[f]) {
		return false;
	}
	*seen |= 1u << f;
	switch (f) {
	case 1:
		return get_addr(sub, &e->sender);
	case 2:
		return get_addr(sub, &e->recipient);
	case 3:
		return get_addr(sub, &e->reply_to);
	case 4:
		e->id = v;
		return true;
	case 5:
		e->correlation = v;
		return true;
	case 6:
		if ((size_t) (sub.end - sub.p) >= TRI_TYPE_MAX ||
		    memchr(sub.p, '\0', (size_t) (sub.end - sub.p))) {
			return false;
		}
		memcpy(e->type, sub.p, (size_t) (sub.end - sub.p));
		e->type[sub.end - sub.p] = '\0';
		return true;
	case 7:
		e->flags = (uint32_t) v;
		return true;
	case 8:
		return get_trace(sub, e);
	case 9:
		e->send_time_ns = (int64_t) v;
		return true;
	default:
		e->lamport = v;
		return true;
	}
}

/* 0, or TR_EBADFRAME for anything that is not a well-formed envelope
 * with a sender and a recipient. */
int
tri_env_decode(const uint8_t *buf, size_t len, struct tri_env *ret)
{
	struct rbuf r    = { buf, buf + len };
	unsigned    seen = 0;

	if (len == 0 || len > TRI_ENV_MAX) {
		return TR_EBADFRAME;
	}
	memset(ret, 0, sizeof(*ret));
	while (r.p < r.end) {
		struct rbuf sub = { NULL, NULL };
		unsigned    f, wt;
		uint64_t    v = 0;

		if (!get_field(&r, &f, &wt, &v, &sub) ||
		    !env_field(ret, f, wt, v, sub, &seen)) {
			return TR_EBADFRAME;
		}
	}
	if (!(seen & (1u << 1)) || !(seen & (1u << 2))) {
		return TR_EBADFRAME;
	}
	return 0;
}
