/* SPDX-License-Identifier: MIT */
/* Internal: the queue of messages for a node that is not up (issue 13),
 * one per peer node, in the link thread only; and the tally of messages
 * dropped from it, turned into notices to their senders. */
#ifndef TRI_NODE_QUEUE_H
#define TRI_NODE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "msg.h"

struct tri_node_qitem {
	struct tri_env         env; /* as it will be sent (global addresses) */
	zmq_msg_t              payload;
	int64_t                since; /* tri_now_ms() when queued */
	struct tri_node_qitem *next;
};

struct tri_node_queue {
	struct tri_node_qitem *head, *tail;
	size_t                 n;
};

/* Append a copy of e and a reference to payload.  -ENOMEM. */
int tri_node_queue_push(struct tri_node_queue *q, const struct tri_env *e,
    zmq_msg_t *payload, int64_t now);
/* Free the head. */
void tri_node_queue_pop(struct tri_node_queue *q);
void tri_node_queue_clear(struct tri_node_queue *q);

/* Messages dropped, per (sender, recipient, kind), until reported. */
struct tri_node_drop {
	tr_addr  sender, to; /* sender local (node 0), to global */
	int      kind;       /* TR_NODE_NOTICE_QUEUE_* */
	uint64_t count;
};

struct tri_node_drops {
	struct tri_node_drop *d;
	size_t                n, cap;
};

/* Count one more (merged with the last entry of the same pair and kind).
 * Out of memory the notice is lost, the drop is still counted by the
 * caller. */
void tri_node_drops_add(
    struct tri_node_drops *t, tr_addr sender, tr_addr to, int kind);
void tri_node_drops_free(struct tri_node_drops *t);

#endif /* TRI_NODE_QUEUE_H */
