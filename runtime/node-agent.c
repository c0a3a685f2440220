/* SPDX-License-Identifier: MIT */
/* The node agent actor, "troupe.node": starts the link thread, writes
 * <rundir>/node.pid ("pid incarnation id") and node.ep (the TCP endpoint),
 * and answers requests in its mailbox: spawn a registered actor here,
 * look a node up, counters, stop. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "log.h"
#include "node-direct.h"
#include "node-int.h"
#include "node-names.h"
#include "node.pb-c.h"
#include "ps.pb-c.h"
#include "runtime.h"
#include "trace.h"
#include "troupe/actor.h"
#include "troupe/process.h"
#include "util.h"

#define SPAWN_TIMEOUT_MS 10000

struct agent {
	struct tri_node_conf   conf;
	uint32_t               id;
	struct tri_node_shared sh;
	struct tri_node_link  *link;
	tr_process           **kids; /* started for other nodes */
	size_t                 nkids, capkids;
	bool                   stop;

	/* cluster-wide names (node-names.c) */
	struct tri_node_names names;
};

static int
write_file(const char *name, const char *text)
{
	char  path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tri_rt.rundir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", tri_rt.rundir, name);
	f = fopen(tmp, "we");
	if (!f) {
		return -errno;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		(void) unlink(tmp);
		return -EIO;
	}
	return 0;
}

static void
remove_file(const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", tri_rt.rundir, name);
	(void) unlink(path);
}

static void
reap(struct agent *ag)
{
	for (size_t i = 0; i < ag->nkids;) {
		if (!tr_process_is_alive(ag->kids[i])) {
			tr_process_destroy(&ag->kids[i]);
			ag->kids[i] = ag->kids[--ag->nkids];
		} else {
			i++;
		}
	}
}

static void
do_spawn(struct agent *ag, const tr_msg *m)
{
	Trwire__NodeSpawnRep  rep = TRWIRE__NODE_SPAWN_REP__INIT;
	Trwire__Addr          a   = TRWIRE__ADDR__INIT;
	Trwire__NodeSpawnReq *q;
	tr_process           *p = NULL;
	char                  who[TR_ADDR_STRLEN];
	int                   r;

	r = tr_msg_unpack(
	    m, &trwire__node_spawn_req__descriptor, (ProtobufCMessage **) &q);
	if (r < 0) {
		rep.error = r;
		(void) tr_reply_pb(m, &rep.base, 1000);
		return;
	}
	reap(ag);
	if (ag->nkids == ag->capkids) {
		size_t       ncap = ag->capkids ? ag->capkids * 2 : 8;
		tr_process **nk   = tri_realloc(ag->kids, ncap * sizeof(*nk));

		if (!nk) {
			r = -ENOMEM;
			goto out;
		}
		ag->kids    = nk;
		ag->capkids = ncap;
	}
	r = tr_process_new(&p, q->actor, q->args.data, q->args.len);
	if (r == 0) {
		/* a fresh exec: the child holds none of the node's sockets */
		(void) tr_process_set_start_method(p, TR_START_SPAWN);
		(void) tr_process_set_daemon(p, true);
		(void) tr_process_set_eager_mailbox(p, true);
		r = tr_process_start(p, SPAWN_TIMEOUT_MS);
	}
	tr_log(TR_LOG_INFO, "node %s: start of %s for %s: %s", ag->conf.name,
	    q->actor, tr_addr_format(tr_msg_sender(m), who, sizeof(who)),
	    r == 0 ? "started" : tr_strerror(r));
	if (r == 0) {
		a.node                = tr_msg_sender(m).node ? ag->id : 0;
		a.pid                 = (uint32_t) tr_process_pid(p);
		a.incarnation         = 0;
		rep.addr              = &a;
		ag->kids[ag->nkids++] = p;
		{
			tr_addr pa;

			if (tr_process_addr(p, &pa) == 0) {
				a.incarnation = pa.incarnation;
			}
		}
		p = NULL;
	} else if (p) {
		rep.reason = (char *) tr_process_reason(p);
	}
out:
	rep.error = r;
	(void) tr_reply_pb(m, &rep.base, 1000);
	tr_process_destroy(&p);
	protobuf_c_message_free_unpacked(&q->base, NULL);
}

static void
do_lookup(struct agent *ag, const tr_msg *m)
{
	Trwire__NodeLookupRep  rep = TRWIRE__NODE_LOOKUP_REP__INIT;
	Trwire__Addr           a   = TRWIRE__ADDR__INIT;
	Trwire__NodeLookupReq *q;

	if (tr_msg_unpack(m, &trwire__node_lookup_req__descriptor,
	        (ProtobufCMessage **) &q) < 0) {
		rep.error = TR_EBADFRAME;
		(void) tr_reply_pb(m, &rep.base, 1000);
		return;
	}
	rep.error = TR_EBADADDR;
	if ((!q->node[0] && !q->id) || q->id == ag->id ||
	    strcmp(q->node, ag->conf.name) == 0) {
		tr_addr self = tr_self();

		rep.error     = 0;
		rep.id        = ag->id;
		rep.up        = true;
		a.node        = ag->id;
		a.pid         = self.pid;
		a.incarnation = self.incarnation;
		rep.agent     = &a;
	} else {
		pthread_mutex_lock(&ag->sh.lock);
		for (int i = 0; i < ag->sh.npeers; i++) {
			struct tri_node_peer_info *p = &ag->sh.peers[i];

			if (q->id ? p->id == q->id
			          : strcmp(p->name, q->node) == 0) {
				rep.error     = 0;
				rep.id        = p->id;
				rep.up        = p->up;
				a.node        = p->agent.node;
				a.pid         = p->agent.pid;
				a.incarnation = p->agent.incarnation;
				rep.agent     = &a;
			}
		}
		pthread_mutex_unlock(&ag->sh.lock);
	}
	(void) tr_reply_pb(m, &rep.base, 1000);
	protobuf_c_message_free_unpacked(&q->base, NULL);
}

static void
do_stats(struct agent *ag, const tr_msg *m)
{
	Trwire__NodeStatsRep  rep = TRWIRE__NODE_STATS_REP__INIT;
	Trwire__NodePeerState ps[TRI_NODE_PEERS_MAX], *pp[TRI_NODE_PEERS_MAX];

	uint64_t direct_lost;

	/* the direct path's counts, in sent, received and lost too */
	tri_direct_counts(&rep.direct_sent, &rep.direct_received, &direct_lost);
	pthread_mutex_lock(&ag->sh.lock);
	rep.sent         = ag->sh.st.sent;
	rep.received     = ag->sh.st.received;
	rep.dead_letters = ag->sh.st.dead_letters;
	rep.unreachable  = ag->sh.st.unreachable;
	rep.refused      = ag->sh.st.refused;
	rep.dropped      = ag->sh.st.dropped;
	rep.lost         = ag->sh.st.lost + direct_lost;

	rep.gaps           = ag->sh.st.gaps; /* names, gaps, queues */
	rep.queued         = ag->sh.st.queued;
	rep.names          = ag->names.n;
	rep.name_conflicts = ag->names.conflicts;
	for (int i = 0; i < ag->sh.npeers; i++) {
		trwire__node_peer_state__init(&ps[i]);
		ps[i].name = ag->sh.peers[i].name;
		ps[i].id   = ag->sh.peers[i].id;
		ps[i].up   = ag->sh.peers[i].up;
		pp[i]      = &ps[i];
	}
	rep.n_peers = (size_t) ag->sh.npeers;
	rep.peers   = pp;
	rep.name    = ag->conf.name;
	rep.id      = ag->id;
	rep.sent += rep.direct_sent; /* the direct path's too */
	rep.received += rep.direct_received;
	(void) tr_reply_pb(m, &rep.base, 1000);
	pthread_mutex_unlock(&ag->sh.lock);
}

/* Signal one of the actors this agent started for other nodes: only
 * those (never the node's own), only SIGTERM or SIGKILL, only the live
 * incarnation named. */
static void
do_signal(struct agent *ag, const tr_msg *m)
{
	Trwire__NodeSignalRep  rep = TRWIRE__NODE_SIGNAL_REP__INIT;
	Trwire__NodeSignalReq *q;
	char                   who[TR_ADDR_STRLEN];

	if (tr_msg_unpack(m, &trwire__node_signal_req__descriptor,
	        (ProtobufCMessage **) &q) < 0) {
		rep.error = TR_EBADFRAME;
		(void) tr_reply_pb(m, &rep.base, 1000);
		return;
	}
	rep.error = -ESRCH;
	if (!q->who || (q->signo != SIGTERM && q->signo != SIGKILL)) {
		rep.error = -EINVAL;
	}
	reap(ag);
	for (size_t i = 0; rep.error == -ESRCH && q->who && i < ag->nkids;
	     i++) {
		tr_addr a;

		if (tr_process_addr(ag->kids[i], &a) == 0 &&
		    a.pid == q->who->pid &&
		    a.incarnation == q->who->incarnation) {
			rep.error = tr_process_signal(ag->kids[i], q->signo);
		}
	}
	tr_log(TR_LOG_INFO, "node %s: signal %d to %u for %s: %s",
	    ag->conf.name, (int) q->signo, q->who ? q->who->pid : 0,
	    tr_addr_format(tr_msg_sender(m), who, sizeof(who)),
	    rep.error == 0 ? "sent" : tr_strerror(rep.error));
	(void) tr_reply_pb(m, &rep.base, 1000);
	protobuf_c_message_free_unpacked(&q->base, NULL);
}

static void
serve(struct agent *ag, const tr_msg *m)
{
	const char *t = tr_msg_type(m);

	if (tri_node_names_serve(&ag->names, &ag->sh, m)) {
		return;
	}
	if (strcmp(t, "trwire.NodeSpawnReq") == 0) {
		do_spawn(ag, m);
	} else if (strcmp(t, "trwire.NodeLookupReq") == 0) {
		do_lookup(ag, m);
	} else if (strcmp(t, "trwire.NodeStatsReq") == 0) {
		do_stats(ag, m);
	} else if (strcmp(t, "trwire.NodePsReq") == 0) {
		tri_node_ps_serve(ag->conf.name, ag->id, m); /* node-ps.c */
	} else if (strcmp(t, "trwire.NodeSignalReq") == 0) {
		do_signal(ag, m);
	} else if (strcmp(t, "trwire.NodeStopReq") == 0) {
		Trwire__NodeStopRep rep = TRWIRE__NODE_STOP_REP__INIT;

		ag->stop = tr_msg_sender(m).node == 0; /* only from this run */
		if (ag->stop) {
			(void) tr_reply_pb(m, &rep.base, 1000);
		}
	}
}

int
tri_node_agent_main(const void *args, size_t len)
{
	static const ProtobufCMessageDescriptor *const types[] = {
		&trwire__node_spawn_req__descriptor,
		&trwire__node_lookup_req__descriptor,
		&trwire__node_stats_req__descriptor,
		&trwire__node_stop_req__descriptor,
		&trwire__node_ps_req__descriptor,
		&trwire__node_signal_req__descriptor,
	};
	struct agent *ag = tri_calloc(1, sizeof(*ag));
	char          ep[TRI_NODE_EP_MAX], line[128];
	tr_addr       self;
	int           r;

	(void) len;
	if (!ag) {
		return tr_fail(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&ag->sh.lock, NULL);
	r = tri_node_conf_decode(args, &ag->conf);
	if (r < 0) {
		tri_free(ag);
		return tr_fail(r, "bad node configuration");
	}
	ag->id = tr_node_id(ag->conf.name);
	tri_trace_node_self(ag->conf.name);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		(void) tr_msg_type_register(types[i]);
	}
	tri_node_names_register_types();
	tri_node_names_init(&ag->names, ag->id, ag->conf.name);
	r    = tr_self_bind();
	self = tr_self();
	if (r == 0) {
		r = tri_node_link_start(&ag->conf, ag->id, self, &ag->sh,
		    &ag->link, ep, sizeof(ep));
	}
	if (r < 0) {
		tri_free(ag);
		return tr_fail(r, "node %s: cannot listen on %s: %s",
		    ag->conf.name, ag->conf.listen, tr_strerror(r));
	}
	snprintf(line, sizeof(line), "%" PRIu32 " %" PRIu64 " %" PRIu32 "\n",
	    self.pid, self.incarnation, ag->id);
	r = write_file("node.ep", ep);
	if (r == 0) {
		r = write_file("node.pid", line);
	}
	if (r == 0) { /* node-direct.h */
		r = tri_direct_publish(ag->id, ep, ag->conf.secret[0] != '\0');
	}
	if (r < 0) {
		tri_node_link_stop(&ag->link);
		tri_free(ag);
		return tr_fail(r, "cannot write the node's files");
	}
	tr_log(TR_LOG_INFO, "node %s (id %" PRIu32 ") listening on %s%s",
	    ag->conf.name, ag->id, ep, ag->conf.secret[0] ? " (CURVE)" : "");
	(void) tr_ready();
	while (!ag->stop) {
		tr_msg *m = NULL;

		r = tr_recv(&m, 100);
		if (r == 0) {
			serve(ag, m);
			tr_msg_destroy(&m);
		} else if (r != -ETIMEDOUT && r != -EINTR && r != -EAGAIN) {
			break;
		}
		tri_node_names_tick(&ag->names, &ag->sh);
		reap(ag);
	}
	remove_file("node.pid");
	remove_file("node.ep");
	tri_direct_unpublish();
	tri_node_link_stop(&ag->link);
	for (size_t i = 0; i < ag->nkids; i++) {
		(void) tr_process_terminate(ag->kids[i]);
		(void) tr_process_join(ag->kids[i], 2000);
		tr_process_destroy(&ag->kids[i]);
	}
	tri_free(ag->kids);
	tri_node_names_free(&ag->names);
	pthread_mutex_destroy(&ag->sh.lock);
	tr_log(TR_LOG_INFO, "node %s stopped", ag->conf.name);
	tri_free(ag);
	return 0;
}
