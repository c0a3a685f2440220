/* SPDX-License-Identifier: MIT */
/* The client side of a queue (include/troupe/queue.h): starting the
 * broker under its own supervisor, opening it by name or address, and the
 * calls.  Puts and control calls are tr_call()s, which notice a dead
 * broker; gets wait for the broker's pushes with a selective receive
 * that also takes our monitor's DOWN, so they never hang on it either. */
#include "queue-int.h"

#include "node-addr-int.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#define START_TIMEOUT_MS 10000
#define WHERE_MAX        64

struct tr_queue {
	pid_t       owner;
	tr_addr     broker;
	char        where[WHERE_MAX]; /* name, or the broker's address */
	bool        named;            /* where is a name */
	uint64_t    id;               /* this handle, as a consumer */
	tr_process *sup;              /* the creator's: the supervisor */
	int         dead;             /* TR_EDEAD once the broker died */
	int         end; /* TR_ECLOSED / TR_EQSHUTDOWN the broker sent */
	uint64_t    mon; /* monitor of the broker, 0 before the first get */
	unsigned    window;
	unsigned    credit;     /* asked for and not yet received */
	unsigned    put_window; /* one-way puts to ask for; 0 = none */
	unsigned    grant;      /* one-way puts the broker accepts now */
	unsigned    oneway;     /* one-way puts since the last answered one */
	Trwire__QueueItem     *batch;   /* a push taken from the mailbox */
	size_t                 next;    /* its first item not yet got */
	unsigned               unacked; /* got, acknowledgement not yet sent */
	struct tri_queue_local ring;    /* this producer's ring, if any */
	bool                   ring_tried; /* asked for one (or may not) */
	struct tri_queue_creader cr;       /* this consumer's ring, if any */
	bool                     cr_tried;
	struct tri_queue_page   *page; /* the broker's page, if mapped */
	int                      page_pidfd;
	bool                     page_tried;
};

/* getpid() is a system call (glibc >= 2.25) and every put and get checks
 * the handle's owner: this process's pid, renewed in fork children
 * (pthread_atfork), as the runtime keeps its own. */
static pid_t self_pid;

static void
renew_pid(void)
{
	self_pid = getpid();
}

/* Registered here, not beside the broker: a program linked with the
 * static library pulls in this file whenever it uses a queue, and with it
 * the broker. */
__attribute__((constructor)) static void
register_broker(void)
{
	renew_pid();
	(void) pthread_atfork(NULL, NULL, renew_pid);
	(void) tr_actor_register(
	    TR_QUEUE_ACTOR, tri_queue_broker_main, TR_ACTOR_MANUAL_READY);
}

static int
check(const tr_queue *q)
{
	if (!q) {
		return -EINVAL;
	}
	return q->owner == self_pid ? 0 : -ECHILD;
}

static bool
timeout_ok(int timeout_ms)
{
	return timeout_ms >= 0 || timeout_ms == TR_TIMEOUT_INFINITE;
}

static uint64_t
new_id(void)
{
	static uint64_t n;

	/* unique among this process's handles; the broker keys consumers
	 * by (address, id), so other processes do not matter */
	return ++n;
}

static int
handle_new(tr_queue **ret, tr_addr broker, const char *where)
{
	tr_queue *q;
	int       r;

	r = tr_msg_type_register(&trwire__queue_item__descriptor);
	if (r < 0) {
		return r;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	q->owner  = getpid();
	q->broker = broker;
	q->id     = new_id();
	q->window = TR_QUEUE_WINDOW_DEFAULT;
	tri_queue_local_init(&q->ring);
	tri_queue_creader_init(&q->cr);
	q->page_pidfd = -1;
	if (where) {
		snprintf(q->where, sizeof(q->where), "%s", where);
		q->named = true;
	} else {
		tr_addr_format(broker, q->where, sizeof(q->where));
	}
	*ret = q;
	return 0;
}

/* ---- starting ----------------------------------------------------------- */

static int
pack_spec(const tr_queue_opts *o, void **ret, size_t *ret_len)
{
	Trwire__QueueSpec pb = TRWIRE__QUEUE_SPEC__INIT;
	uint8_t          *buf;

	pb.maxsize = o->maxsize;
	pb.name    = (char *) (o->name ? o->name : "");
	pb.kind    = (uint32_t) o->kind;
	*ret_len   = trwire__queue_spec__get_packed_size(&pb);
	buf        = malloc(*ret_len ? *ret_len : 1);
	if (!buf) {
		return -ENOMEM;
	}
	trwire__queue_spec__pack(&pb, buf);
	*ret = buf;
	return 0;
}

/* The supervisor's spec: the broker, permanent, quiet. */
static int
pack_sup(const tr_queue_opts *o, void **ret, size_t *ret_len)
{
	tr_child_spec child = { .id = "queue", .actor = TR_QUEUE_ACTOR };
	tr_sup_spec   spec  = { .children = &child, .nchildren = 1 };
	int           r;

	spec.quiet             = true;
	spec.intensity         = 3;
	child.start_timeout_ms = o->start_timeout_ms;
	child.shutdown_ms      = 2000;
	r = pack_spec(o, (void **) &child.args, &child.len);
	if (r < 0) {
		return r;
	}
	r = tr_sup_spec_pack(&spec, ret, ret_len);
	free((void *) child.args);
	return r;
}

static int
broker_addr(tr_process *sup, tr_addr *ret)
{
	tr_supervisor *s = NULL;
	tr_child_info  info;
	tr_addr        sa;
	int            r;

	r = tr_process_addr(sup, &sa);
	if (r == 0) {
		r = tr_supervisor_open(&s, sa);
	}
	if (r == 0) {
		r = tr_supervisor_which_child(
		    s, "queue", &info, START_TIMEOUT_MS);
	}
	tr_supervisor_destroy(&s); /* an opened handle: leaves it running */
	if (r == 0) {
		*ret = info.addr;
	}
	return r;
}

static int
start_sup(const tr_queue_opts *o, tr_process **ret)
{
	tr_process *p = NULL;
	void       *buf;
	size_t      len;
	int to = o->start_timeout_ms ? o->start_timeout_ms : START_TIMEOUT_MS;
	int r;

	r = pack_sup(o, &buf, &len);
	if (r < 0) {
		return r;
	}
	r = tr_process_new(&p, TR_SUP_ACTOR, buf, len);
	free(buf);
	if (r == 0) {
		r = tr_process_set_daemon(p, true);
	}
	if (r == 0) {
		r = tr_process_set_name(p, "troupe.queue-sup");
	}
	if (r == 0) {
		r = tr_process_start(p, to + START_TIMEOUT_MS);
	}
	if (r < 0) {
		tr_process_destroy(&p);
		return r;
	}
	*ret = p;
	return 0;
}

static void
stop_sup(tr_process **pp)
{
	if (!*pp) {
		return;
	}
	(void) tr_process_terminate(*pp);
	if (tr_process_join(*pp, 5000) < 0) {
		(void) tr_process_kill(*pp);
	}
	tr_process_destroy(pp);
}

int
tr_queue_new(tr_queue **ret, const tr_queue_opts *opts)
{
	tr_queue_opts o   = opts ? *opts : (tr_queue_opts) { 0 };
	tr_process   *sup = NULL;
	tr_addr       addr;
	int           r;

	tr_assert_return(ret, -EINVAL);
	tr_assert_return(
	    o.kind >= TR_QUEUE_PLAIN && o.kind <= TR_QUEUE_SIMPLE, -EINVAL);
	tr_assert_return(o.kind != TR_QUEUE_SIMPLE || o.maxsize == 0, -EINVAL);
	tr_assert_return(o.start_timeout_ms >= 0, -EINVAL);
	tr_assert_return(
	    !o.name || (o.name[0] && strlen(o.name) < WHERE_MAX), -EINVAL);
	if (o.name && tr_whereis(o.name, &addr) == 0) {
		return TR_EEXISTS;
	}
	r = start_sup(&o, &sup);
	if (r == 0) {
		r = broker_addr(sup, &addr);
	}
	if (r == 0) {
		r = handle_new(ret, addr, o.name);
	}
	if (r < 0) {
		stop_sup(&sup);
		return r;
	}
	(*ret)->sup = sup;
	return 0;
}

int
tr_queue_open(tr_queue **ret, const char *where)
{
	tr_addr addr;
	int     r;

	tr_assert_return(ret && where && where[0], -EINVAL);
	tr_assert_return(strlen(where) < WHERE_MAX, -EINVAL);
	if (tr_addr_parse(where, &addr) == 0) {
		/* this run's broker in its node-global form: node 0, so
		 * that its pushes match and its rings can be used */
		return handle_new(ret, tri_addr_localize(addr), NULL);
	}
	r = tr_whereis(where, &addr);
	if (r < 0) {
		return r;
	}
	return handle_new(ret, addr, where);
}

const char *
tr_queue_addr(const tr_queue *q)
{
	if (!q) {
		return NULL;
	}
	if (!q->named) {
		/* once this run has a node, the broker's node-global
		 * address: it opens the queue from any node */
		tr_queue *w = (tr_queue *) q;

		tri_addr_format_global(w->broker, w->where, sizeof(w->where));
	}
	return q->where;
}

tr_addr
tr_queue_broker(const tr_queue *q)
{
	return q ? q->broker : TR_ADDR_NULL;
}

int
tr_queue_set_put_window(tr_queue *q, unsigned window)
{
	tr_assert_return(q && window <= TRI_QUEUE_WINDOW_MAX, -EINVAL);
	q->put_window = window;
	if (q->grant > window) {
		q->grant = window;
	}
	return 0;
}

static void send_wake(tr_queue *q);

int
tr_queue_set_window(tr_queue *q, unsigned window)
{
	tr_assert_return(
	    q && window > 0 && window <= TRI_QUEUE_WINDOW_MAX, -EINVAL);
	q->window = window;
	if (q->cr.ring) {
		atomic_store(&q->cr.ring->window, window);
		send_wake(q);
	}
	return 0;
}

/* ---- calls -------------------------------------------------------------- */

static int
died(tr_queue *q, int r)
{
	if (r == TR_EDEAD || r == -ESRCH) {
		q->dead = TR_EDEAD;
		return TR_EDEAD;
	}
	return r;
}

/* One call to the broker; *ret (if not NULL) gets the answer. */
static int
call(tr_queue *q, Trwire__QueueOp *op, Trwire__QueueReply **ret, int timeout_ms)
{
	Trwire__QueueReply *rep = NULL;
	int                 r;

	if (q->dead) {
		return q->dead;
	}
	r = tr_call_pb(q->broker, &op->base, &trwire__queue_reply__descriptor,
	    (ProtobufCMessage **) &rep, timeout_ms);
	if (r < 0) {
		return died(q, r);
	}
	r = rep->error;
	if (ret && r == 0) {
		*ret = rep;
	} else {
		trwire__queue_reply__free_unpacked(rep, NULL);
	}
	return r;
}

static int
simple_call(tr_queue *q, Trwire__QueueOp__Kind kind, int timeout_ms)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	int             r  = check(q);

	if (r < 0) {
		return r;
	}
	op.kind = kind;
	return call(q, &op, NULL, timeout_ms);
}

/* The broker keeps the time: its answer always says what happened to
 * the item, so no put is ever half done. */
static int
put_call(tr_queue *q, Trwire__QueueOp *op)
{
	Trwire__QueueReply *rep = NULL;
	int                 r;

	op->want_grant = q->put_window;
	op->producer   = q->ring.ring ? q->id : 0; /* for a new grant */
	r              = call(q, op, &rep, TR_TIMEOUT_INFINITE);
	if (r == 0) {
		q->grant  = rep->grant;
		q->oneway = 0; /* the broker has taken every one before */
		trwire__queue_reply__free_unpacked(rep, NULL);
	}
	return r;
}

/* One-way, under the broker's grant (put window): no answer. */
static int
put_granted(tr_queue *q, Trwire__QueueOp *op)
{
	tr_msg *m;
	int     r;

	if (q->dead) {
		return q->dead;
	}
	op->granted = true;
	r           = tr_msg_new_pb(&m, &op->base);
	if (r < 0) {
		return r;
	}
	r = tr_send(q->broker, &m, TR_TIMEOUT_INFINITE);
	tr_msg_destroy(&m);
	if (r < 0) {
		return died(q, r);
	}
	q->grant--;
	q->oneway++;
	return 0;
}

/* Map the broker's page (queue-page.c) at descriptor fd there, once. */
static void
page_attach(tr_queue *q, int fd)
{
	q->page_tried = true;
	if (q->page || fd < 0) {
		return;
	}
	if (tri_queue_page_attach(&q->page, &q->page_pidfd, q->broker, fd) <
	    0) {
		q->page = NULL;
		tr_log(TR_LOG_DEBUG, "queue: no page, task_done by message");
	}
	q->ring.page = q->page;
}

/* The producer's ring (queue-ring.c), asked for at the first put unless
 * TROUPE_QUEUE_SHM=0 or the broker is on another host.  Any failure
 * leaves the handle on messages, which always work. */
/* Shared memory with the broker: on its host, unless TROUPE_QUEUE_SHM=0. */
static bool
shm_ok(const tr_queue *q)
{
	const char *v = getenv("TROUPE_QUEUE_SHM");

	return !(v && strcmp(v, "0") == 0) && q->broker.node == 0;
}

static void
ring_open(tr_queue *q)
{
	Trwire__QueueOp     op  = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueReply *rep = NULL;

	q->ring_tried = true;
	if (!shm_ok(q)) {
		return;
	}
	op.kind     = TRWIRE__QUEUE_OP__KIND__RING;
	op.producer = q->id;
	if (call(q, &op, &rep, TR_TIMEOUT_INFINITE) < 0) {
		return;
	}
	if (rep->ring_size == TRI_QUEUE_RING_DATA &&
	    tri_queue_local_attach(&q->ring, q->broker, rep->ring_fd) < 0) {
		tr_log(TR_LOG_DEBUG, "queue: no ring, puts go by message");
	}
	page_attach(q, rep->page_fd);
	trwire__queue_reply__free_unpacked(rep, NULL);
}

/* One-way WAKE: the broker looks at its rings and the joinable page (lost
 * only with the broker, which its pidfd or monitor then says). */
static void
send_wake(tr_queue *q)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	tr_msg         *m  = NULL;

	op.kind = TRWIRE__QUEUE_OP__KIND__WAKE;
	if (tr_msg_new_pb(&m, &op.base) == 0) {
		(void) tr_send(q->broker, &m, TRI_QUEUE_SEND_MS);
	}
	tr_msg_destroy(&m);
}

/* 0 put on the ring, 1 not (use a message), or the put's error. */
static int
ring_put(tr_queue *q, tr_msg *item)
{
	bool wake;
	int  r;

	if (!q->ring_tried) {
		ring_open(q);
	}
	/* a one-way put may still be on its way: the ring's records could
	 * overtake it (the broker takes rings first), so messages until the
	 * next answered put */
	if (!q->ring.ring || q->dead || q->oneway) {
		return 1;
	}
	r = tri_queue_local_put(&q->ring, tr_msg_data(item), tr_msg_size(item),
	    tr_msg_type(item), &wake);
	if (r == TR_EDEAD) {
		q->dead = TR_EDEAD;
	}
	if (r == 0 && wake) {
		send_wake(q);
	}
	return r;
}

int
tr_queue_put(tr_queue *q, tr_msg **itemp, int timeout_ms)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	int             r  = check(q);

	if (r < 0) {
		return r;
	}
	tr_assert_return(itemp && *itemp && timeout_ok(timeout_ms), -EINVAL);
	if (tr_msg_size(*itemp) > TRI_QUEUE_ITEM_MAX) {
		return TR_ETOOBIG; /* the broker could not take it in */
	}
	r = ring_put(q, *itemp);
	if (r <= 0) {
		if (r == 0) {
			tr_msg_destroy(itemp);
		}
		return r;
	}
	op.kind       = TRWIRE__QUEUE_OP__KIND__PUT;
	op.item.data  = (uint8_t *) tr_msg_data(*itemp);
	op.item.len   = tr_msg_size(*itemp);
	op.item_type  = (char *) tr_msg_type(*itemp);
	op.timeout_ms = timeout_ms;
	r             = q->grant ? put_granted(q, &op) : put_call(q, &op);
	if (r == 0) {
		tr_msg_destroy(itemp);
	}
	return r;
}

int
tr_queue_put_bytes(tr_queue *q, const void *data, size_t len, int timeout_ms)
{
	tr_msg *m;
	int     r;

	tr_assert_return(data || len == 0, -EINVAL);
	r = tr_msg_new_bytes(&m, data, len);
	if (r < 0) {
		return r;
	}
	r = tr_queue_put(q, &m, timeout_ms);
	tr_msg_destroy(&m);
	return r;
}

static int flush_acks(tr_queue *q);

static int
state_call(tr_queue *q, Trwire__QueueReply **ret)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	int             r  = check(q);

	if (r < 0 || (r = flush_acks(q)) < 0) {
		return r;
	}
	op.kind = TRWIRE__QUEUE_OP__KIND__SIZE;
	return call(q, &op, ret, TR_TIMEOUT_INFINITE);
}

/* what: 0 size, 1 empty, 2 full, 3 maxsize */
static int64_t
query(tr_queue *q, int what)
{
	Trwire__QueueReply *rep = NULL;
	int64_t             v;
	int                 r = state_call(q, &rep);

	if (r < 0) {
		return r;
	}
	if (rep->kind == TR_QUEUE_SIMPLE && what != 1) {
		v = -EOPNOTSUPP;
	} else if (what == 0) {
		v = (int64_t) rep->size;
	} else if (what == 1) {
		v = rep->size == 0;
	} else if (what == 2) {
		v = rep->maxsize && rep->size >= rep->maxsize;
	} else {
		v = (int64_t) rep->maxsize;
	}
	trwire__queue_reply__free_unpacked(rep, NULL);
	return v;
}

int64_t
tr_queue_qsize(tr_queue *q)
{
	return query(q, 0);
}

int
tr_queue_empty(tr_queue *q)
{
	return (int) query(q, 1);
}

int
tr_queue_full(tr_queue *q)
{
	return (int) query(q, 2);
}

int64_t
tr_queue_maxsize(tr_queue *q)
{
	return query(q, 3);
}

int
tr_queue_close(tr_queue *q)
{
	return simple_call(
	    q, TRWIRE__QUEUE_OP__KIND__CLOSE, TR_TIMEOUT_INFINITE);
}

int
tr_queue_shutdown(tr_queue *q, bool immediate)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	int             r  = check(q);

	if (r < 0) {
		return r;
	}
	op.kind      = TRWIRE__QUEUE_OP__KIND__SHUTDOWN;
	op.immediate = immediate;
	return call(q, &op, NULL, TR_TIMEOUT_INFINITE);
}

/* The broker's page (queue-page.c), asked for at the first task_done
 * of a handle that has no ring (a ring's answer brings it too) unless
 * TROUPE_QUEUE_SHM=0 or the broker is on another host.  Any failure
 * leaves task_done on messages. */
static void
page_open(tr_queue *q)
{
	Trwire__QueueOp     op  = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueReply *rep = NULL;

	q->page_tried = true;
	if (!shm_ok(q)) {
		return;
	}
	op.kind = TRWIRE__QUEUE_OP__KIND__PAGE;
	if (call(q, &op, &rep, TR_TIMEOUT_INFINITE) < 0) {
		return;
	}
	page_attach(q, rep->page_fd);
	trwire__queue_reply__free_unpacked(rep, NULL);
}

int
tr_queue_task_done(tr_queue *q)
{
	int r = check(q);

	if (r < 0) {
		return r;
	}
	if (q->dead) {
		return q->dead;
	}
	if (!q->page_tried) {
		page_open(q);
	}
	if (q->page) {
		bool wake = false;

		/* one decrement in the broker's memory; at 0 the broker
		 * judges (below): it may not have taken a ring's last
		 * records in yet */
		if (tri_queue_page_done(q->page, &wake) == 0) {
			if (wake) {
				send_wake(q);
			}
			if (tri_queue_page_alive(q->page) < 0) {
				q->dead = TR_EDEAD;
				return TR_EDEAD;
			}
			return 0;
		}
	}
	return simple_call(
	    q, TRWIRE__QUEUE_OP__KIND__TASK_DONE, TR_TIMEOUT_INFINITE);
}

int
tr_queue_join(tr_queue *q, int timeout_ms)
{
	Trwire__QueueReply *rep = NULL;
	int                 r;

	tr_assert_return(timeout_ok(timeout_ms), -EINVAL);
	if (timeout_ms > 0 || timeout_ms == TR_TIMEOUT_INFINITE) {
		r = simple_call(q, TRWIRE__QUEUE_OP__KIND__JOIN, timeout_ms);
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	/* check once: the broker's count now */
	r = state_call(q, &rep);
	if (r < 0) {
		return r;
	}
	r = rep->kind != TR_QUEUE_JOINABLE ? -EOPNOTSUPP
	    : rep->unfinished              ? -ETIMEDOUT
	                                   : 0;
	trwire__queue_reply__free_unpacked(rep, NULL);
	return r;
}

/* ---- getting ------------------------------------------------------------ */

/* One-way CREDIT: ack items taken, ask for more up to the window. */
static int
credit(tr_queue *q, unsigned ack)
{
	Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;
	tr_msg         *m;
	unsigned more = q->credit < q->window ? q->window - q->credit : 0;
	int      r;

	if (ack == 0 && more == 0) {
		return 0;
	}
	op.kind     = TRWIRE__QUEUE_OP__KIND__CREDIT;
	op.consumer = q->id;
	op.ack      = ack;
	op.credit   = more;
	r           = tr_msg_new_pb(&m, &op.base);
	if (r < 0) {
		return r;
	}
	r = tr_send(q->broker, &m, TR_TIMEOUT_INFINITE);
	tr_msg_destroy(&m);
	if (r < 0) {
		return died(q, r);
	}
	q->credit += more;
	return 0;
}

/* Send the acknowledgements of the items got so far (with more credit). */
static int
flush_acks(tr_queue *q)
{
	unsigned n = q->unacked;
	int      r;

	if (n == 0 || q->dead) {
		return 0;
	}
	r = credit(q, n);
	if (r == 0) {
		q->unacked = 0;
	}
	return r;
}

static bool
match_push(const tr_msg *m, void *arg)
{
	const tr_queue *q = arg;
	tr_down         d;

	if (tr_msg_is_system(m)) {
		return tr_msg_down(m, &d) == 0 && d.ref == q->mon;
	}
	return tr_msg_correlation(m) == q->id &&
	    tr_addr_eq(tr_msg_sender(m), q->broker) &&
	    strcmp(tr_msg_type(m), TRI_QUEUE_ITEM_TYPE) == 0;
}

/* The consumer's ring (queue-cring.c), asked for at the first get or
 * poll unless TROUPE_QUEUE_SHM=0 or the broker is on another host.  The
 * broker writes nothing to it before we set our window there.  Any
 * failure leaves the handle on pushes by message. */
static void
cr_open(tr_queue *q)
{
	Trwire__QueueOp     op  = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueReply *rep = NULL;

	q->cr_tried = true;
	if (!shm_ok(q)) {
		return;
	}
	op.kind     = TRWIRE__QUEUE_OP__KIND__CONSUME;
	op.consumer = q->id;
	if (call(q, &op, &rep, TR_TIMEOUT_INFINITE) < 0) {
		return;
	}
	if (rep->ring_size == TRI_QUEUE_RING_DATA) {
		if (tri_queue_creader_attach(&q->cr, q->broker, rep->ring_fd) ==
		    0) {
			atomic_store(&q->cr.ring->window, q->window);
			send_wake(q); /* it may hold items for us */
			page_attach(q, rep->page_fd);
		} else {
			tr_msg *m = NULL;

			/* the broker made us a ring we cannot map: forget
			 * it there (in order, before our first CREDIT) */
			tr_log(TR_LOG_DEBUG, "queue: no consumer ring");
			op.kind = TRWIRE__QUEUE_OP__KIND__BYE;
			if (tr_msg_new_pb(&m, &op.base) == 0) {
				(void) tr_send(
				    q->broker, &m, TRI_QUEUE_SEND_MS);
			}
			tr_msg_destroy(&m);
		}
	}
	trwire__queue_reply__free_unpacked(rep, NULL);
}

/* Ready to take pushes: a monitor of the broker and credit asked for
 * (or a ring). */
static int
prime(tr_queue *q)
{
	int r;

	if (!q->mon) {
		r = tr_monitor(q->broker, &q->mon);
		if (r < 0) {
			return r;
		}
	}
	if (!q->cr_tried) {
		cr_open(q);
	}
	if (q->cr.ring || q->dead) {
		return 0;
	}
	return q->credit ? 0 : credit(q, 0);
}

/* Wait for a push (into q->batch) or the broker's DOWN. */
static int
wait_push(tr_queue *q, int timeout_ms)
{
	tr_msg *m = NULL;
	int     r;

	if (q->batch) {
		return 0;
	}
	r = tr_recv_match(&m, match_push, q, timeout_ms);
	if (r < 0) {
		return r;
	}
	if (tr_msg_is_system(m)) {
		tr_msg_destroy(&m);
		q->mon  = 0;
		q->dead = TR_EDEAD;
		return TR_EDEAD;
	}
	r = tr_msg_unpack(m, &trwire__queue_item__descriptor,
	    (ProtobufCMessage **) &q->batch);
	tr_msg_destroy(&m);
	if (r < 0) {
		return r;
	}
	q->next = 0;
	if (q->batch->error || q->batch->n_items == 0) {
		q->end = q->batch->error ? q->batch->error : q->end;
		trwire__queue_item__free_unpacked(q->batch, NULL);
		q->batch = NULL;
		return q->end ? q->end : -EAGAIN;
	}
	return 0;
}

/* Wait, and with timeout 0 ask the broker once: it answers SYNC after
 * sending what it can, and its messages arrive in order. */
static int
wait_or_sync(tr_queue *q, int timeout_ms)
{
	int r = wait_push(q, timeout_ms);

	if ((r == -EAGAIN || r == -ETIMEDOUT) && timeout_ms == 0) {
		r = simple_call(
		    q, TRWIRE__QUEUE_OP__KIND__SYNC, TR_TIMEOUT_INFINITE);
		if (r == 0) {
			r = wait_push(q, 0);
		}
	}
	return r == -EAGAIN || r == -ETIMEDOUT ? 0 : r < 0 ? r : 1;
}

/* The next item of the batch into *ret, acknowledged. */
static int
take(tr_queue *q, tr_msg **ret)
{
	Trwire__QueueEntry *e = q->batch->items[q->next];
	tr_msg             *m = NULL;
	int                 r;

	r = tr_msg_new_bytes(&m, e->item.data, e->item.len);
	if (r == 0) {
		r = tr_msg_set_type(m, e->item_type);
	}
	if (r < 0) {
		tr_msg_destroy(&m);
		return r; /* the item stays for the next get */
	}
	q->credit--;
	q->unacked++;
	if (++q->next == q->batch->n_items) {
		trwire__queue_item__free_unpacked(q->batch, NULL);
		q->batch = NULL;
	}
	/* acknowledged in groups, the group sent before the caller sees
	 * its last item: a consumer killed after a get returned loses to
	 * the others (as duplicates) at most the TRI_QUEUE_ACK_BATCH items
	 * it got since its last acknowledgement; when nothing more is here
	 * it acknowledges at once, so a bounded queue's room frees as in
	 * Python */
	if (q->unacked >= TRI_QUEUE_ACK_BATCH || !q->batch) {
		r = flush_acks(q);
		if (r < 0) {
			tr_msg_destroy(&m);
			return r;
		}
	}
	*ret = m;
	return 0;
}

/* ---- getting from the consumer's ring ----------------------------------- */

/* Wait up to timeout_ms for a record on the ring: 1 there is one, 0 not
 * (timeout), or the error a get fails with (the end the broker sent, its
 * death, a bad ring).  With nothing here at the timeout it asks the
 * broker once (SYNC: it writes what it can before it answers).  It
 * sleeps only after setting "sleeping" and seeing the ring still empty,
 * so the broker's next record comes with a WAKE; a timeout leaves it
 * set, so that tr_wait() sees the mailbox when a record comes. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Look at the ring again for TRI_QUEUE_SPIN_NS, yielding the CPU (the
 * broker may share it), before a sleep that costs it a WAKE message. */
static bool
ring_spin(tr_queue *q)
{
	int64_t end = now_ns() + TRI_QUEUE_SPIN_NS;

	do {
		if (atomic_load_explicit(&q->cr.ring->tail,
		        memory_order_relaxed) != q->cr.head) {
			return true;
		}
		sched_yield();
	} while (now_ns() < end);
	return false;
}

static int
ring_wait(tr_queue *q, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? tr_deadline(timeout_ms) : -1;
	bool    synced   = false, fetch;

	for (;;) {
		int r = tri_queue_creader_peek(&q->cr, &fetch), left;

		if (r != 0) {
			return r;
		}
		if (q->end || q->dead) {
			return q->end ? q->end : q->dead;
		}
		if (atomic_load(&q->cr.ring->state) == TRI_QUEUE_RING_DEAD) {
			return TR_EBADFRAME; /* the broker stopped it */
		}
		left = timeout_ms == TR_TIMEOUT_INFINITE ? TR_TIMEOUT_INFINITE
		    : timeout_ms == 0                    ? 0
		                      : tr_deadline_left(deadline);
		if (left == 0) {
			if (synced) {
				return tri_queue_creader_sleep(&q->cr) ? 1 : 0;
			}
			synced = true;
			r      = simple_call(q, TRWIRE__QUEUE_OP__KIND__SYNC,
			         TR_TIMEOUT_INFINITE);
			if (r < 0) {
				return r;
			}
			(void) wait_push(q, 0); /* an end it sent first */
			continue;
		}
		if (ring_spin(q) || tri_queue_creader_sleep(&q->cr)) {
			continue;
		}
		r = wait_push(q, left);
		tri_queue_creader_awake(&q->cr);
		if (r == TR_EDEAD) {
			return r;
		}
	}
}

/* Fetch the item of the marker at head (too big for the ring). */
static int
fetch_item(tr_queue *q, tr_msg **ret)
{
	Trwire__QueueOp     op  = TRWIRE__QUEUE_OP__INIT;
	Trwire__QueueReply *rep = NULL;
	tr_msg             *m   = NULL;
	int                 r;

	op.kind     = TRWIRE__QUEUE_OP__KIND__FETCH;
	op.consumer = q->id;
	op.offset   = q->cr.head;
	r           = call(q, &op, &rep, TR_TIMEOUT_INFINITE);
	if (r < 0) {
		return r;
	}
	r = tr_msg_new_bytes(&m, rep->item.data, rep->item.len);
	if (r == 0) {
		r = tr_msg_set_type(m, rep->item_type);
	}
	trwire__queue_reply__free_unpacked(rep, NULL);
	if (r < 0) {
		tr_msg_destroy(&m);
		return r;
	}
	*ret = m;
	return 0;
}

/* The record at head into *ret, then head moved past it: acknowledged
 * before get returns (a failure leaves it for the next get). */
static int
ring_take(tr_queue *q, tr_msg **ret)
{
	tr_msg *m = NULL;
	bool    fetch;
	int     r = tri_queue_creader_peek(&q->cr, &fetch);

	if (r != 1) {
		return r == 0 ? TR_EEMPTY : r;
	}
	r = fetch ? fetch_item(q, &m) : tri_queue_creader_copy(&q->cr, &m);
	if (r < 0) {
		return r;
	}
	if (tri_queue_creader_advance(&q->cr)) {
		send_wake(q);
	}
	*ret = m;
	return 0;
}

static int
ring_get(tr_queue *q, tr_msg **ret, int timeout_ms)
{
	int r = ring_wait(q, timeout_ms);

	if (r == 0) {
		return TR_EEMPTY;
	}
	return r < 0 ? r : ring_take(q, ret);
}

int
tr_queue_get(tr_queue *q, tr_msg **ret, int timeout_ms)
{
	int r = check(q);

	if (r < 0) {
		return r;
	}
	tr_assert_return(ret && timeout_ok(timeout_ms), -EINVAL);
	if (q->cr.ring) {
		return ring_get(q, ret, timeout_ms);
	}
	if (!q->batch && (q->end || q->dead)) {
		return q->end ? q->end : q->dead;
	}
	r = prime(q);
	if (r == 0 && q->cr.ring) {
		return ring_get(q, ret, timeout_ms);
	}
	if (r == 0) {
		r = wait_or_sync(q, timeout_ms);
	}
	if (r == 0) {
		return TR_EEMPTY;
	}
	return r < 0 ? r : take(q, ret);
}

int
tr_queue_poll(tr_queue *q, int timeout_ms)
{
	int r = check(q);

	if (r < 0) {
		return r;
	}
	tr_assert_return(timeout_ok(timeout_ms), -EINVAL);
	if (!q->cr.ring && (q->batch || q->end || q->dead)) {
		return 1;
	}
	r = prime(q);
	if (r == 0 && q->cr.ring) {
		r = ring_wait(q, timeout_ms);
		/* a get would fail at once: that is ready too */
		return r < 0 && (r == q->end || r == q->dead) ? 1 : r;
	}
	if (r == 0) {
		r = wait_or_sync(q, timeout_ms);
	}
	/* a get would fail at once: that is ready too */
	return q->end || q->dead ? 1 : r;
}

int
tr_queue_ready(void *q)
{
	return tr_queue_poll(q, 0);
}

void
tr_queue_destroy(tr_queue **qp)
{
	tr_queue *q = qp ? *qp : NULL;
	tr_msg   *m = NULL;

	if (!q) {
		return;
	}
	if (q->owner == getpid() && !q->dead &&
	    (q->mon || q->ring.ring || q->cr.ring)) {
		Trwire__QueueOp op = TRWIRE__QUEUE_OP__INIT;

		/* what was sent to us and not got goes back to the queue;
		 * pushes already here are dropped */
		(void) flush_acks(q); /* what we got is not to go back */
		op.kind     = TRWIRE__QUEUE_OP__KIND__BYE;
		op.consumer = q->id;
		op.producer = q->ring.ring ? q->id : 0;
		if (tr_msg_new_pb(&m, &op.base) == 0) {
			(void) tr_send(q->broker, &m, 1000);
		}
		tr_msg_destroy(&m);
		if (q->mon) {
			(void) tr_demonitor(q->mon);
		}
		while (tr_recv_match(&m, match_push, q, 0) == 0) {
			tr_msg_destroy(&m);
		}
	}
	if (q->batch) {
		trwire__queue_item__free_unpacked(q->batch, NULL);
	}
	tri_queue_local_detach(&q->ring);
	tri_queue_creader_detach(&q->cr);
	if (q->page) {
		tri_queue_page_unmap(q->page);
		close(q->page_pidfd);
	}
	if (q->owner == getpid()) {
		stop_sup(&q->sup);
	}
	free(q);
	*qp = NULL;
}
