/* SPDX-License-Identifier: MIT */
/* Transports by node: the local ipc one, and the node transport (every
 * other node is reached through this run's node agent, rlive.h). */
#include "transport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "rlive.h"
#include "runtime.h"

static int
ipc_endpoint(tr_addr a, char *buf, size_t n, bool with_scheme)
{
	int r = snprintf(buf, n, "%s%s/%" PRIu32 ".%" PRIu64,
	    with_scheme ? "ipc://" : "", tri_rt.rundir, a.pid, a.incarnation);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

static int
ipc_setup_sender(void *sock, tr_addr a)
{
	(void) sock;
	(void) a;
	return 0;
}

static const struct tri_transport ipc = { "ipc", ipc_endpoint,
	ipc_setup_sender };

/* Another node: the message goes to this run's node agent, which reads
 * its envelope's recipient and forwards it (runtime/node-link.c). */
static int
node_endpoint(tr_addr a, char *buf, size_t n, bool with_scheme)
{
	(void) a;
	return tri_node_gw_endpoint(buf, n, with_scheme);
}

static const struct tri_transport node = { "node", node_endpoint,
	ipc_setup_sender };

const struct tri_transport *
tri_transport_for(uint32_t nodeid)
{
	return nodeid == 0 ? &ipc : &node;
}

int
tri_transport_endpoint(tr_addr a, char *buf, size_t n, bool with_scheme)
{
	const struct tri_transport *t = tri_transport_for(a.node);

	return t ? t->endpoint(a, buf, n, with_scheme) : TR_EBADADDR;
}
