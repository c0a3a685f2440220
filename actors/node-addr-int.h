/* SPDX-License-Identifier: MIT */
#ifndef TR_ACTORS_NODE_ADDR_INT_H
#define TR_ACTORS_NODE_ADDR_INT_H

#include <stddef.h>

#include "troupe/msg.h" /* tr_addr */

/* Addresses of the patterns' actors across nodes (docs/distribution.md,
 * "Queue, Event and the locks across nodes").  Handles compare the sender
 * of what they receive with the actor's address, and use shared memory
 * only for node 0, so an address a handle keeps must say node 0 for an
 * actor of this run, even when it was handed over in its node-global form
 * (this run's node id). */

/* a with node 0 if a.node is this run's node id; else a unchanged (also
 * when this run has no node).  Never blocks beyond reading the run's node
 * file once per call. */
tr_addr tri_addr_localize(tr_addr a);

/* The text another node opens a by: a in its node-global form if this run
 * has a node (tr_node_global_addr), else a as it is.  buf gets at most n
 * bytes (TR_ADDR_STRLEN is enough). */
void tri_addr_format_global(tr_addr a, char *buf, size_t n);

#endif
