/* SPDX-License-Identifier: MIT */
/* Internal: the node agent (issue 13).  node.c is the public API (the
 * caller's side), node-agent.c the agent actor's body and its requests,
 * node-link.c the link thread that owns every socket to other nodes and
 * forwards messages both ways, node-auth.c the ZAP handler. */
#ifndef TRI_NODE_INT_H
#define TRI_NODE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "troupe/node.h"

#define TRI_NODE_EP_MAX    256
#define TRI_NODE_PEERS_MAX 64
#define TRI_NODE_ALLOW_MAX 64

struct tri_node_conf {
	char name[TR_NODE_NAME_MAX];
	char listen[TRI_NODE_EP_MAX];
	char peers[TRI_NODE_PEERS_MAX][TRI_NODE_EP_MAX]; /* "ep" or "ep#key" */
	int  npeers;
	int  detect_ms;
	char secret[TR_NODE_KEY_LEN + 1]; /* "" without CURVE */
	char public[TR_NODE_KEY_LEN + 1];
	char allow[TRI_NODE_ALLOW_MAX][TR_NODE_KEY_LEN + 1];
	int  nallow;
	char cookie[64];
	int  queue_max; /* per node that is down; 0: no queue */
	int  queue_ms;
};

/* The configuration as the agent's arguments ("key=value" lines) and back;
 * both check it.  Errors: -EINVAL (logged), -ENOMEM. */
int  tri_node_conf_from_opts(const tr_node_options *o, struct tri_node_conf *c);
int  tri_node_conf_encode(const struct tri_node_conf *c, char **ret);
int  tri_node_conf_decode(const char *text, struct tri_node_conf *c);
bool tri_node_name_ok(const char *name);
bool tri_node_endpoint_loopback(const char *ep);

/* What the link thread shares with the agent's request loop. */
struct tri_node_peer_info {
	char     name[TR_NODE_NAME_MAX];
	uint32_t id;
	bool     up;
	tr_addr  agent; /* global */
};

struct tri_node_shared {
	pthread_mutex_t           lock;
	struct tri_node_peer_info peers[TRI_NODE_PEERS_MAX];
	int                       npeers;
	tr_node_stats             st;
};

struct tri_node_link;

/* Make and bind the sockets (in the caller's thread), then run the link
 * thread.  Errors: -errno/zmq's (logged). */
int tri_node_link_start(const struct tri_node_conf *c, uint32_t id,
    tr_addr agent, struct tri_node_shared *sh, struct tri_node_link **ret,
    char *ret_endpoint, size_t n);
/* Say goodbye to the peers, stop the thread, close and free. */
void tri_node_link_stop(struct tri_node_link **lp);

/* The agent actor's body (registered as "troupe.node" by node.c, so that
 * a static link that uses the API brings the agent in). */
int tri_node_agent_main(const void *args, size_t len);

/* ZAP (node-auth.c): answer one request on the handler socket; allowed
 * says whether a Z85 key may connect.  Returns 1 if allowed, 0 if refused,
 * -errno. */
int tri_node_zap_serve(void *zap, const struct tri_node_conf *c);

/* node.c: the agent of node (NULL/"": this run's, as a local address),
 * asking this run's agent.  TR_EBADADDR if no such node is up. */
int tri_node_agent_of(const char *node, int timeout_ms, tr_addr *ret);

/* node-ps.c: answer a trwire.NodePsReq in the agent (this run's actors,
 * asked for their ActorInfo, up to about a second). */
void tri_node_ps_serve(const char *node, uint32_t id, const tr_msg *m);

#endif /* TRI_NODE_INT_H */
