/* SPDX-License-Identifier: MIT */
/* Notices from the node agent to an actor (node-notice.h). */
#include <errno.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "log.h"
#include "msg.h"
#include "node-notice.h"
#include "node.pb-c.h"
#include "troupe/node.h"
#include "util.h"

int
tri_node_notice_new(tr_msg **ret, int kind, tr_addr to, tr_addr peer,
    const char *node, uint64_t count, uint64_t first)
{
	Trwire__NodeNotice n = TRWIRE__NODE_NOTICE__INIT;
	Trwire__Addr       a = TRWIRE__ADDR__INIT;
	int                r;

	a.node        = peer.node;
	a.pid         = peer.pid;
	a.incarnation = peer.incarnation;
	n.kind        = (Trwire__NodeNoticeKind) kind;
	n.peer        = &a;
	n.node        = (char *) node;
	n.count       = count;
	n.first       = first;
	r             = tri_msg_new_system(ret, &n.base);
	if (r < 0) {
		return r;
	}
	(*ret)->env.sender    = peer;
	(*ret)->env.recipient = to;
	return 0;
}

bool
tri_node_notice_is(const tr_msg *m)
{
	return (m->env.flags & TRI_FLAG_SYSTEM) && m->env.sender.node != 0 &&
	    strcmp(m->env.type, TRI_NODE_NOTICE_TYPE) == 0;
}

int
tr_msg_node_notice(const tr_msg *m, tr_node_notice *ret)
{
	ProtobufCMessage   *pb;
	Trwire__NodeNotice *n;
	int                 r;

	tr_assert_return(m && ret, -EINVAL);
	if (!tr_msg_is_system(m) ||
	    strcmp(tr_msg_type(m), TRI_NODE_NOTICE_TYPE) != 0) {
		return TR_EBADTYPE;
	}
	r = tr_msg_unpack(m, &trwire__node_notice__descriptor, &pb);
	if (r < 0) {
		return r;
	}
	n = (Trwire__NodeNotice *) pb;
	if (!n->peer || (int) n->kind < 0 ||
	    (int) n->kind > TR_NODE_NOTICE_QUEUE_EXPIRED ||
	    strlen(n->node) >= TR_NODE_NAME_MAX) {
		protobuf_c_message_free_unpacked(pb, NULL);
		return TR_EBADFRAME;
	}
	memset(ret, 0, sizeof(*ret));
	ret->kind = (int) n->kind;
	ret->peer =
	    (tr_addr) { n->peer->node, n->peer->pid, n->peer->incarnation };
	tri_strlcpy(ret->node, n->node, sizeof(ret->node));
	ret->count = n->count;
	ret->first = n->first;
	protobuf_c_message_free_unpacked(pb, NULL);
	return 0;
}
