/* SPDX-License-Identifier: MIT */
/* tr_msg, addresses, the payload type registry and the envelope codec. */
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "rt.h"
#include "troupe.pb-c.h"

/* ---- addresses ------------------------------------------------------------ */

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
	int		   used = 0;

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
	return a.node == b.node && a.pid == b.pid && a.incarnation == b.incarnation;
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
	char	 state;

	if (a.node != 0 || a.pid == 0) {
		return false;
	}
	return tri_proc_starttime((pid_t) a.pid, &st, &state) == 0 &&
	       st == a.incarnation && state != 'Z' && state != 'X';
}

/* ---- payload types -------------------------------------------------------- */

static const ProtobufCMessageDescriptor **types;
static size_t				  ntypes, captypes;

int
tr_msg_type_register(const ProtobufCMessageDescriptor *d)
{
	tr_assert_return(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
			 -EINVAL);
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
		types	 = t;
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

/* ---- messages ------------------------------------------------------------- */

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
	size_t	n;

	tr_assert_return(ret && pb, -EINVAL);
	tr_assert_return(pb->descriptor &&
				 strlen(pb->descriptor->name) < TRI_TYPE_MAX,
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
	*ret	     = m;
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

/* ---- envelope codec ------------------------------------------------------- */

static void
addr_to_pb(const tr_addr *a, Trwire__Addr *pb)
{
	trwire__addr__init(pb);
	pb->node	= a->node;
	pb->pid		= a->pid;
	pb->incarnation = a->incarnation;
}

static void
addr_from_pb(const Trwire__Addr *pb, tr_addr *a)
{
	if (pb) {
		*a = (tr_addr) { pb->node, pb->pid, pb->incarnation };
	} else {
		*a = TR_ADDR_NULL;
	}
}

/* Packed size, or -ENOBUFS when cap is too small. */
int
tri_env_encode(const struct tri_env *e, uint8_t *buf, size_t cap)
{
	Trwire__Envelope     pb = TRWIRE__ENVELOPE__INIT;
	Trwire__Addr	     s, r, rt;
	Trwire__TraceContext tc = TRWIRE__TRACE_CONTEXT__INIT;
	static const uint8_t zero_id[16];
	size_t		     n;

	addr_to_pb(&e->sender, &s);
	addr_to_pb(&e->recipient, &r);
	pb.sender	  = &s;
	pb.recipient	  = &r;
	if (!tr_addr_is_null(e->reply_to)) {
		addr_to_pb(&e->reply_to, &rt);
		pb.reply_to = &rt;
	}
	pb.msg_id	  = e->id;
	pb.correlation_id = e->correlation;
	pb.type		  = (char *) e->type;
	pb.flags	  = e->flags;
	pb.send_time_ns	  = e->send_time_ns;
	if (e->lamport || e->span_id || memcmp(e->trace_id, zero_id, 16)) {
		tc.trace_id.data = (uint8_t *) e->trace_id;
		tc.trace_id.len	 = 16;
		tc.span_id	 = e->span_id;
		tc.lamport	 = e->lamport;
		pb.trace	 = &tc;
	}
	n = trwire__envelope__get_packed_size(&pb);
	if (n > cap) {
		return -ENOBUFS;
	}
	return (int) trwire__envelope__pack(&pb, buf);
}

/* protobuf-c allocates while unpacking; an envelope is small, so a bump
 * arena on the stack serves it and is dropped whole. */
struct arena {
	uint8_t buf[4 * TRI_ENV_MAX];
	size_t	used;
};

static void *
arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	void	     *p;

	size = (size + 15) & ~(size_t) 15;
	if (size > sizeof(a->buf) - a->used) {
		return NULL;
	}
	p = a->buf + a->used;
	a->used += size;
	return p;
}

static void
arena_free(void *data, void *p)
{
	(void) data;
	(void) p;
}

/* 0, or TR_EBADFRAME for anything that is not a well-formed envelope. */
int
tri_env_decode(const uint8_t *buf, size_t len, struct tri_env *ret)
{
	struct arena	   a;
	ProtobufCAllocator al = { arena_alloc, arena_free, &a };
	Trwire__Envelope  *pb;

	if (len == 0 || len > TRI_ENV_MAX) {
		return TR_EBADFRAME;
	}
	a.used = 0;
	pb     = trwire__envelope__unpack(&al, len, buf);
	if (!pb || !pb->sender || !pb->recipient ||
	    strlen(pb->type) >= TRI_TYPE_MAX) {
		return TR_EBADFRAME;
	}
	addr_from_pb(pb->sender, &ret->sender);
	addr_from_pb(pb->recipient, &ret->recipient);
	addr_from_pb(pb->reply_to, &ret->reply_to);
	ret->id		  = pb->msg_id;
	ret->correlation  = pb->correlation_id;
	ret->flags	  = pb->flags;
	ret->send_time_ns = pb->send_time_ns;
	tri_strlcpy(ret->type, pb->type, sizeof(ret->type));
	memset(ret->trace_id, 0, sizeof(ret->trace_id));
	ret->span_id = ret->lamport = 0;
	if (pb->trace) {
		if (pb->trace->trace_id.len == 16) {
			memcpy(ret->trace_id, pb->trace->trace_id.data, 16);
		}
		ret->span_id = pb->trace->span_id;
		ret->lamport = pb->trace->lamport;
	}
	return 0;
}
