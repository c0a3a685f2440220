/* SPDX-License-Identifier: MIT */
/* The runtime-to-runtime protocol: Fin/FinAck, Link/LinkAck, Unlink. */
#include "protocol.h"

#include <pthread.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "actor-info.h"
#include "alloc.h"
#include "inbox.h"
#include "log.h"
#include "loop.h"
#include "mailbox.h"
#include "node-direct.h"
#include "node.pb-c.h"
#include "rlive.h"
#include "transport.h"
#include "troupe.pb-c.h"
#include "watch.h"

struct ack {
	tr_addr from;
	int     kind; /* enum tri_ack_kind */
};

struct deferred {
	tr_addr from;
	bool    link; /* else unlink */
};

static pthread_mutex_t  lock = PTHREAD_MUTEX_INITIALIZER; /* the lists */
static struct ack      *acks;
static size_t           nacks, capacks;
static struct deferred *defer; /* Link/Unlink the actor's thread read */
static size_t           ndefer, capdefer;

bool
tri_proto_accepts(const char *type)
{
	static const char *const ok[] = { "trwire.Link", "trwire.Unlink",
		"trwire.Fin", "trwire.FinAck", "trwire.LinkAck",
		"trwire.RemoteDown", "trwire.ActorInfoReq",
		"trwire.ActorInfo" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(type, ok[i]) == 0) {
			return true;
		}
	}
	/* the direct path's (node-direct.h) */
	return strcmp(type, "trwire.DirectSync") == 0 ||
	    strcmp(type, "trwire.DirectSyncAck") == 0 ||
	    strcmp(type, "trwire.DirectEnd") == 0;
}

static tr_addr
addr_of(const Trwire__Addr *a)
{
	return a ? (tr_addr) { a->node, a->pid, a->incarnation } : TR_ADDR_NULL;
}

/* An answer (FinAck, LinkAck) goes out on a socket of its own that is
 * closed at once: the reaper delivers it in the background, so a request
 * naming a process that never binds (forged) costs nothing but a socket
 * lingering 1 s. */
static void
send_ack(tr_addr to, const ProtobufCMessage *ack)
{
	uint8_t env[TRI_ENV_MAX];
	char    ep[PATH_MAX + 8];
	tr_msg *m;
	void   *s;
	int     n, linger = 1000;

	if (tri_transport_endpoint(to, ep, sizeof(ep), true) < 0 ||
	    tri_msg_new_system(&m, ack) < 0) {
		return;
	}
	m->env.sender    = tri_self_cached();
	m->env.recipient = to;
	m->env.lamport   = tri_lamport_next();
	n                = tri_env_encode(&m->env, env, sizeof(env));
	s                = zmq_socket(tri_mailbox_ctx(), ZMQ_PUSH);
	if (s && n > 0) {
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
		if (zmq_connect(s, ep) == 0 &&
		    zmq_send(s, env, (size_t) n, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
		        n) {
			(void) zmq_msg_send(&m->payload, s, ZMQ_DONTWAIT);
		}
	}
	if (s) {
		zmq_close(s);
	}
	tr_msg_destroy(&m);
}

void
tri_proto_send(tr_addr to, const ProtobufCMessage *pb)
{
	send_ack(to, pb);
}

void
tri_proto_send_finack(tr_addr to)
{
	Trwire__FinAck ack = TRWIRE__FIN_ACK__INIT;

	send_ack(to, &ack.base);
}

static void
record_ack(tr_addr from, int kind)
{
	pthread_mutex_lock(&lock);
	if (nacks == capacks) {
		size_t      ncap = capacks ? capacks * 2 : 8;
		struct ack *a    = tri_realloc(acks, ncap * sizeof(*a));

		if (!a) {
			pthread_mutex_unlock(&lock);
			return;
		}
		acks    = a;
		capacks = ncap;
	}
	acks[nacks++] = (struct ack) { from, kind };
	pthread_mutex_unlock(&lock);
	tri_inbox_wake(); /* an exit handshake or a tr_link() may wait */
}

/* Links are the runtime thread's: read by the actor's thread, they wait
 * for it (it acts on a link from the dead as on any other: in order). */
static void
link_in(tr_addr from, bool link)
{
	if (tri_loop_in_thread()) {
		if (link) {
			tri_watch_link_in(from);
		} else {
			tri_watch_unlink_in(from);
		}
		return;
	}
	pthread_mutex_lock(&lock);
	if (ndefer == capdefer) {
		size_t           ncap = capdefer ? capdefer * 2 : 8;
		struct deferred *d    = tri_realloc(defer, ncap * sizeof(*d));

		if (!d) {
			pthread_mutex_unlock(&lock);
			tr_log(TR_LOG_ERROR, "out of memory: a link was lost");
			return;
		}
		defer    = d;
		capdefer = ncap;
	}
	defer[ndefer++] = (struct deferred) { from, link };
	pthread_mutex_unlock(&lock);
	tri_loop_kick();
}

void
tri_proto_apply_deferred(void)
{
	struct deferred d;

	for (;;) {
		pthread_mutex_lock(&lock);
		if (ndefer == 0) {
			pthread_mutex_unlock(&lock);
			return;
		}
		d = defer[0];
		memmove(defer, defer + 1, --ndefer * sizeof(d));
		pthread_mutex_unlock(&lock);
		if (d.link) {
			tri_watch_link_in(d.from);
		} else {
			tri_watch_unlink_in(d.from);
		}
	}
}

int
tri_proto_handle(tr_msg *m, tr_addr *finacks, size_t *nfin)
{
	ProtobufCMessage *pb;
	int               r = 0;

	/* the direct path's (node-direct.h) */
	if (strcmp(m->env.type, "trwire.DirectEnd") == 0) {
		if (m->env.sender.node != 0) { /* from another node only */
			tri_direct_end_in(m);
		}
		tr_msg_destroy(&m);
		return 0;
	}
	if (strncmp(m->env.type, "trwire.DirectSync", 17) == 0) {
		if (strcmp(m->env.type, "trwire.DirectSync") == 0) {
			tri_direct_sync_in(m);
		} else {
			tri_direct_ack_in(m);
		}
		tr_msg_destroy(&m);
		return 0;
	}
	if (strcmp(m->env.type, "trwire.Fin") == 0) {
		finacks[(*nfin)++] = m->env.sender;
	} else if (strcmp(m->env.type, "trwire.FinAck") == 0) {
		record_ack(m->env.sender, TRI_ACK_FIN);
	} else if (strcmp(m->env.type, "trwire.LinkAck") == 0) {
		record_ack(m->env.sender, TRI_ACK_LINK);
	} else if (strcmp(m->env.type, "trwire.ActorInfoReq") == 0) {
		tri_ainfo_answer(m); /* actor-info.c */
	} else if (strcmp(m->env.type, "trwire.ActorInfo") == 0) {
		r = tri_ainfo_record(m);
	} else if (tr_msg_unpack(m, &trwire__link__descriptor, &pb) == 0) {
		Trwire__LinkAck ack  = TRWIRE__LINK_ACK__INIT;
		tr_addr         from = addr_of(((Trwire__Link *) pb)->from);

		link_in(from, true);
		if (tr_addr_eq(from, m->env.sender)) {
			send_ack(from, &ack.base);
		}
		protobuf_c_message_free_unpacked(pb, NULL);
	} else if (tr_msg_unpack(m, &trwire__remote_down__descriptor, &pb) ==
	    0) {
		Trwire__RemoteDown *d = (Trwire__RemoteDown *) pb;

		tri_rlive_down(d->token, d->exitcode, (int) d->exit_class);
		protobuf_c_message_free_unpacked(pb, NULL);
	} else if (tr_msg_unpack(m, &trwire__unlink__descriptor, &pb) == 0) {
		link_in(addr_of(((Trwire__Unlink *) pb)->from), false);
		protobuf_c_message_free_unpacked(pb, NULL);
	} else {
		r = TR_EBADFRAME; /* the caller counts and logs it */
	}
	tr_msg_destroy(&m);
	return r;
}

bool
tri_proto_acked(tr_addr a, int kind, bool consume)
{
	bool r = false;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nacks && !r; i++) {
		r = acks[i].kind == kind && tr_addr_eq(acks[i].from, a);
		if (r && consume) {
			acks[i] = acks[--nacks];
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void
tri_proto_forget(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	lock = fresh; /* a fork child: another thread may have held it */
	tri_free(acks);
	acks  = NULL;
	nacks = capacks = 0;
	tri_free(defer);
	defer  = NULL;
	ndefer = capdefer = 0;
	tri_ainfo_forget();
}
