/* SPDX-License-Identifier: MIT */
/* The node's ZAP handler (ZeroMQ RFC 27): a CURVE client may connect only
 * with a public key on the node's allowlist; a refusal is logged. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "node-int.h"
#include "troupe/common.h"

#define ZAP_FRAMES                                              \
	7 /* version, id, domain, address, identity, mechanism, \
	   * credentials */

static bool
allowed(const struct tri_node_conf *c, const char *key)
{
	for (int i = 0; i < c->nallow; i++) {
		if (strcmp(c->allow[i], key) == 0) {
			return true;
		}
	}
	return false;
}

static void
reply(void *zap, const zmq_msg_t *id, const char *code, const char *text,
    const char *user)
{
	zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(
	    zap, zmq_msg_data((zmq_msg_t *) id), zmq_msg_size(id), ZMQ_SNDMORE);
	zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(zap, "", 0, 0);
}

int
tri_node_zap_serve(void *zap, const struct tri_node_conf *c)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	char      key[TR_NODE_KEY_LEN + 1] = "", addr[64] = "";
	int       n = 0, more = 1, r = 0;

	while (more && n < ZAP_FRAMES + 1) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			r = -zmq_errno();
			zmq_msg_close(&f[n]);
			break;
		}
		more = zmq_msg_more(&f[n]);
		n++;
	}
	while (more) { /* more frames than a request has: discard */
		zmq_msg_t x;

		zmq_msg_init(&x);
		(void) zmq_msg_recv(&x, zap, 0);
		more = zmq_msg_more(&x);
		zmq_msg_close(&x);
	}
	if (r < 0 && n == 0) {
		return r;
	}
	if (n >= 4) {
		size_t l = zmq_msg_size(&f[3]);

		l = l < sizeof(addr) - 1 ? l : sizeof(addr) - 1;
		memcpy(addr, zmq_msg_data(&f[3]), l);
		addr[l] = '\0';
	}
	if (n == ZAP_FRAMES && zmq_msg_size(&f[5]) == 5 &&
	    memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&f[6]) == 32) {
		zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
	}
	if (n < 2) {
		r = -EPROTO;
	} else if (key[0] && allowed(c, key)) {
		reply(zap, &f[1], "200", "OK", key);
		r = 1;
	} else {
		static char    last[TR_NODE_KEY_LEN + 1 + 64];
		static int64_t last_ms;
		char           what[sizeof(last)];

		/* a refused peer retries every reconnect interval: say it
		 * once a minute */
		snprintf(what, sizeof(what), "%s %s", key, addr);
		if (strcmp(what, last) != 0 || tr_now_ms() - last_ms > 60000) {
			tr_log(TR_LOG_WARNING,
			    "node %s: refused a connection from %s: %s%s%s",
			    c->name, addr[0] ? addr : "?",
			    key[0] ? "public key not on the allowlist: "
			           : "not a CURVE client",
			    key, "");
			memcpy(last, what, sizeof(last));
			last_ms = tr_now_ms();
		}
		reply(zap, &f[1], "400", "key not allowed", "");
		r = 0;
	}
	for (int i = 0; i < n; i++) {
		zmq_msg_close(&f[i]);
	}
	return r;
}
