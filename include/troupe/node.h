/* SPDX-License-Identifier: MIT */
#ifndef TR_NODE_H
#define TR_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/common.h"
#include "troupe/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- nodes (distribution) -------------------------------------------------
 * A node is a troupe run reachable over TCP: one node agent process (a
 * daemon child of the process that called tr_node_start(), or of `troupe
 * node`) that listens on a TCP endpoint, connects to the other nodes it is
 * given or learns of, and carries messages between this run's actors and
 * theirs.  Once a run has a node, every process of the run can send to,
 * call, monitor and link with actors of the other nodes exactly as with
 * local ones (tr_send(), tr_call(), tr_monitor(), tr_link()), and start
 * registered actors there (tr_node_spawn()).
 *
 * Addresses: an actor of another node has that node's id in its address's
 * node field (the local run's actors keep node 0 in their own addresses;
 * the node agent puts its id in the sender of what leaves the node).  A
 * node's id is tr_node_id(name): the 32-bit FNV-1a hash of its name (never
 * 0).  The text form stays "node.pid.incarnation", e.g.
 * "2166136261.4242.1234567" (docs/distribution.md).
 *
 * Security: with curve_secret_key set, the node's identity is its CurveZMQ
 * key pair: it accepts connections only from the public keys in
 * allowed_keys (a ZAP handler checks each one and logs refusals) and
 * connects to peers only by their public keys.  Without CURVE a node may
 * listen on a loopback address only (tcp://127.x.x.x or tcp://[::1]). */

#define TR_NODE_NAME_MAX 64
#define TR_NODE_KEY_LEN  40 /* a Z85 CURVE key, without the NUL */

typedef struct tr_node_options {
	/* This node's name (letters, digits, "._-"); required. */
	const char *name;
	/* tcp:// endpoint to listen on; NULL: "tcp://127.0.0.1:*" (an
	 * ephemeral loopback port; tr_node_endpoint() tells which). */
	const char *listen;
	/* Peers to join, as "tcp://host:port" without CURVE or
	 * "tcp://host:port#PUBLICKEY" (Z85) with it; NULL-terminated; may
	 * be NULL.  Peers they know are learnt from them. */
	const char *const *peers;
	/* Time to declare a silent peer node lost (ZMTP heartbeats every
	 * third of it); 0: 3000 ms.  A node that closes its connections
	 * (killed, stopped) is seen lost at once. */
	int detect_ms;
	/* CURVE: this node's secret and public keys (Z85, 40 characters);
	 * NULL: no CURVE (loopback only). */
	const char *curve_secret_key;
	const char *curve_public_key;
	/* Public keys (Z85) allowed to connect; NULL-terminated.  With CURVE
	 * and no list, nobody can connect. */
	const char *const *allowed_keys;
	/* A cluster label that must match on both sides (not security: it
	 * keeps two test clusters apart); NULL: "". */
	const char *cookie;
	/* Messages for a known node that is not up (lost, stopped, not yet
	 * reconnected) wait in a queue per node, in order, and go out when
	 * it comes back.  queue_max: at most this many wait per node (0:
	 * 10000; -1: no queue, they are dropped at once); more are dropped.
	 * queue_ms: each waits at most this long (0: 10000 ms), then it is
	 * dropped.  Dropped ones are counted (tr_node_stats.unreachable) and
	 * their senders get a notice (tr_msg_node_notice()). */
	int queue_max;
	int queue_ms;
} tr_node_options;

typedef struct tr_node tr_node;

/* Start this run's node agent (one per run) and wait up to timeout_ms until
 * it listens.  opts NULL or zero-initialised except name means defaults.
 * The caller owns *ret and ends it with tr_node_stop().  Blocks.  Errors:
 * -EINVAL (no name, bad endpoint or key, or a non-loopback endpoint without
 * CURVE), TR_EEXISTS (this run already has a node), TR_ESTARTFAIL (the
 * agent failed: bind error, ...; logged), -ETIMEDOUT, -ENOMEM. */
TR_API int tr_node_start(
    const tr_node_options *opts, tr_node **ret, int timeout_ms);
/* Stop the node: it tells its peers (who see it lost at once: their
 * monitors of its actors get DOWN noconnection), stops the actors it
 * started for other nodes, and exits.  NULL-safe; sets *np to NULL. */
TR_API void tr_node_stop(tr_node **np);
/* The endpoint the node listens on (with the real port), borrowed. */
TR_API const char *tr_node_endpoint(const tr_node *n);
/* The node agent's process id (to watch or, in tests, kill it). */
TR_API pid_t tr_node_agent_pid(const tr_node *n);

/* The id of the node called name (its addresses' node field). */
TR_API uint32_t tr_node_id(const char *name);

/* Start registered actor `actor` on node `node` (a name; "" or NULL: this
 * node) with a copy of args, and put its address (node field set) in
 * *ret.  Blocks up to timeout_ms.  Only names registered in that node's
 * program start; no code travels.  Errors: TR_EBADADDR (this run has no
 * node, or no such node is connected), TR_ENOACTOR (not registered there),
 * TR_ESTARTFAIL, -ETIMEDOUT, TR_EDEAD (that node was lost meanwhile). */
TR_API int tr_node_spawn(const char *node, const char *actor, const void *args,
    size_t len, tr_addr *ret, int timeout_ms);

/* The address others reach a of this run's actors by: a with this run's
 * node id in its node field (a remote a is returned as is).  Put it in
 * payloads meant for other nodes.  Processes of this run may use it too:
 * sends, calls, monitors and links to it go straight to the actor, as to
 * a itself (and handles opened by it use the same-host fast paths).
 * Errors: TR_EBADADDR (no node). */
TR_API int tr_node_global_addr(tr_addr a, tr_addr *ret);

typedef struct tr_node_stats {
	uint64_t sent;         /* messages forwarded to other nodes */
	uint64_t received;     /* messages from other nodes delivered here */
	uint64_t dead_letters; /* for actors (incarnations) not alive here */
	uint64_t unreachable;  /* for nodes not connected: dropped */
	uint64_t refused;      /* connections refused by the key check */
	uint64_t dropped;      /* malformed, spoofed, mailbox full too long */
	uint64_t lost;         /* sent by a peer, never came (sequence gaps) */
	/* of sent and received: on direct connections between an actor and
	 * a remote mailbox, not through the node agents (distribution.md) */
	uint64_t direct_sent;
	uint64_t direct_received;
	int      peers_up; /* peer nodes connected now */
	int      peers_known;
	uint64_t gaps;           /* gap notices given to this run's actors */
	uint64_t queued;         /* waited for their node to come up, sent */
	uint64_t names;          /* cluster-wide names known on the node */
	uint64_t name_conflicts; /* claims that lost a conflict there */
} tr_node_stats;

/* Counters of node `node` (NULL or "": this run's node).  Blocks up to
 * timeout_ms.  Errors: TR_EBADADDR, -ETIMEDOUT. */
TR_API int tr_node_stats_get(
    const char *node, tr_node_stats *ret, int timeout_ms);

/* Whether node `node` is connected now (ids learnt, link up).  Blocks up
 * to timeout_ms asking this run's agent.  Returns 1 or 0, or TR_EBADADDR
 * (no node here), -ETIMEDOUT. */
TR_API int tr_node_is_up(const char *node, int timeout_ms);

/* ---- cluster-wide names --------------------------------------------------
 * A name registered with tr_node_register_global() is known on every node
 * connected to this one (the nodes tell each other; no consensus protocol:
 * eventually consistent, docs/distribution.md "Cluster-wide names").  It
 * is freed when the actor ends (everywhere, as soon as the other nodes
 * hear it), when it is unregistered, and, on the other nodes, when its
 * node is lost.  When two nodes' actors claim one name (registered at
 * once, or on both sides of a partition that heals), every node keeps the
 * same one: the older registration (the owner node's CLOCK_REALTIME at
 * registration), and on a tie the lower node id; the loser's node frees
 * it (logged, counted in tr_node_stats.name_conflicts).  Names follow
 * tr_register()'s rules: letters, digits, "._-", at most 63 bytes. */

/* Register actor `who` of this run (its local or global address) under
 * `name` on every connected node.  Blocks up to timeout_ms asking this
 * run's node agent, which monitors `who`.  Registering the same name for
 * the same actor again returns 0.  Errors: -EINVAL (bad name or address),
 * TR_EEXISTS (another actor holds it, here or as far as this node knows
 * elsewhere), -ESRCH (who is not alive), TR_EBADADDR (no node in this run,
 * or who is another node's), -ENOSPC (too many names), -ETIMEDOUT. */
TR_API int tr_node_register_global(
    const char *name, tr_addr who, int timeout_ms);
/* Give up `name`, held by an actor of this run.  Blocks up to timeout_ms.
 * Errors: TR_ENOTFOUND (no actor of this run holds it), -EINVAL,
 * TR_EBADADDR (no node), -ETIMEDOUT. */
TR_API int tr_node_unregister_global(const char *name, int timeout_ms);
/* The actor registered under `name` anywhere in the cluster, as this
 * node knows it: an address to use with tr_send(), tr_call(),
 * tr_monitor() (node 0 if it is this run's).  Blocks up to timeout_ms.
 * Errors: TR_ENOTFOUND, -EINVAL, TR_EBADADDR (no node), -ETIMEDOUT. */
TR_API int tr_node_whereis_global(
    const char *name, tr_addr *ret, int timeout_ms);

/* ---- notices from the node ------------------------------------------------
 * The node agent tells an actor, with a system message in its mailbox
 * (tr_msg_is_system() is true; an actor that ignores system messages
 * loses nothing else), when messages between it and another node's actor
 * were lost: never silently.
 * - TR_NODE_NOTICE_GAP: `count` messages that `peer` sent to this actor
 *   were lost on the way (a connection torn down with messages in flight,
 *   or the test fault hook); per-pair sequence numbers make the count
 *   exact.  It comes just before the first message after the gap, so it
 *   is seen only once `peer` sends again.
 * - TR_NODE_NOTICE_QUEUE_FULL / _EXPIRED: `count` messages this actor sent
 *   to `peer` were dropped: its node was down and its queue full
 *   (tr_node_options.queue_max) or they waited queue_ms. */
enum {
	TR_NODE_NOTICE_GAP           = 0,
	TR_NODE_NOTICE_QUEUE_FULL    = 1,
	TR_NODE_NOTICE_QUEUE_EXPIRED = 2,
};

typedef struct tr_node_notice {
	int      kind;                   /* TR_NODE_NOTICE_* */
	tr_addr  peer;                   /* the other actor (global address) */
	char     node[TR_NODE_NAME_MAX]; /* its node's name */
	uint64_t count;                  /* messages lost or dropped */
	uint64_t first; /* GAP: first lost per-pair sequence number */
} tr_node_notice;

/* If m is a notice from the node agent, fill *ret and return 0.  Does not
 * block.  Errors: TR_EBADTYPE (another message), TR_EBADFRAME (does not
 * decode), -EINVAL. */
TR_API int tr_msg_node_notice(const tr_msg *m, tr_node_notice *ret);
/* Send SIGTERM or SIGKILL (signo) to `who`, an actor that node `who.node`
 * started for another node (tr_node_spawn()), through that node's agent:
 * how a supervisor stops its children on other nodes.  The agent signals
 * only the actors it started so, and only the incarnation named.  Blocks
 * up to timeout_ms (twice: the lookup, then the request).  Returns 0 once
 * sent (not once it ended: monitor it for that).  Errors: -EINVAL (another
 * signal), TR_EBADADDR (no node here, `who` is of this node, or its node
 * is not connected), -ESRCH (not alive there, or not started for another
 * node), -ETIMEDOUT, TR_EDEAD. */
TR_API int tr_node_signal(tr_addr who, int signo, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TR_NODE_H */
