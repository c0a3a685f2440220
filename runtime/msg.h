/* SPDX-License-Identifier: MIT */
/* Internal: the message object and the envelope codec. */
#ifndef TRI_MSG_H
#define TRI_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include <zmq.h>

#include "troupe/msg.h"

#define TRI_TYPE_MAX 128
#define TRI_ENV_MAX  512 /* largest envelope we produce or accept */

/* DIRECT: came on the direct path between nodes (node-direct.h) */
enum { TRI_FLAG_REPLY = 1, TRI_FLAG_SYSTEM = 2, TRI_FLAG_DIRECT = 4 };

struct tri_env {
	tr_addr  sender, recipient, reply_to;
	uint64_t id, correlation;
	uint32_t flags;
	char     type[TRI_TYPE_MAX];
	uint8_t  trace_id[16];
	uint64_t span_id, lamport;
	int64_t  send_time_ns;
};

struct tr_msg {
	struct tri_env env;
	zmq_msg_t      payload;
	struct tr_msg *next; /* receive queue */
};

/* Pure codec (no I/O, no global state): fuzzable. */
int tri_env_encode(const struct tri_env *e, uint8_t *buf, size_t cap);
/* The same bytes in two parts: fields 1-2, then 3-10 (a sender caches the
 * first part per peer). */
int tri_env_encode_addrs(
    tr_addr sender, tr_addr recipient, uint8_t *buf, size_t cap);
int tri_env_encode_rest(const struct tri_env *e, uint8_t *buf, size_t cap);
int tri_env_decode(const uint8_t *buf, size_t len, struct tri_env *ret);

tr_msg *tri_msg_alloc(void);
bool    tri_type_known(const char *type);
int     tri_msg_new_system(tr_msg **ret, const struct ProtobufCMessage *pb);

#endif /* TRI_MSG_H */
