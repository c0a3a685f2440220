/* SPDX-License-Identifier: MIT */
/* Internal: notices the node agent puts in an actor's mailbox (issue 13):
 * a gap in what another node's actor sent it, or its own messages dropped
 * while their node was down (trwire.NodeNotice, tr_msg_node_notice()). */
#ifndef TRI_NODE_NOTICE_H
#define TRI_NODE_NOTICE_H

#include <stdbool.h>
#include <stdint.h>

#include "troupe/msg.h"

#define TRI_NODE_NOTICE_TYPE "trwire.NodeNotice"

/* A notice for actor `to` (local) about `peer` (global) of node `node`:
 * a system message, sender peer.  Errors: -ENOMEM. */
int tri_node_notice_new(tr_msg **ret, int kind, tr_addr to, tr_addr peer,
    const char *node, uint64_t count, uint64_t first);

/* Whether a system message that came into a mailbox is a notice to queue
 * for the actor (the inbox keeps it in order with the user messages):
 * its type, and a sender of another node (the agent sets it). */
bool tri_node_notice_is(const tr_msg *m);

#endif /* TRI_NODE_NOTICE_H */
