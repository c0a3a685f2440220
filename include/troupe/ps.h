/* SPDX-License-Identifier: MIT */
#ifndef TR_PS_H
#define TR_PS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/msg.h"
#include "troupe/node.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what runs on a node: `troupe ps` and `troupe tree` -------------------
 * tr_node_ps() asks a node agent (this run's, or through it another
 * node's) for the actors of its run: every mailbox in the run's directory,
 * with what each actor's runtime says of itself (mailbox depth, counters,
 * starter, registered name), and the run's names.  The starter of each
 * actor gives the supervision tree (a supervisor starts its children).
 * docs/distribution.md "ps and tree through a node". */

#define TR_PS_TEXT_MAX 64

typedef struct tr_ps_actor {
	tr_addr  addr;       /* node field: the node's id */
	uint32_t parent_pid; /* its starter; 0 if not known */
	bool     alive;
	/* answered: its runtime answered in time (else the counters and the
	 * strings below it are 0 / "", and parent_pid is /proc's parent) */
	bool     answered;
	bool     daemon;
	uint64_t queued; /* mailbox depth: messages waiting to be received */
	uint64_t received, sent;
	char     comm[TR_PS_TEXT_MAX];     /* /proc/PID/comm */
	char     actor[TR_PS_TEXT_MAX];    /* registered name; "" in main */
	char     identity[TR_PS_TEXT_MAX]; /* "1:2": place among siblings */
} tr_ps_actor;

typedef struct tr_ps_name {
	char    name[TR_PS_TEXT_MAX];
	tr_addr addr;
} tr_ps_name;

typedef struct tr_ps {
	char         node[TR_NODE_NAME_MAX];
	uint32_t     id;
	uint32_t     run_pid; /* the run's main program */
	size_t       nactors;
	tr_ps_actor *actors; /* sorted by pid */
	size_t       nnames;
	tr_ps_name  *names;
} tr_ps;

/* Ask node `node` (NULL or "": this run's node; else a node connected to
 * it) what runs there.  Each actor has up to about a second to answer for
 * itself (a stopped or wedged one is listed unanswered).  Blocks up to
 * timeout_ms.  The caller owns *ret and frees it with tr_ps_free().
 * Errors: TR_EBADADDR (this run has no node, or no such node is up),
 * -ETIMEDOUT, TR_EDEAD (the node was lost meanwhile), -ENOMEM,
 * TR_EBADFRAME (an answer that does not decode). */
TR_API int tr_node_ps(const char *node, tr_ps **ret, int timeout_ms);
/* NULL-safe; sets *p to NULL. */
TR_API void tr_ps_free(tr_ps **p);

/* The nodes this run's node knows, in the order it met them: the peers it
 * was given first (so, once it is known, the node it joined through is the
 * first), then the ones it learnt.  Up to max go in ret.  Blocks up to
 * timeout_ms.  Returns how many it knows (may be more than max), or
 * TR_EBADADDR (no node here), -ETIMEDOUT. */
typedef struct tr_node_peer {
	char     name[TR_NODE_NAME_MAX];
	uint32_t id;
	bool     up;
} tr_node_peer;

TR_API int tr_node_peers(tr_node_peer *ret, int max, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TR_PS_H */
