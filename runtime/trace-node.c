/* SPDX-License-Identifier: MIT */
/* Node events for the trace: the node agent's link thread reports the
 * state of each peer node, and a change becomes a nodeup or nodedown event
 * of the agent's process (docs/trace.md).  ZMTP heartbeats say nothing
 * before the timeout that ends a connection, so the link sends pings of
 * its own (trwire.NodePing) and calls a peer it has heard nothing from for
 * half the detection time suspect: a nodesuspect event, then noderesumed
 * if it is heard again before it is lost. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trace.h"
#include "util.h"

#define NODES_MAX 128

/* The last state reported per peer node id: only the link thread calls. */
static struct {
	uint32_t id;
	bool     up, suspect;
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
	nodes[i].up      = up;
	nodes[i].suspect = false;
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

void
tri_trace_node_suspect(uint32_t id, tr_addr agent, const char *name,
    bool suspect, int64_t silent_ms)
{
	char what[TR_TRACE_WHAT_MAX];
	int  i;

	for (i = 0; i < nnodes && nodes[i].id != id; i++) { }
	if (i == nnodes || !nodes[i].up || nodes[i].suspect == suspect) {
		return;
	}
	nodes[i].suspect = suspect;
	if (!tri_trace_on()) {
		return;
	}
	if (suspect) {
		snprintf(what, sizeof(what), "%s: silent %" PRId64 " ms", name,
		    silent_ms);
	} else {
		tri_strlcpy(what, name, sizeof(what));
	}
	tri_trace_emit(suspect ? TR_TRACE_NODESUSPECT : TR_TRACE_NODERESUMED,
	    agent, 0, (int64_t) id, what);
}
