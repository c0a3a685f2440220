/* SPDX-License-Identifier: MIT */
/* Internal: an actor's account of itself (trwire.ActorInfoReq/ActorInfo,
 * proto/ps.proto), system messages handled by the runtime thread
 * (protocol.c), so that an actor busy in its own code still answers.  The
 * node agent asks (node-ps.c) to list its run's actors with their mailbox
 * depths and starters. */
#ifndef TRI_ACTOR_INFO_H
#define TRI_ACTOR_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

struct tri_ainfo {
	uint64_t queued, received, sent;
	uint32_t parent_pid;
	bool     daemon;
	char     actor[64], identity[64];
};

/* In protocol.c's handler: answer an ActorInfoReq m (from this run only:
 * one from another node is dropped and logged at debug level). */
void tri_ainfo_answer(const tr_msg *m);
/* In protocol.c's handler: keep the ActorInfo m for tri_ainfo_take() (one
 * from another node is dropped: only this run's actors are asked).
 * TR_EBADFRAME if it does not decode. */
int tri_ainfo_record(const tr_msg *m);
/* Ask `to` (a local actor) for its ActorInfo: one datagram, never blocks
 * for long.  0 or -errno. */
int tri_ainfo_ask(tr_addr to);
/* The answer of `from`, if it came: 1 and *ret set (and forgotten), or 0. */
int tri_ainfo_take(tr_addr from, struct tri_ainfo *ret);
/* Forget the answers kept (before asking anew: late answers to an earlier
 * round are not kept for ever). */
void tri_ainfo_clear(void);
/* Forget every answer kept (a fork child, or a closed mailbox). */
void tri_ainfo_forget(void);

#endif /* TRI_ACTOR_INFO_H */
