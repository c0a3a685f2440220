/* SPDX-License-Identifier: MIT */
/* Connections to the mailbox: every accepted connection is tied to its
 * peer's pid (SO_PEERCRED at ZeroMQ's ACCEPTED monitor event), so the
 * runtime thread knows when a dead actor's last bytes have been read: its
 * connections are gone and the socket was read empty after.  Runtime
 * thread only. */
#ifndef TRI_CONNS_H
#define TRI_CONNS_H

#include <stdbool.h>
#include <stdint.h>

/* Take every event waiting on the mailbox's monitor socket. */
void tri_conns_serve(void *mon);
/* A process with this pid has a connection to the mailbox open. */
bool tri_conns_live(uint32_t pid);
/* Forget them all (the mailbox closed, or a fork child). */
void tri_conns_forget(void);

#endif /* TRI_CONNS_H */
