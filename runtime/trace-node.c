/* SPDX-License-Identifier: MIT */
/* Node events for the trace: the node agent's link thread reports the
 * state of each peer node, and a change becomes a nodeup or nodedown event
 * of the agent's process (docs/trace.md).  ZMTP heartbeats say nothing
 * before the timeout that ends a connection, so there is no "suspect"
 * state to report: a node is up, or it was lost. */
#include <stdio.h>
#include <string.h>

#include "trace.h"
#include "util.h"

#define NODES_MAX 128

/* The last state reported per peer node id: only the link thread calls. */
static struct {
	uint32_t id;
	bool     up;
} nodes[NODES_MAX];
static int nnodes;

void
tri_trace_node_self(const char *name)
{
	if (tri_trace_ctl->magic == TRI_TRACE_CTL_MAGIC) {
		tri_strlcpy(tri_trace_ctl->node, name ? name : "",
		    sizeof(tri_trace_ctl->node));
	}
}

void
tri_trace_node_state(
    uint32_t id, tr_addr agent, const char *name, bool up, const char *why)
{
	char what[TR_TRACE_WHAT_MAX];
	int  i;

	for (i = 0; i < nnodes && nodes[i].id != id; i++) { }
	if (i == nnodes) {
		if (!up || nnodes == NODES_MAX) {
			return; /* never up: nothing was lost */
		}
		nodes[nnodes++].id = id;
	} else if (nodes[i].up == up) {
		return;
	}
	nodes[i].up = up;
	if (!tri_trace_on()) {
		return;
	}
	if (up) {
		tri_strlcpy(what, name, sizeof(what));
	} else {
		snprintf(
		    what, sizeof(what), "%s: %s", name, why ? why : "lost");
	}
	tri_trace_emit(up ? TR_TRACE_NODEUP : TR_TRACE_NODEDOWN, agent, 0,
	    (int64_t) id, what);
}
