/* SPDX-License-Identifier: MIT */
/* tr_pipe: (type, payload) messages in records over the rings of
 * pipe-ring.c (docs/protocol.md, "Pipe"):
 *
 *   'M' first record: "M", type length T, 0, 0, payload length (u64 LE),
 *       the type (T bytes), the payload's first CHUNK bytes at most;
 *   'C' continuation: "C", 0, 0, 0, the next CHUNK bytes at most;
 *   'A' abort:        "A", 0, 0, 0: drop the message begun, whose sender
 *       stopped (its send timed out) before the last record.
 *
 * A ring holds a few records, so large messages go in records of CHUNK
 * bytes; the receiver copies continuations straight into the message's
 * buffer. */
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "fdpass.h"
#include "log.h"
#include "msg.h"
#include "pipe-ring.h"
#include "process.h"
#include "util.h"

#define CHUNK     ((size_t) 64 * 1024)
#define HDR_FIRST 12
#define HDR_CONT  4
#define REC_MAX   (HDR_FIRST + TRI_TYPE_MAX + CHUNK)

#define CAN_READ  1u
#define CAN_WRITE 2u
#define PASS_TAG  0x70697000u /* "pip\0" | CAN_* | side << 2 */
#define SHM_TAG   0x73686d00u /* "shm\0": the memfd, in the next slot */

struct tr_pipe {
	pid_t           owner; /* other pids get -ECHILD */
	struct tri_link link;
	unsigned        can;    /* CAN_* */
	int             broken; /* TR_EBADFRAME once the peer broke framing */
	bool            eof;    /* the peer end is gone and nothing is left */
	bool     tx_partial;    /* our last send stopped half way: abort it */
	size_t   pend_first;    /* a first record kept in scratch (no memory) */
	uint8_t *scratch;       /* REC_MAX bytes, for first records */
	struct {
		uint8_t *data;  /* owned, or into scratch (in_scratch) */
		size_t   total; /* payload length */
		size_t   got;
		char     type[TRI_TYPE_MAX];
		bool     active; /* a message begun */
		bool     in_scratch;
	} rx;
};

static void
rx_reset(tr_pipe *p)
{
	if (!p->rx.in_scratch) {
		tri_free(p->rx.data);
	}
	memset(&p->rx, 0, sizeof(p->rx));
}

static bool
rx_done(const tr_pipe *p)
{
	return p->rx.active && p->rx.got == p->rx.total;
}

static tr_pipe *
end_new(const struct tri_link *l, unsigned can)
{
	tr_pipe *p = tri_calloc(1, sizeof(*p));

	if (p) {
		p->owner = tri_getpid();
		p->link  = *l;
		p->can   = can;
		tri_fdpass_own(l->fd);
		tri_fdpass_own(l->shm_fd);
	}
	return p;
}

int
tr_pipe_new(bool duplex, tr_pipe **ret_a, tr_pipe **ret_b)
{
	struct tri_link la, lb;
	tr_pipe        *a, *b;
	int             r;

	tr_assert_return(ret_a && ret_b, -EINVAL);
	r = tri_link_pair(&la, &lb);
	if (r < 0) {
		return r;
	}
	a = end_new(&la, duplex ? CAN_READ | CAN_WRITE : CAN_READ);
	b = end_new(&lb, duplex ? CAN_READ | CAN_WRITE : CAN_WRITE);
	if (!a || !b) {
		if (!a) {
			tri_link_close(&la, true);
		}
		if (!b) {
			tri_link_close(&lb, true);
		}
		tr_pipe_destroy(&a);
		tr_pipe_destroy(&b);
		return -ENOMEM;
	}
	*ret_a = a;
	*ret_b = b;
	return 0;
}

void
tr_pipe_destroy(tr_pipe **pp)
{
	tr_pipe *p;

	if (!pp || !*pp) {
		return;
	}
	p   = *pp;
	*pp = NULL;
	if (p->owner == tri_getpid()) {
		tri_fdpass_disown(p->link.fd);
		tri_fdpass_disown(p->link.shm_fd);
	}
	/* in a fork child's copy, the descriptors are not this end's */
	tri_link_close(&p->link, p->owner == tri_getpid());
	rx_reset(p);
	tri_free(p->scratch);
	tri_free(p);
}

bool
tr_pipe_readable(const tr_pipe *p)
{
	return p && (p->can & CAN_READ);
}

bool
tr_pipe_writable(const tr_pipe *p)
{
	return p && (p->can & CAN_WRITE);
}

int
tr_pipe_fileno(tr_pipe *p)
{
	tr_assert_return(p, -EINVAL);
	tr_assert_return(p->owner == tri_getpid(), -ECHILD);
	return p->link.fd;
}

/* ---- sending ------------------------------------------------------------ */

/* One record, waiting for room until deadline. */
static int
send_record(
    tr_pipe *p, struct iovec *iov, int niov, int64_t deadline, int timeout_ms)
{
	size_t len = 0;

	for (int i = 0; i < niov; i++) {
		len += iov[i].iov_len;
	}
	for (;;) {
		int r = tri_link_write(&p->link, iov, niov);

		if (r != -EAGAIN) {
			return r;
		}
		r = tri_link_wait_room(&p->link, len, deadline, timeout_ms);
		if (r < 0) {
			return r;
		}
	}
}

static int
send_raw(tr_pipe *p, const char *type, const uint8_t *data, size_t len,
    int timeout_ms)
{
	int64_t      deadline       = tri_deadline(timeout_ms);
	uint8_t      hdr[HDR_FIRST] = { 'M' };
	uint64_t     total          = len;
	size_t       tlen           = strlen(type), off;
	struct iovec iov[3];
	int          r;

	if (p->tx_partial) {
		iov[0] = (struct iovec) { "A\0\0\0", HDR_CONT };
		r      = send_record(p, iov, 1, deadline, timeout_ms);
		if (r < 0) {
			return r;
		}
		p->tx_partial = false;
	}
	hdr[1] = (uint8_t) tlen;
	for (int i = 0; i < 8; i++) {
		hdr[4 + i] = (uint8_t) (total >> (8 * i));
	}
	off    = len < CHUNK ? len : CHUNK;
	iov[0] = (struct iovec) { hdr, HDR_FIRST };
	iov[1] = (struct iovec) { (void *) type, tlen };
	iov[2] = (struct iovec) { (void *) data, off };
	r      = send_record(p, iov, 3, deadline, timeout_ms);
	while (r == 0 && off < len) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		iov[0] = (struct iovec) { "C\0\0\0", HDR_CONT };
		iov[1] = (struct iovec) { (void *) (data + off), n };
		r      = send_record(p, iov, 2, deadline, timeout_ms);
		if (r < 0) {
			p->tx_partial = r != -EPIPE;
			return r;
		}
		off += n;
	}
	return r;
}

#define CHECK_SEND(p, timeout_ms)                                             \
	do {                                                                  \
		tr_assert_return(p, -EINVAL);                                 \
		tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL); \
		tr_assert_return(p->owner == tri_getpid(), -ECHILD);          \
		tr_assert_return(p->can &CAN_WRITE, -EBADF);                  \
	} while (0)

int
tr_pipe_send_bytes(tr_pipe *p, const void *data, size_t len, int timeout_ms)
{
	CHECK_SEND(p, timeout_ms);
	tr_assert_return(data || len == 0, -EINVAL);
	if (len > TR_PIPE_MAX_SIZE) {
		return TR_ETOOBIG;
	}
	return send_raw(p, "", data, len, timeout_ms);
}

int
tr_pipe_send(tr_pipe *p, tr_msg **msgp, int timeout_ms)
{
	int r;

	CHECK_SEND(p, timeout_ms);
	tr_assert_return(msgp && *msgp, -EINVAL);
	if (tr_msg_size(*msgp) > TR_PIPE_MAX_SIZE) {
		return TR_ETOOBIG;
	}
	r = send_raw(p, tr_msg_type(*msgp), tr_msg_data(*msgp),
	    tr_msg_size(*msgp), timeout_ms);
	if (r == 0) {
		tr_msg_destroy(msgp);
	}
	return r;
}

int
tr_pipe_send_pb(tr_pipe *p, const ProtobufCMessage *pb, int timeout_ms)
{
	uint8_t stack[512], *buf = stack;
	size_t  n;
	int     r;

	CHECK_SEND(p, timeout_ms);
	tr_assert_return(pb && pb->descriptor, -EINVAL);
	tr_assert_return(strlen(pb->descriptor->name) < TRI_TYPE_MAX, -EINVAL);
	n = protobuf_c_message_get_packed_size(pb);
	if (n > TR_PIPE_MAX_SIZE) {
		return TR_ETOOBIG;
	}
	if (n > sizeof(stack)) {
		buf = tri_alloc(n);
		if (!buf) {
			return -ENOMEM;
		}
	}
	(void) protobuf_c_message_pack(pb, buf);
	r = send_raw(p, pb->descriptor->name, buf, n, timeout_ms);
	if (buf != stack) {
		tri_free(buf);
	}
	return r;
}

/* ---- receiving ---------------------------------------------------------- */

static bool
type_ok(const uint8_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i] <= ' ' || t[i] > '~') {
			return false;
		}
	}
	return true;
}

/* A first record of n bytes in scratch: begin the message. */
static int
take_first(tr_pipe *p, size_t n)
{
	const uint8_t *s     = p->scratch;
	uint64_t       total = 0;
	size_t         tlen  = s[1], chunk;

	if (n < HDR_FIRST || s[2] || s[3] || tlen >= TRI_TYPE_MAX ||
	    n < HDR_FIRST + tlen || !type_ok(s + HDR_FIRST, tlen)) {
		return TR_EBADFRAME;
	}
	for (int i = 0; i < 8; i++) {
		total |= (uint64_t) s[4 + i] << (8 * i);
	}
	chunk = n - HDR_FIRST - tlen;
	if (total > TR_PIPE_MAX_SIZE || chunk > total ||
	    (chunk < total && chunk != CHUNK)) {
		return TR_EBADFRAME;
	}
	memcpy(p->rx.type, s + HDR_FIRST, tlen);
	p->rx.type[tlen] = '\0';
	p->rx.total      = total;
	p->rx.got        = chunk;
	if (chunk == total) {
		/* whole: leave it in scratch until taken */
		p->rx.data       = p->scratch + HDR_FIRST + tlen;
		p->rx.in_scratch = true;
	} else {
		p->rx.data = tri_alloc(total);
		if (!p->rx.data) {
			return -ENOMEM;
		}
		memcpy(p->rx.data, s + HDR_FIRST + tlen, chunk);
	}
	p->rx.active = true;
	return 0;
}

/* The next record, if it is a whole message of at most cap bytes: its
 * type into type (TRI_TYPE_MAX), and 1 with *ret_total; 0 if not (take
 * the slow way, which also judges a malformed record). */
static int
peek_whole(tr_pipe *p, size_t cap, char *type, size_t *ret_total)
{
	uint8_t  h[HDR_FIRST];
	uint64_t total = 0;
	size_t   n, tlen;

	if (p->rx.active || p->pend_first || p->broken ||
	    tri_link_peek(&p->link, &n) != 1 || n < HDR_FIRST) {
		return 0;
	}
	tri_link_copy(&p->link, 0, h, HDR_FIRST);
	tlen = h[1];
	for (int i = 0; i < 8; i++) {
		total |= (uint64_t) h[4 + i] << (8 * i);
	}
	if (h[0] != 'M' || h[2] || h[3] || tlen >= TRI_TYPE_MAX ||
	    total > cap || n != HDR_FIRST + tlen + total) {
		return 0;
	}
	tri_link_copy(&p->link, HDR_FIRST, type, tlen);
	if (!type_ok((const uint8_t *) type, tlen)) {
		return 0;
	}
	type[tlen] = '\0';
	*ret_total = (size_t) total;
	return 1;
}

/* Take the whole message peek_whole() found, copying its payload to dst. */
static void
take_whole(tr_pipe *p, size_t tlen, void *dst, size_t total)
{
	if (total) {
		tri_link_copy(&p->link, HDR_FIRST + tlen, dst, total);
	}
	(void) tri_link_consume(&p->link, HDR_FIRST + tlen + total);
}

/* One record: 1 taken, 0 none there now, or an error. */
static int
recv_record(tr_pipe *p)
{
	uint8_t hdr[HDR_CONT];
	size_t  n, want;
	int     r;

	if (p->pend_first) {
		r = take_first(p, p->pend_first);
		if (r == 0) {
			p->pend_first = 0;
		}
		return r < 0 ? r : 1;
	}
	r = tri_link_peek(&p->link, &n);
	if (r <= 0) {
		return r;
	}
	if (n < HDR_CONT) {
		return TR_EBADFRAME;
	}
	if (!p->rx.active) {
		if (!p->scratch && !(p->scratch = tri_alloc(REC_MAX))) {
			return -ENOMEM;
		}
		if (n > REC_MAX) {
			return TR_EBADFRAME;
		}
		tri_link_copy(&p->link, 0, p->scratch, n);
		(void) tri_link_consume(&p->link, n);
		if (p->scratch[0] == 'A' && n == HDR_CONT) {
			return 1; /* the message it ends was dropped already */
		}
		if (p->scratch[0] != 'M') {
			return TR_EBADFRAME;
		}
		r = take_first(p, n);
		if (r == -ENOMEM) {
			p->pend_first = n; /* retried next time */
		}
		return r < 0 ? r : 1;
	}
	tri_link_copy(&p->link, 0, hdr, HDR_CONT);
	if (hdr[0] == 'A' && n == HDR_CONT) {
		(void) tri_link_consume(&p->link, n);
		rx_reset(p); /* its sender gave up on it */
		return 1;
	}
	want = p->rx.total - p->rx.got;
	want = want < CHUNK ? want : CHUNK;
	if (hdr[0] != 'C' || hdr[1] || hdr[2] || hdr[3] ||
	    n - HDR_CONT != want) {
		return TR_EBADFRAME;
	}
	tri_link_copy(&p->link, HDR_CONT, p->rx.data + p->rx.got, want);
	(void) tri_link_consume(&p->link, n);
	p->rx.got += want;
	return 1;
}

/* Take records in until a whole message is here: 0, or an error. */
static int
assemble(tr_pipe *p, int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);

	if (p->broken) {
		return p->broken;
	}
	while (!rx_done(p)) {
		int r;

		if (p->eof) {
			return -EPIPE;
		}
		r = recv_record(p);
		if (r == 0) {
			r = tri_link_wait_data(&p->link, deadline, timeout_ms);
		}
		if (r == -EPIPE) {
			rx_reset(p); /* its sender died half way */
			p->eof = true;
			return r;
		}
		if (r == TR_EBADFRAME) {
			rx_reset(p);
			p->broken = r;
			tri_debug("pipe: malformed record from the peer");
			return r;
		}
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

#define CHECK_RECV(p, timeout_ms)                                             \
	do {                                                                  \
		tr_assert_return(p, -EINVAL);                                 \
		tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL); \
		tr_assert_return(p->owner == tri_getpid(), -ECHILD);          \
		tr_assert_return(p->can &CAN_READ, -EBADF);                   \
	} while (0)

static void
free_payload(void *data, void *hint)
{
	(void) hint;
	tri_free(data);
}

int
tr_pipe_recv(tr_pipe *p, tr_msg **ret, int timeout_ms)
{
	char    type[TRI_TYPE_MAX];
	size_t  total;
	tr_msg *m;
	int     r;

	CHECK_RECV(p, timeout_ms);
	tr_assert_return(ret, -EINVAL);
	if (peek_whole(p, CHUNK, type, &total)) {
		/* the common case: straight from the ring into the message */
		m = tri_msg_alloc();
		if (m && zmq_msg_init_size(&m->payload, total) == 0) {
			take_whole(
			    p, strlen(type), zmq_msg_data(&m->payload), total);
			memcpy(m->env.type, type, strlen(type) + 1);
			*ret = m;
			return 0;
		}
		tri_free(m);
		return -ENOMEM;
	}
	r = assemble(p, timeout_ms);
	if (r < 0) {
		return r;
	}
	if (p->rx.in_scratch || p->rx.total == 0) {
		r = tr_msg_new_bytes(&m, p->rx.data, p->rx.total);
	} else {
		r = tr_msg_new_take(
		    &m, p->rx.data, p->rx.total, free_payload, NULL);
	}
	if (r < 0) {
		return r; /* the message stays for the next call */
	}
	if (!p->rx.in_scratch && p->rx.total != 0) {
		p->rx.data = NULL; /* the message has it */
	}
	tri_strlcpy(m->env.type, p->rx.type, sizeof(m->env.type));
	rx_reset(p);
	*ret = m;
	return 0;
}

int
tr_pipe_recv_bytes(
    tr_pipe *p, void *buf, size_t cap, size_t *ret_len, int timeout_ms)
{
	char   type[TRI_TYPE_MAX];
	size_t total;
	int    r;

	CHECK_RECV(p, timeout_ms);
	tr_assert_return((buf || cap == 0) && ret_len, -EINVAL);
	if (peek_whole(p, cap, type, &total)) {
		take_whole(p, strlen(type), buf, total);
		*ret_len = total;
		return 0;
	}
	r = assemble(p, timeout_ms);
	if (r < 0) {
		return r;
	}
	*ret_len = p->rx.total;
	if (p->rx.total > cap) {
		return -EMSGSIZE; /* it stays first in line */
	}
	if (p->rx.total) {
		memcpy(buf, p->rx.data, p->rx.total);
	}
	rx_reset(p);
	return 0;
}

static bool
ready_now(const tr_pipe *p)
{
	return rx_done(p) || p->eof || p->broken || p->pend_first;
}

int
tri_pipe_wait_fd(tr_pipe *p, int *ret_fd, bool *ret_ready)
{
	tr_assert_return(p, -EINVAL);
	tr_assert_return(p->owner == tri_getpid(), -ECHILD);
	tr_assert_return(p->can & CAN_READ, -EBADF);
	*ret_fd    = p->link.fd;
	*ret_ready = ready_now(p) || tri_link_prepare_wait(&p->link);
	return 0;
}

bool
tri_pipe_check(tr_pipe *p)
{
	return ready_now(p) || tri_link_ready(&p->link);
}

int
tr_pipe_poll(tr_pipe *p, int timeout_ms)
{
	int64_t deadline = tri_deadline(timeout_ms);

	tr_assert_return(p, -EINVAL);
	tr_assert_return(timeout_ms >= TR_TIMEOUT_INFINITE, -EINVAL);
	tr_assert_return(p->owner == tri_getpid(), -ECHILD);
	tr_assert_return(p->can & CAN_READ, -EBADF);
	/* a record, or end of file; nothing is taken */
	for (;;) {
		int r;

		if (tri_pipe_check(p)) {
			return 1;
		}
		r = tri_link_wait_data(&p->link, deadline, timeout_ms);
		if (r == -EPIPE) {
			return 1;
		}
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			return 0;
		}
		if (r < 0) {
			return r;
		}
	}
}

/* ---- handing an end to a child ------------------------------------------ */

int
tr_process_pass_pipe(tr_process *p, tr_pipe *end)
{
	unsigned tag;
	int      slot, r;

	tr_assert_return(p && end, -EINVAL);
	tr_assert_return(end->owner == tri_getpid(), -ECHILD);
	/* what this end took in would not go with it */
	tr_assert_return(!end->rx.active && !end->pend_first, -EBUSY);
	tag  = PASS_TAG | end->can | (unsigned) end->link.side << 2;
	slot = tri_process_pass_fd(p, end->link.fd, tag);
	if (slot < 0) {
		return slot;
	}
	r = tri_process_pass_fd(p, end->link.shm_fd, SHM_TAG);
	if (r < 0) {
		/* the slot stays used, empty-handed: tr_pipe_inherit()
		 * of it fails */
		return r;
	}
	return slot;
}

int
tr_pipe_inherit(int slot, tr_pipe **ret)
{
	struct tri_link l;
	tr_pipe        *p;
	int             fd = -1, shm_fd = -1, r = TR_ENOTFOUND;
	unsigned        tag = 0;

	tr_assert_return(ret && slot >= 0, -EINVAL);
	for (tag = 1; tag <= 7 && r < 0; tag++) {
		if ((tag & 3) != 0) {
			r = tri_fdpass_take(slot, PASS_TAG | tag, &fd);
		}
	}
	tag--;
	if (r == 0) {
		r = tri_fdpass_take(slot + 1, SHM_TAG, &shm_fd);
	}
	if (r == 0) {
		r = tri_link_open(&l, fd, shm_fd, (int) (tag >> 2));
	}
	if (r < 0) {
		if (fd >= 0) {
			tri_fdpass_disown(fd);
			close(fd);
		}
		if (shm_fd >= 0) {
			tri_fdpass_disown(shm_fd);
			close(shm_fd);
		}
		return r;
	}
	tri_fdpass_disown(fd); /* end_new() notes them again */
	tri_fdpass_disown(shm_fd);
	p = end_new(&l, tag & 3);
	if (!p) {
		tri_link_close(&l, true);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

struct tri_link *
tri_pipe_link(tr_pipe *p)
{
	return &p->link;
}
