/* SPDX-License-Identifier: MIT */
/* The client side of the actor implementation: a handle onto a sync actor
 * (sync-server.c), turning each call into one tr_call_pb() of a
 * trwire.SyncRequest.  The actor enforces every timeout and answers by
 * the deadline; the client waits a margin longer, and tr_call() watches
 * the actor, so its death ends the wait with TR_EDEAD.  A release by the
 * thread known to hold the lock is sent without waiting for an answer.
 * An actor on this host is called through a same-host channel (chan-int.h)
 * when it can, the same requests in shared memory. */
#include "sync-int.h"

#include "chan-int.h"
#include "node-addr-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "sync.pb-c.h"

#define SYNC_ACTOR "troupe-sync"
#define START_MS   30000
#define MARGIN_MS  10000 /* the actor answers by the deadline; slack */
#define STOP_MS    5000

struct tri_remote {
	tr_process     *proc;  /* the creator's: the actor; NULL when opened */
	pid_t           owner; /* process that made the handle */
	tr_addr         server;
	uint32_t        kind;
	uint32_t        held; /* acquisitions through this handle */
	char            addr[TR_ADDR_STRLEN];
	struct tri_chan chan;     /* same-host, asked for at the first call */
	pid_t           chan_pid; /* the process chan belongs to */
};

int tri_sync_server(const void *args, size_t len);

__attribute__((constructor)) static void
register_sync_actor(void)
{
	(void) tr_actor_register(
	    SYNC_ACTOR, tri_sync_server, TR_ACTOR_MANUAL_READY);
	(void) tr_msg_type_register(&trwire__sync_request__descriptor);
	(void) tr_msg_type_register(&trwire__sync_reply__descriptor);
}

int
tri_sync_impl(const tr_sync_opts *opts)
{
	const char *env;

	if (opts && opts->impl != TR_SYNC_DEFAULT) {
		return opts->impl == TR_SYNC_LOCAL ||
		        opts->impl == TR_SYNC_ACTOR
		    ? opts->impl
		    : -EINVAL;
	}
	env = getenv("TROUPE_SYNC");
	return env && strcmp(env, "actor") == 0 ? TR_SYNC_ACTOR : TR_SYNC_LOCAL;
}

/* The channel's ask(): a channel from the actor, by mail. */
static int
chan_ask(void *arg)
{
	struct tri_remote  *r   = arg;
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;
	Trwire__SyncReply  *rep = NULL;
	int                 res;

	req.op = TRI_OP_CHAN_OPEN;
	res = tr_call_pb(r->server, &req.base, &trwire__sync_reply__descriptor,
	    (ProtobufCMessage **) &rep, MARGIN_MS);
	if (res < 0) {
		return res;
	}
	res = rep->result;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return res;
}

static int
remote_alloc(struct tri_remote **ret)
{
	struct tri_remote *r = calloc(1, sizeof(*r));

	if (!r) {
		return -ENOMEM;
	}
	r->owner = getpid();
	tri_chan_init(&r->chan);
	r->chan.ask = chan_ask;
	r->chan.arg = r;
	r->chan_pid = r->owner;
	*ret        = r;
	return 0;
}

/* The channel of this process: a fork child's copy of a handle forgets
 * its parent's (and asks for its own at its first call). */
static struct tri_chan *
chan_here(struct tri_remote *r)
{
	if (r->chan_pid != tr_self_pid()) {
		tri_chan_detach(&r->chan);
		tri_chan_init(&r->chan);
		r->chan.ask = chan_ask;
		r->chan.arg = r;
		r->chan_pid = getpid();
	}
	return &r->chan;
}

/* The channel forgotten; the actor told if tell. */
static void
chan_drop(struct tri_remote *r, bool tell)
{
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;

	req.op = TRI_OP_CHAN_CLOSE;
	req.n  = (uint32_t) r->chan.fd;
	tri_chan_drop(chan_here(r), tell ? &req.base : NULL, STOP_MS);
}

int
tri_remote_call(struct tri_remote *r, uint32_t op, int timeout_ms, uint32_t n,
    bool has_action, struct tri_remote_reply *ret)
{
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;
	Trwire__SyncReply  *rep = NULL;
	int                 wait, res;

	req.op         = op;
	req.thread     = tri_sync_tid();
	req.timeout_ms = timeout_ms;
	req.n          = n;
	req.has_action = has_action;
	wait           = timeout_ms < 0 || timeout_ms > INT32_MAX - MARGIN_MS
	              ? TR_TIMEOUT_INFINITE
	              : timeout_ms + MARGIN_MS;
	res            = tri_chan_send(chan_here(r), r->server, &req.base,
	               &trwire__sync_reply__descriptor, (ProtobufCMessage **) &rep, wait);
	if (res < 0) {
		return res;
	}
	res = rep->result;
	if (ret) {
		ret->result  = rep->result;
		ret->kind    = rep->kind + TRI_KIND_BASE;
		ret->value   = rep->value;
		ret->parties = rep->parties;
		ret->broken  = rep->broken;
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return res;
}

static int
remote_cast(struct tri_remote *r, uint32_t op)
{
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;

	req.op     = op;
	req.thread = tri_sync_tid();
	return tri_chan_send(chan_here(r), r->server, &req.base, NULL, NULL,
	    TR_TIMEOUT_INFINITE);
}

static int
fetch_info(struct tri_remote *r)
{
	struct tri_remote_reply rep;
	int                     res;

	res = tri_remote_call(r, TRI_OP_INFO, 0, 0, false, &rep);
	if (res == TR_EDEAD) {
		return -ESRCH;
	}
	if (res < 0) {
		return res;
	}
	r->kind = rep.kind;
	tr_addr_format(r->server, r->addr, sizeof(r->addr));
	return 0;
}

int
tri_remote_new(struct tri_remote **ret, const char *name, uint32_t kind,
    uint32_t value, bool bounded)
{
	struct tri_remote *r;
	char               args[128];
	int                res;

	res = remote_alloc(&r);
	if (res < 0) {
		return res;
	}
	snprintf(args, sizeof(args), "%u %u %d %s", kind - TRI_KIND_BASE, value,
	    bounded, name ? name : "-");
	res = tr_process_new(&r->proc, SYNC_ACTOR, args, strlen(args));
	if (res == 0) {
		/* ended at exit like Python's manager, not joined for ever */
		(void) tr_process_set_daemon(r->proc, true);
		(void) tr_process_set_eager_mailbox(r->proc, true);
		(void) tr_process_set_name(r->proc, SYNC_ACTOR);
		res = tr_process_start(r->proc, START_MS);
		if (res == TR_ESTARTFAIL && tr_process_start_error(r->proc)) {
			res = tr_process_start_error(r->proc);
		}
	}
	if (res == 0) {
		res = tr_process_addr(r->proc, &r->server);
	}
	if (res == 0) {
		res = fetch_info(r);
	}
	if (res < 0) {
		tri_remote_destroy(&r);
		return res;
	}
	*ret = r;
	return 0;
}

int
tri_remote_open(struct tri_remote **ret, const char *where)
{
	struct tri_remote *r;
	tr_addr            a;
	int                res;

	if (tr_addr_parse(where, &a) < 0) {
		res = tr_whereis(where, &a);
		if (res < 0) {
			return res == -EINVAL ? TR_EBADADDR : res;
		}
	}
	res = remote_alloc(&r);
	if (res < 0) {
		return res;
	}
	r->server = tri_addr_localize(a); /* ours, in node-global form */
	res       = fetch_info(r);
	if (res < 0) {
		tri_remote_destroy(&r);
		return res;
	}
	*ret = r;
	return 0;
}

/* STOP by mail (a channel is not opened for it), after the channel's
 * one-way requests. */
static void
stop_actor(struct tri_remote *r)
{
	Trwire__SyncRequest req = TRWIRE__SYNC_REQUEST__INIT;
	tr_msg             *m   = NULL;

	req.op = TRI_OP_STOP;
	(void) tri_chan_flush(chan_here(r), STOP_MS);
	if (tr_msg_new_pb(&m, &req.base) == 0) {
		(void) tr_send(r->server, &m, STOP_MS);
		tr_msg_destroy(&m);
	}
}

void
tri_remote_destroy(struct tri_remote **rp)
{
	struct tri_remote *r = rp ? *rp : NULL;

	if (!r) {
		return;
	}
	/* a fork child's copy of the creator's handle leaves the actor be */
	if (r->proc && r->owner == getpid() && tr_process_is_alive(r->proc)) {
		stop_actor(r);
		if (tr_process_join(r->proc, STOP_MS) < 0) {
			(void) tr_process_kill(r->proc);
		}
	}
	/* the actor is told unless it was just stopped */
	chan_drop(r, !r->proc || r->owner != getpid());
	tr_process_destroy(&r->proc);
	free(r);
	*rp = NULL;
}

uint32_t
tri_remote_kind(struct tri_remote *r)
{
	return r->kind;
}

const char *
tri_remote_addr(struct tri_remote *r)
{
	/* once this run has a node, the node-global address: it opens
	 * the actor from any node */
	tri_addr_format_global(r->server, r->addr, sizeof(r->addr));
	return r->addr;
}

int
tri_remote_acquire(struct tri_remote *r, int timeout_ms)
{
	int res =
	    tri_remote_call(r, TRI_OP_ACQUIRE, timeout_ms, 0, false, NULL);

	if (res >= 0) {
		r->held++;
	}
	return res;
}

int
tri_remote_release(struct tri_remote *r)
{
	int res;

	if (r->held > 0) {
		/* ours to release: the actor needs no question answered */
		res = remote_cast(r, TRI_OP_RELEASE);
		if (res == 0) {
			r->held--;
		}
		return res;
	}
	return tri_remote_call(r, TRI_OP_RELEASE_CALL, 0, 0, false, NULL);
}

bool
tri_remote_is_mine(struct tri_remote *r)
{
	return tri_remote_call(r, TRI_OP_IS_MINE, 0, 0, false, NULL) == 1;
}

int
tri_sync_open_any(const char *where, const uint32_t *kinds, tr_shm **ret_shm,
    struct tri_remote **ret_remote, uint32_t *ret_kind)
{
	struct tri_remote *r;
	int                res;

	*ret_shm    = NULL;
	*ret_remote = NULL;
	res         = tri_sync_open(ret_shm, where, kinds, ret_kind);
	if (res != TR_ENOTFOUND && res != -EINVAL) {
		return res;
	}
	res = tri_remote_open(&r, where);
	if (res < 0) {
		return res;
	}
	for (; *kinds; kinds++) {
		if (*kinds == r->kind) {
			*ret_remote = r;
			*ret_kind   = r->kind;
			return 0;
		}
	}
	tri_remote_destroy(&r);
	return TR_EBADTYPE;
}
