/* SPDX-License-Identifier: MIT */
/* Connections to the mailbox, tied to their peers' pids. */
#include "conns.h"

#include <string.h>
#include <sys/socket.h>

#include <zmq.h>

#include "alloc.h"

struct conn {
	int      fd;
	uint32_t pid;
};

static struct conn *conns; /* runtime thread only */
static size_t       nconns, capconns;

static void
conn_add(int fd)
{
	struct ucred cred;
	socklen_t    len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		return;
	}
	if (nconns == capconns) {
		size_t       ncap = capconns ? capconns * 2 : 16;
		struct conn *c    = tri_realloc(conns, ncap * sizeof(*c));

		if (!c) {
			return;
		}
		conns    = c;
		capconns = ncap;
	}
	conns[nconns++] = (struct conn) { fd, (uint32_t) cred.pid };
}

static void
conn_del(int fd)
{
	for (size_t i = 0; i < nconns; i++) {
		if (conns[i].fd == fd) {
			conns[i] = conns[--nconns];
			return;
		}
	}
}

bool
tri_conns_live(uint32_t pid)
{
	for (size_t i = 0; i < nconns; i++) {
		if (conns[i].pid == pid) {
			return true;
		}
	}
	return false;
}

void
tri_conns_serve(void *mon)
{
	for (;;) {
		zmq_msg_t f;
		uint16_t  ev;
		uint32_t  val;
		int       more;

		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f);
			return;
		}
		more = zmq_msg_more(&f);
		if (zmq_msg_size(&f) >= 6) {
			memcpy(&ev, zmq_msg_data(&f), 2);
			memcpy(&val, (char *) zmq_msg_data(&f) + 2, 4);
			if (ev == ZMQ_EVENT_ACCEPTED) {
				conn_add((int) val);
			} else if (ev == ZMQ_EVENT_DISCONNECTED) {
				conn_del((int) val);
			}
		}
		zmq_msg_close(&f);
		while (more) { /* the endpoint frame */
			zmq_msg_init(&f);
			if (zmq_msg_recv(&f, mon, 0) < 0) {
				more = 0;
			} else {
				more = zmq_msg_more(&f);
			}
			zmq_msg_close(&f);
		}
	}
}

void
tri_conns_forget(void)
{
	tri_free(conns);
	conns  = NULL;
	nconns = capconns = 0;
}
