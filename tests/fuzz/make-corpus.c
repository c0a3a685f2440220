/* SPDX-License-Identifier: MIT */
/* Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/) with
 * the project's own encoders: the envelope encoder, tr_addr_format(), the
 * boot record encoder, the protoc-c packers (tr_sup_spec_pack() for the
 * supervisor's spec), a real Pipe's records as its sender writes them,
 * the Manager's value codec (tri_mval_pack()) and a trace file as
 * tr_trace_file_write() writes it.
 * Usage: make-corpus DIR.  Run by hand when a format changes, and commit
 * the result (docs/hardening.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "event.pb-c.h"
#include "manager-int.h"
#include "manager.pb-c.h"
#include "msg.h"
#include "node.pb-c.h"
#include "pipe-ring.h"
#include "pipe.h"
#include "pool.pb-c.h"
#include "ps.pb-c.h"
#include "queue.pb-c.h"
#include "runtime.h"
#include "supervisor.pb-c.h"
#include "sync.pb-c.h"
#include "trace.pb-c.h"
#include "troupe.pb-c.h"
#include "troupe/supervisor.h"
#include "troupe/trace.h"

static const char *root;

static uint8_t *mval_packed(tr_mval *v, size_t *len);

static void
put(const char *target, const char *name, const void *data, size_t len)
{
	char  path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	(void) mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make-corpus: cannot write %s\n", path);
		exit(1);
	}
}

static void
envelopes(void)
{
	struct tri_env e = { .sender = { 0, 4242, 7 },
		.recipient           = { 0, 4243, 9 },
		.id                  = 1,
		.type                = "trwire.QueueOp" };
	uint8_t        buf[TRI_ENV_MAX];
	int            n;

	n = tri_env_encode(&e, buf, sizeof(buf));
	put("envelope", "plain", buf, (size_t) n);
	e.flags       = TRI_FLAG_REPLY | TRI_FLAG_SYSTEM;
	e.correlation = 77;
	e.reply_to    = (tr_addr) { 1, 99, 3 };
	e.span_id     = 5;
	e.lamport     = 12;
	memset(e.trace_id, 0xab, sizeof(e.trace_id));
	e.send_time_ns = 1700000000000000000;
	n              = tri_env_encode(&e, buf, sizeof(buf));
	put("envelope", "full", buf, (size_t) n);
}

static void
addrs(void)
{
	char txt[TR_ADDR_STRLEN];

	tr_addr_format(
	    (tr_addr) { 0, 4242, 1234567890123ull }, txt, sizeof(txt));
	put("addr", "local", txt, strlen(txt));
	tr_addr_format(
	    (tr_addr) { 4294967295u, 2147483647u, 1 }, txt, sizeof(txt));
	put("addr", "max", txt, strlen(txt));
}

static void
boot(void)
{
	struct tri_boot b = { .actor = "worker",
		.name                = "w1",
		.identity            = "1:2",
		.rundir              = "/tmp/troupe-1/run",
		.args                = "hello",
		.len                 = 5,
		.parent              = 4242,
		.log_level           = 2,
		.ignored             = 1u << 12,
		.npass               = 1,
		.pass_fd             = { 7 },
		.pass_tag            = { 1 } };
	uint8_t        *buf;
	size_t          n;

	if (tri_boot_encode(&b, &buf, &n) < 0) {
		exit(1);
	}
	put("boot", "worker", buf, n);
	tri_free(buf);
}

/* One wire seed: the selector byte fuzz-wire.c's table gives d, then m. */
static void
wire(unsigned sel, const char *name, const ProtobufCMessage *m)
{
	size_t   n   = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);

	if (!buf) {
		exit(1);
	}
	buf[0] = (uint8_t) sel;
	protobuf_c_message_pack(m, buf + 1);
	put("wire", name, buf, n + 1);
	free(buf);
}

static void
wires(void)
{
	Trwire__Addr           who    = TRWIRE__ADDR__INIT;
	Trwire__Down           down   = TRWIRE__DOWN__INIT;
	Trwire__Exit           ex     = TRWIRE__EXIT__INIT;
	Trwire__Link           link   = TRWIRE__LINK__INIT;
	Trwire__Fin            fin    = TRWIRE__FIN__INIT;
	Trwire__SupRequest     sreq   = TRWIRE__SUP_REQUEST__INIT;
	Trwire__QueueOp        qop    = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueSpec      qs     = TRWIRE__QUEUE_SPEC__INIT;
	Trwire__EventRequest   er     = TRWIRE__EVENT_REQUEST__INIT;
	Trwire__SyncRequest    yr     = TRWIRE__SYNC_REQUEST__INIT;
	Trwire__PoolTask       pt     = TRWIRE__POOL_TASK__INIT;
	Trwire__PoolResult     pr     = TRWIRE__POOL_RESULT__INIT;
	Trwire__QueueEntry     qe     = TRWIRE__QUEUE_ENTRY__INIT;
	Trwire__QueueItem      qitem  = TRWIRE__QUEUE_ITEM__INIT;
	Trwire__QueueEntry    *qes[2] = { &qe, &qe };
	Trwire__PoolTask       ptb    = TRWIRE__POOL_TASK__INIT;
	ProtobufCBinaryData    batch[2];
	uint8_t               *one;
	size_t                 one_len;
	Trwire__PoolServerArgs psa     = TRWIRE__POOL_SERVER_ARGS__INIT;
	Trwire__PoolCall       pc      = TRWIRE__POOL_CALL__INIT;
	Trwire__MgrRequest     mreq    = TRWIRE__MGR_REQUEST__INIT;
	Trwire__MgrReply       mrep    = TRWIRE__MGR_REPLY__INIT;
	Trwire__TraceEvent     te      = TRWIRE__TRACE_EVENT__INIT;
	Trwire__NodePeer       np      = TRWIRE__NODE_PEER__INIT;
	Trwire__NodePeer      *nps[1]  = { &np };
	Trwire__NodeHello      nh      = TRWIRE__NODE_HELLO__INIT;
	Trwire__NodeSpawnReq   nsr     = TRWIRE__NODE_SPAWN_REQ__INIT;
	Trwire__RemoteDown     rd      = TRWIRE__REMOTE_DOWN__INIT;
	Trwire__ActorInfo      ai      = TRWIRE__ACTOR_INFO__INIT;
	Trwire__PsActor        psa1    = TRWIRE__PS_ACTOR__INIT;
	Trwire__PsActor       *psas[1] = { &psa1 };
	Trwire__PsName         psn     = TRWIRE__PS_NAME__INIT;
	Trwire__PsName        *psns[1] = { &psn };
	Trwire__NodePsRep      psr     = TRWIRE__NODE_PS_REP__INIT;
	Trwire__NodeName       nn      = TRWIRE__NODE_NAME__INIT;
	Trwire__NodeName      *nns[1]  = { &nn };
	Trwire__NodeNameClaim  ncl     = TRWIRE__NODE_NAME_CLAIM__INIT;
	Trwire__NodeNameReq    nrq     = TRWIRE__NODE_NAME_REQ__INIT;
	Trwire__NodeNotice     nno     = TRWIRE__NODE_NOTICE__INIT;
	uint32_t               lens[2] = { 1, 2 };
	uint8_t               *mkey;
	size_t                 mkey_len;
	tr_sup_spec            spec;
	tr_child_spec          child;
	void                  *packed;
	size_t                 len;
	uint8_t               *buf;
	static const uint8_t   tuple[] = { 2, 0, 0, 0, 1, 0, 0, 0, 'a', 2, 0, 0,
		  0, 'b', 'c' };

	who.pid         = 4242;
	who.incarnation = 7;
	down.ref        = 3;
	down.who        = &who;
	down.exitcode   = 1;
	wire(1, "down", &down.base);
	ex.who = &who;
	wire(2, "exit", &ex.base);
	link.from = &who;
	wire(3, "link", &link.base);
	fin.sent = 12;
	wire(8, "fin", &fin.base);
	wire(12, "sup-request", &sreq.base);
	qs.maxsize = 10;
	qs.name    = "jobs";
	wire(14, "queue-spec", &qs.base);
	qop.kind       = TRWIRE__QUEUE_OP__KIND__PUT;
	qop.item.data  = (uint8_t *) "item";
	qop.item.len   = 4;
	qop.timeout_ms = -1;
	wire(15, "queue-op", &qop.base);
	wire(18, "event-request", &er.base);
	wire(20, "sync-request", &yr.base);
	wire(23, "pool-task", &pt.base);
	wire(24, "pool-result", &pr.base);
	qe.item.data = (uint8_t *) "item";
	qe.item.len  = 4;
	qe.item_type = "trwire.Addr";
	wire(25, "queue-entry", &qe.base);
	/* a consumer ring's push: two entries */
	qitem.consumer = 5;
	qitem.n_items  = 2;
	qitem.items    = qes;
	wire(17, "queue-item-entries", &qitem.base);
	qop.kind     = TRWIRE__QUEUE_OP__KIND__FETCH;
	qop.producer = 2;
	qop.offset   = 4096;
	wire(15, "queue-op-fetch", &qop.base);
	/* a Pool batch: two packed tasks in one */
	pt.id   = 7;
	pt.fn   = "square";
	one_len = protobuf_c_message_get_packed_size(&pt.base);
	if (!(one = malloc(one_len))) {
		exit(1);
	}
	protobuf_c_message_pack(&pt.base, one);
	batch[0].data = batch[1].data = one;
	batch[0].len = batch[1].len = one_len;
	ptb.n_batch                 = 2;
	ptb.batch                   = batch;
	wire(23, "pool-task-batch", &ptb.base);
	free(one);
	psa.name      = "pool";
	psa.processes = 2;
	psa.maxtasks  = 10;
	wire(26, "pool-server-args", &psa.base);
	pc.fn        = "square";
	pc.data.data = (uint8_t *) "abc";
	pc.data.len  = 3;
	pc.n_lens    = 2;
	pc.lens      = lens;
	wire(27, "pool-call", &pc.base);
	mreq.op         = TRI_MGR_DICT_SET;
	mreq.obj        = 3;
	mkey            = mval_packed(tr_mval_str("k"), &mkey_len);
	mreq.key.data   = mkey;
	mreq.key.len    = mkey_len;
	mreq.value      = mreq.key;
	mreq.timeout_ms = -1;
	wire(32, "mgr-request", &mreq.base);
	mrep.result = 1;
	mrep.value  = mreq.key;
	wire(33, "mgr-reply", &mrep.base);
	free(mkey);
	/* the Manager's later kinds: an Array made with its type code */
	{
		tr_mval *l = tr_mval_list();

		for (int i = 0; i < 3; i++) {
			tr_mval *v = tr_mval_int(-i);

			if (!l || tr_mval_list_append(l, &v) < 0) {
				exit(1);
			}
		}
		mkey          = mval_packed(l, &mkey_len);
		mreq          = (Trwire__MgrRequest) TRWIRE__MGR_REQUEST__INIT;
		mreq.op       = TRI_MGR_NEW;
		mreq.kind     = TR_MOBJ_ARRAY;
		mreq.typecode = 'i';
		mreq.size     = 3;
		mreq.value.data = mkey;
		mreq.value.len  = mkey_len;
		wire(32, "mgr-request-array", &mreq.base);
		free(mkey);
	}
	te.kind = 1;
	te.self = &who;
	te.what = "trwire.Fin";
	wire(34, "trace-event", &te.base);
	/* issue 13: a node's hello, a remote start, a remote DOWN */
	rd.token    = 7;
	rd.who      = &who;
	rd.exitcode = 1;
	wire(37, "remote-down", &rd.base);
	np.name     = "b";
	np.endpoint = "tcp://127.0.0.1:40001";
	nh.self     = &np;
	nh.id       = 0x1234;
	nh.agent    = &who;
	nh.n_peers  = 1;
	nh.peers    = nps;
	nh.cookie   = "troupe";
	wire(39, "node-hello", &nh.base);
	nsr.actor     = "worker";
	nsr.args.data = (uint8_t *) "7";
	nsr.args.len  = 1;
	nsr.name      = "w1";
	wire(41, "node-spawn-req", &nsr.base);
	/* ps.proto: an actor's account of itself, a node's listing */
	ai.queued     = 3;
	ai.received   = 9;
	ai.parent_pid = 4242;
	ai.actor      = "worker";
	ai.identity   = "1:2";
	wire(51, "actor-info", &ai.base);
	psa1.addr       = &who;
	psa1.parent_pid = 4242;
	psa1.comm       = "worker";
	psa1.alive      = true;
	psa1.answered   = true;
	psa1.queued     = 3;
	psa1.actor      = "worker";
	psn.name        = "svc";
	psn.addr        = &who;
	psr.node        = "b";
	psr.id          = 0x1234;
	psr.run_pid     = 4242;
	psr.n_actors    = 1;
	psr.actors      = psas;
	psr.n_names     = 1;
	psr.names       = psns;
	wire(55, "node-ps-rep", &psr.base);
	/* issue 13: a gap notice, a name request, a peer's name claim */
	nno.kind  = TRWIRE__NODE_NOTICE_KIND__NOTICE_GAP;
	nno.peer  = &who;
	nno.node  = "b";
	nno.count = 3;
	nno.first = 5;
	wire(56, "node-notice", &nno.base);
	nrq.op   = 2;
	nrq.name = "svc";
	nrq.addr = &who;
	wire(57, "node-name-req", &nrq.base);
	nn.name     = "svc";
	nn.addr     = &who;
	nn.since_ms = 1700000000000;
	ncl.n_names = 1;
	ncl.names   = nns;
	ncl.full    = 1;
	wire(60, "node-name-claim", &ncl.base);

	tr_sup_spec_init(&spec);
	tr_child_spec_init(&child, "w", "worker");
	spec.children  = &child;
	spec.nchildren = 1;
	if (tr_sup_spec_pack(&spec, &packed, &len) < 0 ||
	    !(buf = malloc(len + 1))) {
		exit(1);
	}
	buf[0] = 10;
	memcpy(buf + 1, packed, len);
	put("wire", "sup-spec", buf, len + 1);
	free(buf);
	free(packed);
	/* a starmap tuple (2 arguments), behind selector 0 */
	if (!(buf = malloc(sizeof(tuple) + 1))) {
		exit(1);
	}
	buf[0] = 0;
	memcpy(buf + 1, tuple, sizeof(tuple));
	put("wire", "pool-args", buf, sizeof(tuple) + 1);
	free(buf);
}

/* A value as tri_mval_pack() packs it, into a new buffer (*len bytes);
 * frees v. */
static uint8_t *
mval_packed(tr_mval *v, size_t *len)
{
	uint8_t *p;

	if (!v || tri_mval_pack(v, &p, len) < 0) {
		exit(1);
	}
	tr_mval_destroy(&v);
	return p;
}

static void
mval_put(const char *name, tr_mval *v)
{
	size_t   n;
	uint8_t *p = mval_packed(v, &n);

	put("mval", name, p, n);
	free(p);
}

static void
add(tr_mval *l, tr_mval *item)
{
	if (!item || tr_mval_list_append(l, &item) < 0) {
		exit(1);
	}
}

static void
set(tr_mval *d, tr_mval *k, tr_mval *v)
{
	if (!k || !v || tr_mval_dict_set(d, &k, &v) < 0) {
		exit(1);
	}
}

/* The Manager's values (fuzz-mval.c): each scalar kind, a message, and
 * lists and dicts nested in each other. */
static void
mvals(void)
{
	tr_mval *l = tr_mval_list(), *d = tr_mval_dict(), *deep;

	mval_put("none", tr_mval_none());
	mval_put("int", tr_mval_int(-1234567890123));
	mval_put("double", tr_mval_double(2.5));
	mval_put("bool", tr_mval_bool(true));
	mval_put("str", tr_mval_str("text"));
	mval_put("bytes", tr_mval_bytes("\0\1\2", 3));
	mval_put("pb", tr_mval_pb("trwire.Addr", "\x10\x05", 2));
	if (!l || !d) {
		exit(1);
	}
	add(l, tr_mval_int(1));
	add(l, tr_mval_str("two"));
	add(l, tr_mval_none());
	set(d, tr_mval_str("a"), tr_mval_int(1));
	set(d, tr_mval_int(2), tr_mval_double(0.25));
	set(d, tr_mval_bool(false), l);
	mval_put("dict", d);
	/* nested to the limit: 31 lists around a dict */
	deep = tr_mval_dict();
	if (!deep) {
		exit(1);
	}
	set(deep, tr_mval_none(), tr_mval_bytes("x", 1));
	for (int i = 1; i < TR_MVAL_MAX_DEPTH; i++) {
		tr_mval *outer = tr_mval_list();

		if (!outer) {
			exit(1);
		}
		add(outer, deep);
		deep = outer;
	}
	mval_put("deep", deep);
}

/* A trace file (fuzz-trace.c's input: a flag byte 0, then the file, its
 * magic included), as tr_trace_file_write() writes it: three events, and
 * the same cut inside its last record. */
static void
traces(void)
{
	char           path[] = "/tmp/troupe-make-corpus-XXXXXX";
	tr_trace_file *f;
	tr_trace_event ev = { .ts_ns = 1700000000000000000,
		.kind                = TR_TRACE_SEND,
		.self                = { 0, 4242, 7 },
		.peer                = { 0, 4243, 1 },
		.msg_id              = 9,
		.value               = 120,
		.lamport             = 3,
		.span_id             = 11,
		.parent_span         = 10 };
	uint8_t        buf[4096];
	FILE          *in;
	size_t         n;
	int            fd = mkstemp(path);

	if (fd < 0) {
		exit(1);
	}
	close(fd);
	memset(ev.trace_id, 0xcd, sizeof(ev.trace_id));
	snprintf(ev.what, sizeof(ev.what), "trwire.QueueOp");
	snprintf(ev.name, sizeof(ev.name), "w1");
	snprintf(ev.actor, sizeof(ev.actor), "worker");
	if (tr_trace_file_open(&f, path, true) < 0 ||
	    tr_trace_file_write(f, &ev) < 0) {
		exit(1);
	}
	ev.kind   = TR_TRACE_SEND + 1;
	ev.dur_ns = 5000;
	if (tr_trace_file_write(f, &ev) < 0) {
		exit(1);
	}
	memset(&ev, 0, sizeof(ev));
	ev.kind = TR_TRACE_SEND;
	if (tr_trace_file_write(f, &ev) < 0 || tr_trace_file_close(&f) < 0 ||
	    !(in = fopen(path, "rb"))) {
		exit(1);
	}
	buf[0] = 0;
	n      = fread(buf + 1, 1, sizeof(buf) - 1, in);
	fclose(in);
	unlink(path);
	put("trace", "three-events", buf, n + 1);
	put("trace", "cut-in-last", buf, n - 2);
}

/* What a real Pipe's sender puts on its ring, as fuzz-pipe.c's input
 * (flags 0, then a record as a 3-byte length and its bytes): a small
 * message, and each record of one over a chunk, one seed each.  Trailing
 * zeros are left out (fuzz-pipe pads with them): the seeds stay small. */
static void
pipes(void)
{
	static uint8_t   out[TRI_RECORD_MAX + 4], big[70000];
	tr_pipe         *rx, *tx;
	struct tri_link *l;
	size_t           n, len;
	int              i = 0;
	char             name[32];

	if (tr_pipe_new(false, &rx, &tx) < 0 ||
	    tr_pipe_send_bytes(tx, "hi", 2, 0) < 0 ||
	    tr_pipe_send_bytes(tx, big, sizeof(big), 0) < 0) {
		exit(1);
	}
	l = tri_pipe_link(rx);
	while (tri_link_peek(l, &len) == 1) {
		out[0] = 0;
		out[1] = (uint8_t) len;
		out[2] = (uint8_t) (len >> 8);
		out[3] = (uint8_t) (len >> 16);
		tri_link_copy(l, 0, out + 4, len);
		(void) tri_link_consume(l, len);
		for (n = 4 + len; n > 4 && out[n - 1] == 0; n--) { }
		snprintf(name, sizeof(name), "record-%d", i++);
		put("pipe", name, out, n);
	}
	tr_pipe_destroy(&rx);
	tr_pipe_destroy(&tx);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make-corpus DIR\n");
		return 2;
	}
	root = argv[1];
	(void) mkdir(root, 0755);
	envelopes();
	addrs();
	boot();
	wires();
	pipes();
	mvals();
	traces();
	return 0;
}
