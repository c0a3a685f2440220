/* SPDX-License-Identifier: MIT */
/* Liveness of remote actors, through this run's node agent. */
#include "rlive.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "inbox.h"
#include "mailbox.h"
#include "node.pb-c.h"
#include "pidfd.h"
#include "runtime.h"
#include "util.h"

struct rl {
	tr_addr    who;
	uint64_t   token;
	int        epfd, evfd;
	bool       fired;
	int        code, cls;
	struct rl *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rl      *list;
static uint64_t        next_token;
static int             agent_fd = -1; /* pidfd of the node agent */
static tr_addr         agent;
static uint32_t        agent_id; /* this run's node id (with agent_fd) */
static bool            muted;    /* a fork child tidying up: tell no one */

int
tri_node_gw_endpoint(char *buf, size_t n, bool with_scheme)
{
	int r = snprintf(
	    buf, n, "%s%s/node.gw", with_scheme ? "ipc://" : "", tri_rt.rundir);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

int
tri_node_agent(tr_addr *ret_agent, uint32_t *ret_id)
{
	char               path[PATH_MAX];
	unsigned long long pid, inc, id;
	FILE              *f;
	int                n;

	if (snprintf(path, sizeof(path), "%s/node.pid", tri_rt.rundir) >=
	    (int) sizeof(path)) {
		return TR_EBADADDR;
	}
	f = fopen(path, "re");
	if (!f) {
		return TR_EBADADDR;
	}
	n = fscanf(f, "%llu %llu %llu", &pid, &inc, &id);
	fclose(f);
	if (n != 3 || pid == 0 || pid > INT32_MAX || id == 0 ||
	    id > UINT32_MAX) {
		return TR_EBADADDR;
	}
	*ret_agent = (tr_addr) { 0, (uint32_t) pid, inc };
	if (!tr_addr_is_alive(*ret_agent)) {
		return TR_EBADADDR;
	}
	if (ret_id) {
		*ret_id = (uint32_t) id;
	}
	return 0;
}

/* Under lock: a pidfd of the live agent, opened once. */
static int
agent_pidfd(void)
{
	tr_addr  a;
	uint32_t id;
	int      r;

	if (agent_fd >= 0 && tri_poll_fd(agent_fd, POLLIN, 0) == 0) {
		return agent_fd;
	}
	r = tri_node_agent(&a, &id);
	if (r < 0) {
		return r;
	}
	agent_id = id;
	if (agent_fd >= 0) {
		tri_pidfd_close(agent_fd);
	}
	agent_fd = tri_pidfd_open((pid_t) a.pid);
	if (agent_fd >= 0 && !tr_addr_is_alive(a)) {
		tri_pidfd_close(agent_fd);
		agent_fd = -1;
		return TR_EBADADDR;
	}
	agent = a;
	return agent_fd < 0 ? TR_EBADADDR : agent_fd;
}

/* Send a RemoteWatch/RemoteUnwatch for a to the agent, on a socket of its
 * own (it is a request to the agent, not part of any pair's order). */
static int
tell_agent(tr_addr who, const ProtobufCMessage *pb, int linger)
{
	uint8_t env[TRI_ENV_MAX];
	char    ep[PATH_MAX + 8];
	tr_msg *m = NULL;
	void   *s;
	int     n, r;

	if (!tri_mailbox_ctx()) {
		return -ENOTCONN;
	}
	r = tri_node_gw_endpoint(ep, sizeof(ep), true);
	if (r < 0 || (r = tri_msg_new_system(&m, pb)) < 0) {
		return r;
	}
	m->env.sender    = tri_self_cached();
	m->env.recipient = who;
	m->env.lamport   = tri_lamport_next();
	n                = tri_env_encode(&m->env, env, sizeof(env));
	s                = zmq_socket(tri_mailbox_ctx(), ZMQ_PUSH);
	r                = -EIO;
	if (s && n > 0) {
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
		if (zmq_connect(s, ep) == 0 &&
		    zmq_send(s, env, (size_t) n, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
		        n &&
		    zmq_msg_send(&m->payload, s, ZMQ_DONTWAIT) >= 0) {
			r = 0;
		}
	}
	if (s) {
		zmq_close(s);
	}
	tr_msg_destroy(&m);
	return r;
}

/* The send path asks this for every message to another node: for a node
 * that is not ours it answers from a copy of our id taken at most
 * LOCALIZE_MS ago (no lock, no system call); our own id is always checked
 * against the live agent. */
#define LOCALIZE_MS 1000
static _Atomic uint32_t own_id;
static _Atomic int64_t  own_id_until;

tr_addr
tri_node_localize(tr_addr a)
{
	int64_t now;
	bool    ok;

	if (a.node == 0 || !tri_rt.inited) {
		return a;
	}
	now = tri_now_ms();
	if (a.node != atomic_load(&own_id) &&
	    now < atomic_load(&own_id_until)) {
		return a;
	}
	pthread_mutex_lock(&lock);
	ok = agent_pidfd() >= 0;
	if (ok) {
		atomic_store(&own_id, agent_id);
		atomic_store(&own_id_until, now + LOCALIZE_MS);
		if (agent_id == a.node) {
			a.node = 0;
		}
	}
	pthread_mutex_unlock(&lock);
	return a;
}

int
tri_rlive_open(tr_addr a)
{
	Trwire__RemoteWatch w  = TRWIRE__REMOTE_WATCH__INIT;
	struct epoll_event  ev = { .events = EPOLLIN };
	struct rl          *e;
	int                 afd, r;

	if (!tri_rt.inited) {
		return TR_EBADADDR;
	}
	e = tri_calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->who  = a;
	e->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->evfd < 0 || e->epfd < 0) {
		r = -errno;
		goto fail;
	}
	pthread_mutex_lock(&lock);
	afd = agent_pidfd();
	if (afd < 0) {
		pthread_mutex_unlock(&lock);
		r = afd;
		goto fail;
	}
	ev.data.fd = afd;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, afd, &ev) < 0) {
		r = -errno;
		pthread_mutex_unlock(&lock);
		goto fail;
	}
	ev.data.fd = e->evfd;
	(void) epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev);
	e->token = ++next_token;
	e->next  = list;
	list     = e;
	pthread_mutex_unlock(&lock);
	w.token = e->token;
	if (tell_agent(a, &w.base, 1000) < 0) {
		/* the agent cannot be asked: as if it had gone */
		tri_rlive_down(e->token, 0, TR_EXIT_NOCONNECTION);
	}
	return e->epfd;
fail:
	if (e->evfd >= 0) {
		close(e->evfd);
	}
	if (e->epfd >= 0) {
		close(e->epfd);
	}
	tri_free(e);
	return r;
}

bool
tri_rlive_owns(int fd)
{
	bool r = false;

	if (fd < 0) {
		return false;
	}
	pthread_mutex_lock(&lock);
	for (struct rl *e = list; e && !r; e = e->next) {
		r = e->epfd == fd;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void
tri_rlive_close(int fd)
{
	Trwire__RemoteUnwatch u = TRWIRE__REMOTE_UNWATCH__INIT;
	struct rl           **pp, *e = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &list; *pp; pp = &(*pp)->next) {
		if ((*pp)->epfd == fd) {
			e   = *pp;
			*pp = e->next;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	if (!e) {
		return;
	}
	if (!e->fired && !muted) {
		u.token = e->token;
		/* best effort: the agent forgets it anyway when either end
		 * dies; never hold an exit long for it */
		(void) tell_agent(e->who, &u.base, 100);
	}
	close(e->evfd);
	close(e->epfd);
	tri_free(e);
}

void
tri_rlive_learn_exit(int fd, int *ret_code, int *ret_class)
{
	*ret_code  = 0;
	*ret_class = TR_EXIT_NOCONNECTION; /* the agent ended: unknown */
	pthread_mutex_lock(&lock);
	for (struct rl *e = list; e; e = e->next) {
		if (e->epfd == fd && e->fired) {
			*ret_code  = e->code;
			*ret_class = e->cls;
		}
	}
	pthread_mutex_unlock(&lock);
}

void
tri_rlive_down(uint64_t token, int code, int cls)
{
	uint64_t one = 1;

	pthread_mutex_lock(&lock);
	for (struct rl *e = list; e; e = e->next) {
		if (e->token == token && !e->fired) {
			e->fired = true;
			e->code  = code;
			e->cls   = cls >= 0 && cls <= TR_EXIT_NOCONNECTION
			      ? cls
			      : TR_EXIT_UNKNOWN;
			(void) !write(e->evfd, &one, sizeof(one));
		}
	}
	pthread_mutex_unlock(&lock);
}

void
tri_rlive_forked(bool done)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	if (!done) {
		lock  = fresh;
		muted = true;
		return;
	}
	muted = false;
	while (list) {
		struct rl *e = list;

		list = e->next;
		close(e->evfd);
		close(e->epfd);
		tri_free(e);
	}
	if (agent_fd >= 0) {
		tri_pidfd_close(agent_fd);
		agent_fd = -1;
	}
	next_token = 0;
}
