/* SPDX-License-Identifier: MIT */
/* An actor's account of itself (actor-info.h). */
#include "actor-info.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "alloc.h"
#include "inbox.h"
#include "log.h"
#include "peer.h"
#include "protocol.h"
#include "ps.pb-c.h"
#include "runtime.h"
#include "troupe/actor.h"
#include "util.h"

#define KEEP_MAX 4096 /* answers kept at most (a flood of forged ones) */

struct kept {
	tr_addr          from;
	struct tri_ainfo info;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept    *kept;
static size_t          nkept, capkept;

void
tri_ainfo_answer(const tr_msg *m)
{
	Trwire__ActorInfo a = TRWIRE__ACTOR_INFO__INIT;
	tr_mailbox_stats  st;
	tr_addr           to = m->env.sender;

	if (to.node != 0) {
		tr_log(TR_LOG_DEBUG,
		    "ActorInfoReq from another node (%u) ignored",
		    (unsigned) to.node);
		return;
	}
	tri_inbox_stats(&st);
	a.queued     = st.queued;
	a.received   = st.received;
	a.sent       = tri_peer_sent_total();
	a.parent_pid = tri_rt.is_child ? (uint32_t) tr_self_parent_pid() : 0;
	a.actor      = tri_rt.actor;
	a.identity   = tri_rt.identity;
	a.daemon     = tri_rt.daemon;
	tri_proto_send(to, &a.base);
}

int
tri_ainfo_record(const tr_msg *m)
{
	Trwire__ActorInfo *a;
	struct kept        k;

	if (m->env.sender.node != 0) {
		return 0; /* only this run's actors are asked */
	}
	if (tr_msg_unpack(m, &trwire__actor_info__descriptor,
	        (ProtobufCMessage **) &a) < 0) {
		return TR_EBADFRAME;
	}
	memset(&k, 0, sizeof(k));
	k.from            = m->env.sender;
	k.info.queued     = a->queued;
	k.info.received   = a->received;
	k.info.sent       = a->sent;
	k.info.parent_pid = a->parent_pid;
	k.info.daemon     = a->daemon;
	tri_strlcpy(k.info.actor, a->actor, sizeof(k.info.actor));
	tri_strlcpy(k.info.identity, a->identity, sizeof(k.info.identity));
	protobuf_c_message_free_unpacked(&a->base, NULL);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nkept; i++) {
		if (tr_addr_eq(kept[i].from, k.from)) {
			kept[i] = k; /* the latest answer */
			pthread_mutex_unlock(&lock);
			return 0;
		}
	}
	if (nkept == capkept && capkept < KEEP_MAX) {
		size_t       ncap = capkept ? capkept * 2 : 16;
		struct kept *nk   = tri_realloc(kept, ncap * sizeof(*nk));

		if (nk) {
			kept    = nk;
			capkept = ncap;
		}
	}
	if (nkept < capkept) {
		kept[nkept++] = k;
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

int
tri_ainfo_ask(tr_addr to)
{
	Trwire__ActorInfoReq q = TRWIRE__ACTOR_INFO_REQ__INIT;

	tri_proto_send(to, &q.base);
	return 0;
}

int
tri_ainfo_take(tr_addr from, struct tri_ainfo *ret)
{
	int r = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nkept && !r; i++) {
		if (tr_addr_eq(kept[i].from, from)) {
			*ret    = kept[i].info;
			kept[i] = kept[--nkept];
			r       = 1;
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void
tri_ainfo_forget(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	lock = fresh; /* a fork child: another thread may have held it */
	tri_free(kept);
	kept  = NULL;
	nkept = capkept = 0;
}

void
tri_ainfo_clear(void)
{
	pthread_mutex_lock(&lock);
	nkept = 0;
	pthread_mutex_unlock(&lock);
}
