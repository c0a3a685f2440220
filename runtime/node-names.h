/* SPDX-License-Identifier: MIT */
/* Internal: cluster-wide names (issue 13), kept by the node agent's
 * request loop (node-agent.c).  Each agent holds the table of every name
 * it knows: its own run's (it monitors the actors) and its peers' (from
 * their claims).  Agents tell each other with plain messages to each
 * other's mailbox: trwire.NodeNameClaim when a name is registered and,
 * with every name, when a peer comes up; trwire.NodeNameDrop when one is
 * freed.  A peer node lost takes its names with it.  Conflicts: the older
 * registration wins, then the lower node id (docs/distribution.md). */
#ifndef TRI_NODE_NAMES_H
#define TRI_NODE_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "node-int.h"
#include "troupe/msg.h"

#define TRI_NODE_NAMES_MAX 100000

struct tri_node_name {
	char     name[TR_NODE_NAME_MAX];
	tr_addr  addr; /* global: addr.node is the owner node */
	int64_t  since_ms;
	uint64_t ref; /* this node's: the monitor of the actor */
};

struct tri_node_names_peer {
	uint32_t id;
	bool     up;
	tr_addr  agent;
};

struct tri_node_names {
	uint32_t                   id; /* this node's */
	char                       self[TR_NODE_NAME_MAX];
	struct tri_node_name      *e;
	size_t                     n, cap;
	uint64_t                   conflicts;
	struct tri_node_names_peer seen[TRI_NODE_PEERS_MAX];
	int                        nseen;
};

void tri_node_names_init(
    struct tri_node_names *t, uint32_t id, const char *self);
void tri_node_names_free(struct tri_node_names *t);
/* The message types the agent must register to receive. */
void tri_node_names_register_types(void);
/* Serve m if it is about names (a request of this run, a claim or drop of
 * a peer, the DOWN of a named actor): returns true if it was. */
bool tri_node_names_serve(
    struct tri_node_names *t, struct tri_node_shared *sh, const tr_msg *m);
/* Follow the peers' states: drop the names of those lost, send ours to
 * those that came up. */
void tri_node_names_tick(struct tri_node_names *t, struct tri_node_shared *sh);

#endif /* TRI_NODE_NAMES_H */
