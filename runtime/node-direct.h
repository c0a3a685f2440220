/* SPDX-License-Identifier: MIT */
/* The direct path between nodes (docs/distribution.md "Direct
 * connections"): once a sender on one node knows that an actor on another
 * node has read everything it sent through the node agents, it connects a
 * socket straight to that actor's mailbox over TCP and sends there, one
 * hop instead of three.  The agents keep everything else: liveness (DOWN
 * noconnection), remote starts, watches, hellos and the cookie.
 *
 * How a pair switches, without reordering: the sender sends DirectSync
 * (a token) to the actor through the agents, behind its earlier messages.
 * The actor's runtime, on reading it (so after everything before it),
 * makes its mailbox accept TCP too and answers DirectSyncAck with that
 * endpoint.  If the sender sent nothing through the agents since the
 * DirectSync, it switches; else it sends another DirectSync and waits
 * for its answer (once, bounded) before it sends anything else, then
 * switches.  A pair never switches back while both ends live; a direct
 * connection that breaks makes the sender start again on the agent path.
 *
 * The run's node agent enables it by writing <rundir>/node.direct (the
 * listen host, the node id, and two shared counters), and does not when
 * CURVE is on, the fault hook is on, the listen address is a wildcard, or
 * TROUPE_NODE_DIRECT=0 is in its environment. */
#ifndef TRI_NODE_DIRECT_H
#define TRI_NODE_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

/* ---- the node agent ---- */
/* Write <rundir>/node.direct for node id listening on endpoint ep
 * ("tcp://host:port"), unless the direct path is off for this node (then
 * 0 and nothing is written; why is logged).  -errno if it cannot. */
int  tri_direct_publish(uint32_t id, const char *ep, bool curve);
void tri_direct_unpublish(void);
/* What this run's processes sent and received on the direct path. */
void tri_direct_counts(
    uint64_t *ret_sent, uint64_t *ret_received, uint64_t *ret_lost);

/* ---- the receiving side (the mailbox's runtime) ---- */
/* A DirectSync read from the mailbox socket (the caller holds it):
 * listen on TCP if not yet, and answer its sender. */
void tri_direct_sync_in(const tr_msg *m);
/* tri_direct_received(): in inbox.h. */

/* ---- the sending side (peer.c) ---- */
struct tri_direct;
/* The answer to one of our DirectSyncs. */
void tri_direct_ack_in(const tr_msg *m);

enum tri_direct_step {
	TRI_DIRECT_STAY, /* send on the agent path */
	TRI_DIRECT_ASK,  /* send, then send a DirectSync (tri_direct_asked) */
	TRI_DIRECT_WAIT, /* send a DirectSync now and tri_direct_wait() */
	TRI_DIRECT_GO,   /* tri_direct_connect(), then send there */
};
/* Before a user message to `to` (on another node) goes on the agent path,
 * after `sent` messages went there: what to do.  *dp is made on first use
 * (NULL and TRI_DIRECT_STAY when the direct path is off). */
int tri_direct_step(struct tri_direct **dp, tr_addr to, uint64_t sent);
/* A fresh token for a DirectSync. */
uint64_t tri_direct_token(void);
/* A DirectSync with token was sent (ASK); the peer has now sent `sent`
 * messages on the agent path. */
void tri_direct_asked(struct tri_direct *d, uint64_t token, uint64_t sent);
/* Wait (up to ms, at most 1 s, or until live_fd fires) for the answer to
 * token.  true if it came with an endpoint (then tri_direct_connect()). */
bool tri_direct_wait(struct tri_direct *d, uint64_t token, int live_fd, int ms);
/* Connect a PUSH socket to the endpoint learnt (waits until it is
 * connected, up to ms, at most 1 s).  0 and *ret_sock, or -errno (the
 * agent path stays, and the switch is tried again later). */
int tri_direct_connect(struct tri_direct *d, int hwm, int ms, void **ret_sock);
/* The direct connection broke (a send to it cannot go out). */
bool tri_direct_broken(struct tri_direct *d);
/* This node's id, and the sender and recipient fields as they go on the
 * direct path (sender global, recipient local). */
uint32_t tri_direct_node_id(void);
/* Make a message's local addresses global for the direct path (reply_to,
 * the `from` of Link/Unlink), and flag it. */
void tri_direct_outgoing(tr_msg *m);
/* One message went out on the direct path (the run's shared count). */
void tri_direct_count_sent(void);
/* Free d; close_sockets false in a fork child (the parent's). */
void tri_direct_free(struct tri_direct **dp, bool close_sockets);
/* In a fork child: forget the parent's state (not the shared counters). */
void tri_direct_forked(void);

/* The receiving side of a broken direct connection (trwire.DirectEnd), in
 * the mailbox's ingest (its lock held).  tri_direct_from() counts a user
 * message that came on a direct connection from `sender`; tri_direct_end_in()
 * notes a DirectEnd (its count) from one; once the socket is drained,
 * tri_direct_settle() makes a GAP notice (node-notice.h) for the first
 * sender that said it sent more than came, in *ret (NULL: none left), and
 * counts the difference as lost (tr_node_stats.lost). */
void tri_direct_from(tr_addr sender);
void tri_direct_end_in(const tr_msg *m);
int  tri_direct_settle(tr_msg **ret);

#endif /* TRI_NODE_DIRECT_H */
