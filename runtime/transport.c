/* SPDX-License-Identifier: MIT */
/* Transports by node.  Only the local ipc transport exists today. */
#include "transport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

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

const struct tri_transport *
tri_transport_for(uint32_t node)
{
	return node == 0 ? &ipc : NULL;
}

int
tri_transport_endpoint(tr_addr a, char *buf, size_t n, bool with_scheme)
{
	const struct tri_transport *t = tri_transport_for(a.node);

	return t ? t->endpoint(a, buf, n, with_scheme) : TR_EBADADDR;
}
