/* SPDX-License-Identifier: MIT */
/* Peers: the actor's sending side.  One socket per recipient (so one
 * sender's messages to one recipient stay in order), made through the
 * recipient node's transport, with a liveness descriptor so that a send
 * to a full mailbox notices the recipient's death; and the exit
 * handshake that makes sure every live recipient took in what we sent. */
#ifndef TRI_PEER_H
#define TRI_PEER_H

#include <stdbool.h>

#include "msg.h"

struct tri_peer;

/* Send *msgp to `to` (envelope fields set here).  Ownership as tr_send().
 * *ret_live_fd, if given, gets the recipient's liveness descriptor
 * (borrowed, valid until the peer is dropped). */
int tri_peer_send(tr_addr to, tr_msg **msgp, int timeout_ms, int *ret_live_fd);
/* Forget the peer at a (closing its socket at once). */
void tri_peer_drop(tr_addr a);
int  tri_peer_linger_ms(void);
void tri_peer_set_linger(int ms);
int  tri_peer_set_capacity(int messages);
/* Before exit: send Fin to every live peer we sent to and wait, up to the
 * linger time (TR_TIMEOUT_INFINITE: as long as each lives), until each
 * confirmed.  Returns how many did not. */
int tri_peer_exit_handshake(void);
/* Close every peer socket (after the handshake: without linger). */
void     tri_peer_close_all(void);
void     tri_peer_forked(void);
uint64_t tri_peer_sent_total(void);

#endif /* TRI_PEER_H */
