/* SPDX-License-Identifier: MIT */
/* Trace files: "TRTRACE1", then length-delimited trwire.TraceEvent
 * records (proto/trace.proto).  The codec is protobuf-c's: files are read
 * by the tool, off every hot path.  A decoded event is checked (lengths,
 * strings) before anyone sees it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "log.h"
#include "trace.h"
#include "trace.pb-c.h"
#include "util.h"

#define MAGIC   "TRTRACE1"
#define REC_MAX 4096 /* far above any event's size */

struct tr_trace_file {
	FILE    *f;
	bool     write, truncated;
	uint64_t size;
	int      err;
};

static void
addr_out(Trwire__Addr *pb, tr_addr a)
{
	trwire__addr__init(pb);
	pb->node        = a.node;
	pb->pid         = a.pid;
	pb->incarnation = a.incarnation;
}

int
tr_trace_event_encode(const tr_trace_event *ev, uint8_t *buf, size_t cap)
{
	Trwire__TraceEvent   pb;
	Trwire__Addr         self, peer;
	static const uint8_t zero[16];
	size_t               n;

	tr_assert_return(ev && buf, -EINVAL);
	trwire__trace_event__init(&pb);
	addr_out(&self, ev->self);
	addr_out(&peer, ev->peer);
	pb.ts_ns   = ev->ts_ns;
	pb.kind    = ev->kind;
	pb.self    = &self;
	pb.peer    = tr_addr_is_null(ev->peer) ? NULL : &peer;
	pb.msg_id  = ev->msg_id;
	pb.value   = ev->value;
	pb.lamport = ev->lamport;
	if (memcmp(ev->trace_id, zero, 16) != 0) {
		pb.trace_id.data = (uint8_t *) ev->trace_id;
		pb.trace_id.len  = 16;
	}
	pb.span_id     = ev->span_id;
	pb.parent_span = ev->parent_span;
	pb.dur_ns      = ev->dur_ns;
	pb.what        = (char *) ev->what;
	pb.name        = (char *) ev->name;
	pb.actor       = (char *) ev->actor;
	pb.node        = (char *) ev->node;
	if (ev->payload_len) {
		if (ev->payload_len > TR_TRACE_PAYLOAD_MAX) {
			return -EINVAL;
		}
		pb.payload.data = (uint8_t *) ev->payload;
		pb.payload.len  = ev->payload_len;
	}
	n = trwire__trace_event__get_packed_size(&pb);
	if (n > cap) {
		return -ENOBUFS;
	}
	return (int) trwire__trace_event__pack(&pb, buf);
}

static bool
str_in(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		return false;
	}
	memcpy(dst, src ? src : "", n + 1);
	return true;
}

static tr_addr
addr_in(const Trwire__Addr *pb)
{
	/* pid 0 is the null address whatever the other fields say: the
	 * one form the encoder writes (found by fuzz-trace) */
	return pb && pb->pid != 0
	    ? (tr_addr) { pb->node, pb->pid, pb->incarnation }
	    : TR_ADDR_NULL;
}

int
tr_trace_event_decode(const uint8_t *buf, size_t len, tr_trace_event *ret)
{
	Trwire__TraceEvent *pb;
	int                 r = TR_EBADFRAME;

	tr_assert_return(ret && (buf || len == 0), -EINVAL);
	pb = trwire__trace_event__unpack(NULL, len, buf);
	if (!pb) {
		return TR_EBADFRAME;
	}
	memset(ret, 0, sizeof(*ret));
	if (pb->kind == 0 || pb->kind >= TR_TRACE_KIND_MAX ||
	    (pb->trace_id.len != 0 && pb->trace_id.len != 16) ||
	    !str_in(ret->what, sizeof(ret->what), pb->what) ||
	    !str_in(ret->name, sizeof(ret->name), pb->name) ||
	    !str_in(ret->actor, sizeof(ret->actor), pb->actor) ||
	    !str_in(ret->node, sizeof(ret->node), pb->node) ||
	    pb->payload.len > TR_TRACE_PAYLOAD_MAX) {
		goto out;
	}
	ret->ts_ns   = pb->ts_ns;
	ret->kind    = pb->kind;
	ret->self    = addr_in(pb->self);
	ret->peer    = addr_in(pb->peer);
	ret->msg_id  = pb->msg_id;
	ret->value   = pb->value;
	ret->lamport = pb->lamport;
	if (pb->trace_id.len) {
		memcpy(ret->trace_id, pb->trace_id.data, 16);
	}
	ret->span_id     = pb->span_id;
	ret->parent_span = pb->parent_span;
	ret->dur_ns      = pb->dur_ns;
	ret->payload_len = (uint32_t) pb->payload.len;
	if (pb->payload.len) {
		memcpy(ret->payload, pb->payload.data, pb->payload.len);
	}
	r = 0;
out:
	trwire__trace_event__free_unpacked(pb, NULL);
	return r;
}

int
tr_trace_file_open(tr_trace_file **ret, const char *path, bool write)
{
	tr_trace_file *t;
	char           magic[8];

	tr_assert_return(ret && path, -EINVAL);
	t = tri_alloc(sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	memset(t, 0, sizeof(*t));
	t->write = write;
	t->f     = strcmp(path, "-") == 0 ? (write ? stdout : stdin)
	                                  : fopen(path, write ? "we" : "re");
	if (!t->f) {
		int e = errno;

		tri_free(t);
		return -e;
	}
	if (write) {
		if (fwrite(MAGIC, 1, 8, t->f) != 8) {
			t->err = -EIO;
		}
		t->size = 8;
	} else if (fread(magic, 1, 8, t->f) != 8 ||
	    memcmp(magic, MAGIC, 8) != 0) {
		tr_trace_file_close(&t);
		return TR_EBADFRAME;
	}
	*ret = t;
	return 0;
}

int
tr_trace_file_write(tr_trace_file *t, const tr_trace_event *ev)
{
	uint8_t buf[REC_MAX + 10], *p = buf;
	int     n;
	size_t  len;

	tr_assert_return(t && t->write && ev, -EINVAL);
	n = tr_trace_event_encode(ev, buf + 10, REC_MAX);
	if (n < 0) {
		return n;
	}
	/* the varint length goes right before the record */
	len = (size_t) n;
	{
		uint8_t v[10];
		size_t  k = 0;

		do {
			v[k++] =
			    (uint8_t) ((len & 0x7f) | (len >= 0x80 ? 0x80 : 0));
			len >>= 7;
		} while (len);
		p = buf + 10 - k;
		memcpy(p, v, k);
	}
	len = (size_t) (buf + 10 + n - p);
	if (fwrite(p, 1, len, t->f) != len) {
		t->err = t->err ? t->err : -EIO;
		return -EIO;
	}
	t->size += len;
	return 0;
}

int
tr_trace_file_read(tr_trace_file *t, tr_trace_event *ret)
{
	uint8_t  buf[REC_MAX];
	uint64_t len = 0;
	int      c, shift = 0;

	tr_assert_return(t && !t->write && ret, -EINVAL);
	for (;;) {
		c = fgetc(t->f);
		if (c == EOF) {
			if (shift) {
				t->truncated = true;
			}
			return 0;
		}
		len |= (uint64_t) (c & 0x7f) << shift;
		if (!(c & 0x80)) {
			break;
		}
		shift += 7;
		if (shift > 28) {
			return TR_EBADFRAME;
		}
	}
	if (len == 0 || len > REC_MAX) {
		return TR_EBADFRAME;
	}
	if (fread(buf, 1, (size_t) len, t->f) != len) {
		t->truncated = true;
		return 0;
	}
	return tr_trace_event_decode(buf, (size_t) len, ret) < 0 ? TR_EBADFRAME
	                                                         : 1;
}

bool
tr_trace_file_truncated(const tr_trace_file *t)
{
	return t && t->truncated;
}

int
tr_trace_file_flush(tr_trace_file *t)
{
	tr_assert_return(t && t->write, -EINVAL);
	if (fflush(t->f) != 0) {
		t->err = t->err ? t->err : -EIO;
		return -EIO;
	}
	return t->err;
}

uint64_t
tr_trace_file_size(const tr_trace_file *t)
{
	return t ? t->size : 0;
}

int
tr_trace_file_close(tr_trace_file **tp)
{
	tr_trace_file *t;
	int            r;

	if (!tp || !*tp) {
		return 0;
	}
	t = *tp;
	r = t->err;
	if (t->f && fflush(t->f) != 0 && r == 0) {
		r = -EIO;
	}
	if (t->f && t->f != stdout && t->f != stdin && fclose(t->f) != 0 &&
	    r == 0) {
		r = -EIO;
	}
	tri_free(t);
	*tp = NULL;
	return r;
}
