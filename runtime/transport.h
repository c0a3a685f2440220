/* SPDX-License-Identifier: MIT */
/* The transport seam: where an address's mailbox is and how a socket
 * reaches it, chosen by the address's node.  Node 0 (this run, this host)
 * is ipc:// in the runtime directory; tcp:// with CURVE for remote nodes
 * plugs in here. */
#ifndef TRI_TRANSPORT_H
#define TRI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "troupe/msg.h"

struct tri_transport {
	const char *name;
	/* The mailbox endpoint of a ("ipc://..."), or with_scheme false the
	 * filesystem path, if any.  Errors: -ENAMETOOLONG, -ENOENT. */
	int (*endpoint)(tr_addr a, char *buf, size_t n, bool with_scheme);
	/* Socket options for a sender's socket to a, after the defaults. */
	int (*setup_sender)(void *sock, tr_addr a);
};

/* The transport that reaches node, or NULL (TR_EBADADDR for callers). */
const struct tri_transport *tri_transport_for(uint32_t node);

/* Shorthand: the endpoint of a through its transport. */
int tri_transport_endpoint(tr_addr a, char *buf, size_t n, bool with_scheme);

#endif /* TRI_TRANSPORT_H */
