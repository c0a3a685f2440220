/* SPDX-License-Identifier: MIT */
/* Liveness of actors on other nodes (issue 13), behind the liveness seam:
 * a descriptor that fires when the node agent reports the actor ended (a
 * trwire.RemoteDown), or when this run's node agent itself ends (then the
 * actor's state is unknown: noconnection).  Any thread. */
#ifndef TRI_RLIVE_H
#define TRI_RLIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "troupe/msg.h"

/* The ipc endpoint of this run's node agent (for the node transport). */
int tri_node_gw_endpoint(char *buf, size_t n, bool with_scheme);
/* The node agent's pid and incarnation, from <rundir>/node.pid; and this
 * run's node id.  TR_EBADADDR when the run has no live node. */
int tri_node_agent(tr_addr *ret_agent, uint32_t *ret_id);
/* a with node 0 if a.node is this run's node id (one of this run's actors
 * in its node-global form, as handed to other nodes in payloads), else a
 * unchanged.  Any thread.  For another node's id, no system call (a copy
 * of this run's id at most a second old); for this run's id, one poll of
 * the agent's pidfd. */
tr_addr tri_node_localize(tr_addr a);

/* Asks the node agent to watch a (sends trwire.RemoteWatch) and returns a
 * descriptor (an epoll set) readable once it ended.  TR_EBADADDR without
 * a node, -errno. */
int  tri_rlive_open(tr_addr a);
bool tri_rlive_owns(int fd);
/* Closes it (and unwatches, if it has not fired). */
void tri_rlive_close(int fd);
void tri_rlive_learn_exit(int fd, int *ret_code, int *ret_class);
/* A RemoteDown arrived (protocol.c). */
void tri_rlive_down(uint64_t token, int code, int cls);
/* In a fork child: forget the parent's (closing only descriptors): once
 * before the peers and watches close theirs (done false), once after. */
void tri_rlive_forked(bool done);

#endif /* TRI_RLIVE_H */
