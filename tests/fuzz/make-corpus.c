/* SPDX-License-Identifier: MIT */
/* Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/) with
 * the project's own encoders: the envelope encoder, tr_addr_format(), the
 * boot record encoder, the protoc-c packers (tr_sup_spec_pack() for the
 * supervisor's spec) and a real Pipe's records as its sender writes them.
 * Usage: make-corpus DIR.  Run by hand when a format changes, and commit
 * the result (docs/hardening.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "event.pb-c.h"
#include "msg.h"
#include "pipe-ring.h"
#include "pipe.h"
#include "pool.pb-c.h"
#include "queue.pb-c.h"
#include "runtime.h"
#include "supervisor.pb-c.h"
#include "sync.pb-c.h"
#include "troupe.pb-c.h"
#include "troupe/supervisor.h"

static const char *root;

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
	Trwire__Addr         who  = TRWIRE__ADDR__INIT;
	Trwire__Down         down = TRWIRE__DOWN__INIT;
	Trwire__Exit         ex   = TRWIRE__EXIT__INIT;
	Trwire__Link         link = TRWIRE__LINK__INIT;
	Trwire__Fin          fin  = TRWIRE__FIN__INIT;
	Trwire__SupRequest   sreq = TRWIRE__SUP_REQUEST__INIT;
	Trwire__QueueOp      qop  = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueSpec    qs   = TRWIRE__QUEUE_SPEC__INIT;
	Trwire__EventRequest er   = TRWIRE__EVENT_REQUEST__INIT;
	Trwire__SyncRequest  yr   = TRWIRE__SYNC_REQUEST__INIT;
	Trwire__PoolTask     pt   = TRWIRE__POOL_TASK__INIT;
	Trwire__PoolResult   pr   = TRWIRE__POOL_RESULT__INIT;
	tr_sup_spec          spec;
	tr_child_spec        child;
	void                *packed;
	size_t               len;
	uint8_t             *buf;
	static const uint8_t tuple[] = { 2, 0, 0, 0, 1, 0, 0, 0, 'a', 2, 0, 0,
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
	return 0;
}
