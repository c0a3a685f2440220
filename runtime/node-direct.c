/* SPDX-License-Identifier: MIT */
/* The direct path between nodes (node-direct.h). */
#include "node-direct.h"
#include "node-notice.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>
#include <zmq.h>

#include "alloc.h"
#include "fds.h"
#include "inbox.h"
#include "log.h"
#include "mailbox.h"
#include "node-int.h"
#include "node.pb-c.h"
#include "protocol.h"
#include "runtime.h"
#include "troupe.pb-c.h"
#include "util.h"

#define SHM_MAGIC      "trdirec1"
#define ASK_GIVEUP_MS  5000  /* an unanswered DirectSync is forgotten */
#define WAIT_MS        1000  /* the one blocking wait for an answer */
#define CONNECT_MS     1000  /* a direct connection must be up by then */
#define BACKOFF_MIN_MS 1000  /* after a failed switch, try again ... */
#define BACKOFF_MAX_MS 60000 /* ... doubling up to this */
#define ACKS_MAX       64    /* answers kept until their peer looks */

/* <rundir>/node.direct, mapped shared by every process of the run. */
struct shm {
	char             magic[8];
	uint32_t         id;
	uint32_t         curve; /* the node uses CURVE: so does the path */
	_Atomic uint32_t gone;  /* the node stopped (another may start) */
	char             host[TRI_NODE_EP_MAX]; /* "tcp://127.0.0.1" */
	_Atomic uint64_t sent, received;
	_Atomic uint64_t lost; /* on broken direct connections (DirectEnd) */
};

static size_t nfroms; /* broken direct connections, below */

struct ack {
	tr_addr  from;
	uint64_t token;
	char     ep[TRI_NODE_EP_MAX];
	char     key[TR_NODE_KEY_LEN + 1]; /* its CURVE server key, or "" */
};

/* IDLE: nothing asked (or retry later); ASKED: a DirectSync is out;
 * READY: its answer came (ep, key), the switch waits for a send that may
 * block; OFF: the recipient has no direct endpoint. */
enum { S_IDLE, S_ASKED, S_READY, S_OFF };

struct tri_direct {
	tr_addr  to;
	int      state;
	uint64_t token, sent_at;
	int64_t  asked_ms, retry_ms;
	int      backoff_ms;
	bool     broken;
	char     ep[TRI_NODE_EP_MAX];
	char     key[TR_NODE_KEY_LEN + 1];
	void    *mon; /* events of the direct socket */
};

static pthread_mutex_t   lock = PTHREAD_MUTEX_INITIALIZER; /* acks, shm */
static struct shm       *shm;
static int64_t           shm_tried_ms = -1;
static struct ack        acks[ACKS_MAX];
static size_t            nacks;
static uint64_t          next_token;
static char              my_ep[TRI_NODE_EP_MAX]; /* our mailbox's TCP one */
static char              my_key[TR_NODE_KEY_LEN + 1]; /* its CURVE key */
static const struct shm *my_for; /* the node (its file) it was made for */
static unsigned          nmon;

/* ---- the shared file ------------------------------------------------------
 */

static int
shm_path(char *buf, size_t n, const char *name)
{
	int r = snprintf(buf, n, "%s/%s", tri_rt.rundir, name);

	return r < 0 || (size_t) r >= n ? -ENAMETOOLONG : 0;
}

/* The run's node.direct, mapped (NULL: no direct path).  A missing file
 * is looked for again at most every 50 ms. */
static struct shm *
conf(void)
{
	char        path[PATH_MAX];
	struct stat st;
	struct shm *s;
	int64_t     now;
	int         fd;

	pthread_mutex_lock(&lock);
	s = shm;
	if (s && atomic_load(&s->gone)) {
		/* left mapped: another thread may still be counting in it */
		shm = s      = NULL;
		shm_tried_ms = -1;
	}
	if (s) {
		pthread_mutex_unlock(&lock);
		return s;
	}
	now = tri_now_ms();
	if (shm_tried_ms >= 0 && now - shm_tried_ms < 50) {
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	shm_tried_ms = now;
	if (shm_path(path, sizeof(path), "node.direct") == 0 &&
	    (fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
		if (fstat(fd, &st) == 0 &&
		    (size_t) st.st_size >= sizeof(struct shm)) {
			void *p = mmap(NULL, sizeof(struct shm),
			    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (p != MAP_FAILED) {
				s = p;
				if (memcmp(s->magic, SHM_MAGIC, 8) != 0 ||
				    s->id == 0 || atomic_load(&s->gone) ||
				    memchr(s->host, '\0', sizeof(s->host)) ==
				        NULL) {
					munmap(p, sizeof(struct shm));
					s = NULL;
				}
			}
		}
		close(fd);
	}
	shm = s;
	pthread_mutex_unlock(&lock);
	return s;
}

static bool
wildcard(const char *host)
{
	return strcmp(host, "tcp://*") == 0 ||
	    strcmp(host, "tcp://0.0.0.0") == 0 ||
	    strcmp(host, "tcp://[::]") == 0;
}

int
tri_direct_publish(uint32_t id, const char *ep, bool curve)
{
	char        path[PATH_MAX], tmp[PATH_MAX];
	const char *env   = getenv("TROUPE_NODE_DIRECT");
	const char *colon = strrchr(ep, ':');
	struct shm *s;
	size_t      hl = colon ? (size_t) (colon - ep) : 0;
	int         fd, r;

	if (env && strcmp(env, "0") == 0) {
		tr_log(TR_LOG_INFO,
		    "node: direct connections off "
		    "(TROUPE_NODE_DIRECT=0)");
		return 0;
	}
	if (getenv("TROUPE_NODE_FAULT")) {
		tr_log(TR_LOG_INFO,
		    "node: direct connections off (the fault "
		    "hook acts on the agent path)");
		return 0;
	}
	if (strncmp(ep, "tcp://", 6) != 0 || hl <= 6 || hl >= TRI_NODE_EP_MAX) {
		return -EINVAL;
	}
	if (shm_path(path, sizeof(path), "node.direct") < 0 ||
	    shm_path(tmp, sizeof(tmp), ".node.direct.tmp") < 0) {
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -errno;
	}
	if (ftruncate(fd, (off_t) sizeof(struct shm)) < 0) {
		r = -errno;
		close(fd);
		(void) unlink(tmp);
		return r;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (s == MAP_FAILED) {
		(void) unlink(tmp);
		return -ENOMEM;
	}
	memcpy(s->host, ep, hl);
	s->host[hl] = '\0';
	if (wildcard(s->host)) {
		tr_log(TR_LOG_INFO,
		    "node: direct connections off (listening on a wildcard "
		    "address: no address to hand out)");
		munmap(s, sizeof(*s));
		(void) unlink(tmp);
		return 0;
	}
	s->id    = id;
	s->curve = curve;
	memcpy(s->magic, SHM_MAGIC, 8);
	if (rename(tmp, path) < 0) {
		r = -errno;
		munmap(s, sizeof(*s));
		(void) unlink(tmp);
		return r;
	}
	pthread_mutex_lock(&lock);
	shm = s;
	pthread_mutex_unlock(&lock);
	return 0;
}

void
tri_direct_unpublish(void)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&lock);
	if (shm) {
		atomic_store(&shm->gone, 1);
	}
	pthread_mutex_unlock(&lock);
	if (shm_path(path, sizeof(path), "node.direct") == 0) {
		(void) unlink(path);
	}
}

void
tri_direct_counts(
    uint64_t *ret_sent, uint64_t *ret_received, uint64_t *ret_lost)
{
	struct shm *s = conf();

	*ret_sent     = s ? atomic_load(&s->sent) : 0;
	*ret_received = s ? atomic_load(&s->received) : 0;
	*ret_lost     = s ? atomic_load(&s->lost) : 0;
}

uint32_t
tri_direct_node_id(void)
{
	struct shm *s = conf();

	return s ? s->id : 0;
}

/* ---- the receiving side ---------------------------------------------------
 */

void
tri_direct_received(uint64_t n)
{
	struct shm *s = conf();

	if (s) {
		atomic_fetch_add_explicit(
		    &s->received, n, memory_order_relaxed);
	}
}

void
tri_direct_sync_in(const tr_msg *m)
{
	Trwire__DirectSyncAck ack = TRWIRE__DIRECT_SYNC_ACK__INIT;
	ProtobufCMessage     *pb;
	struct shm           *s;

	if (tr_msg_unpack(m, &trwire__direct_sync__descriptor, &pb) < 0) {
		return;
	}
	ack.token = ((Trwire__DirectSync *) pb)->token;
	protobuf_c_message_free_unpacked(pb, NULL);
	s = conf();
	if (my_ep[0] && my_for != s) {
		/* made for a node of this run that stopped; another (maybe
		 * with CURVE now, or not) took its place */
		(void) tri_inbox_unlisten_tcp(my_ep);
		my_ep[0]  = '\0';
		my_key[0] = '\0';
	}
	/* only a sender on another node (through our agent) is answered
	 * with an endpoint */
	if (s && m->env.sender.node != 0 && m->env.sender.node != s->id &&
	    !my_ep[0]) {
		/* with CURVE, a server key pair of this mailbox's own: its
		 * public half goes only to whom we answer here, senders on
		 * nodes our agent authenticated; nobody else can complete a
		 * handshake with it (CurveZMQ's HELLO is boxed to it) */
		char sec[TR_NODE_KEY_LEN + 1] = "";
		int  r                        = 0;

		if (s->curve && zmq_curve_keypair(my_key, sec) < 0) {
			r = -zmq_errno();
		}
		if (r == 0) {
			r = tri_inbox_listen_tcp(s->host, s->curve ? sec : NULL,
			    my_ep, sizeof(my_ep));
		}
		my_for = s;
		explicit_bzero(sec, sizeof(sec));
		if (r < 0) {
			my_ep[0]  = '\0';
			my_key[0] = '\0';
			tr_log(TR_LOG_WARNING,
			    "mailbox: cannot listen on %s:* for direct "
			    "connections: %s",
			    s->host, tr_strerror(r));
		}
	}
	ack.endpoint   = (s && m->env.sender.node != 0) ? my_ep : (char *) "";
	ack.server_key = ack.endpoint[0] && s->curve ? my_key : (char *) "";
	/* everything before the DirectSync has been read: the answer says
	 * so */
	tri_proto_send(m->env.sender, &ack.base);
}

/* ---- the sending side -----------------------------------------------------
 */

/* A server key as our node's mode wants it: a Z85 key with CURVE, none
 * without (a CURVE cluster never goes plain). */
static bool
key_ok(const char *key)
{
	struct shm *s = conf();
	uint8_t     raw[32];

	if (!s) {
		return false;
	}
	if (!s->curve) {
		return key[0] == '\0';
	}
	return strlen(key) == TR_NODE_KEY_LEN &&
	    zmq_z85_decode(raw, key) != NULL;
}

void
tri_direct_ack_in(const tr_msg *m)
{
	ProtobufCMessage      *pb;
	Trwire__DirectSyncAck *a;
	bool                   ok;

	if (tr_msg_unpack(m, &trwire__direct_sync_ack__descriptor, &pb) < 0) {
		return;
	}
	a  = (Trwire__DirectSyncAck *) pb;
	ok = strncmp(a->endpoint, "tcp://", 6) == 0 &&
	    strlen(a->endpoint) < TRI_NODE_EP_MAX && key_ok(a->server_key);
	pthread_mutex_lock(&lock);
	if (nacks == ACKS_MAX) { /* nobody looked for the oldest */
		memmove(&acks[0], &acks[1], (ACKS_MAX - 1) * sizeof(acks[0]));
		nacks--;
	}
	acks[nacks].from  = m->env.sender;
	acks[nacks].token = a->token;
	/* outside input: only a TCP endpoint is ever connected to */
	acks[nacks].ep[0]  = '\0';
	acks[nacks].key[0] = '\0';
	if (ok) {
		tri_strlcpy(acks[nacks].ep, a->endpoint, TRI_NODE_EP_MAX);
		tri_strlcpy(
		    acks[nacks].key, a->server_key, TR_NODE_KEY_LEN + 1);
	}
	nacks++;
	pthread_mutex_unlock(&lock);
	protobuf_c_message_free_unpacked(pb, NULL);
	tri_inbox_wake();
}

/* The answer from `from` to token, taken (with older answers from it):
 * true and ep. */
static bool
ack_take(tr_addr from, uint64_t token, char *ep, char *key)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nacks;) {
		if (tr_addr_eq(acks[i].from, from) && acks[i].token <= token) {
			if (acks[i].token == token) {
				found = true;
				tri_strlcpy(ep, acks[i].ep, TRI_NODE_EP_MAX);
				tri_strlcpy(
				    key, acks[i].key, TR_NODE_KEY_LEN + 1);
			}
			acks[i] = acks[--nacks];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

static void
backoff(struct tri_direct *d)
{
	d->state      = S_IDLE;
	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (d->backoff_ms > BACKOFF_MAX_MS) {
		d->backoff_ms = BACKOFF_MAX_MS;
	}
	d->retry_ms = tri_now_ms() + d->backoff_ms;
}

int
tri_direct_step(struct tri_direct **dp, tr_addr to, uint64_t sent)
{
	struct tri_direct *d = *dp;
	char               ep[TRI_NODE_EP_MAX], key[TR_NODE_KEY_LEN + 1];

	if (!d) {
		if (!conf() || !tri_mailbox_ctx() || tr_self_bind() < 0) {
			return TRI_DIRECT_STAY; /* asked again next time */
		}
		d = tri_calloc(1, sizeof(*d));
		if (!d) {
			return TRI_DIRECT_STAY;
		}
		d->to = to;
		*dp   = d;
	}
	switch (d->state) {
	case S_IDLE:
		return tri_now_ms() < d->retry_ms ? TRI_DIRECT_STAY
		                                  : TRI_DIRECT_ASK;
	case S_ASKED:
		if (!ack_take(d->to, d->token, ep, key)) {
			if (tri_now_ms() - d->asked_ms > ASK_GIVEUP_MS) {
				backoff(d);
			}
			return TRI_DIRECT_STAY;
		}
		if (!ep[0]) {
			d->state = S_OFF; /* it has no direct endpoint */
			return TRI_DIRECT_STAY;
		}
		tri_strlcpy(d->ep, ep, sizeof(d->ep));
		tri_strlcpy(d->key, key, sizeof(d->key));
		d->state = S_READY;
		/* fall through */
	case S_READY:
		if (sent == d->sent_at) {
			return TRI_DIRECT_GO; /* nothing sent since */
		}
		/* a full queue would not take the answer in: ask again */
		return tri_inbox_full() ? TRI_DIRECT_ASK : TRI_DIRECT_WAIT;
	default:
		return TRI_DIRECT_STAY;
	}
}

uint64_t
tri_direct_token(void)
{
	return ++next_token;
}

void
tri_direct_asked(struct tri_direct *d, uint64_t token, uint64_t sent)
{
	d->state    = S_ASKED;
	d->token    = token;
	d->sent_at  = sent;
	d->asked_ms = tri_now_ms();
}

bool
tri_direct_wait(struct tri_direct *d, uint64_t token, int live_fd, int ms)
{
	int64_t deadline;

	ms       = ms < 0 || ms > WAIT_MS ? WAIT_MS : ms;
	deadline = tri_deadline(ms);
	char ep[TRI_NODE_EP_MAX], key[TR_NODE_KEY_LEN + 1];

	for (;;) {
		struct pollfd live = { .fd = live_fd, .events = POLLIN };
		int           left, r;

		if (ack_take(d->to, token, ep, key)) {
			if (!ep[0]) {
				d->state = S_OFF;
				return false;
			}
			tri_strlcpy(d->ep, ep, sizeof(d->ep));
			tri_strlcpy(d->key, key, sizeof(d->key));
			return true;
		}
		left = tri_remaining(deadline, ms);
		if (left == 0) {
			break;
		}
		if (tri_inbox_has_mail()) {
			/* the wait would not sleep; the runtime thread
			 * reads the socket while we stay away from it */
			r            = tri_poll_fd(live_fd, POLLIN, 1);
			live.revents = r > 0 ? POLLIN : 0;
		} else {
			r = tri_inbox_wait(&live, 1, left);
		}
		if (live.revents || (r < 0 && r != -EINTR)) {
			break;
		}
	}
	backoff(d);
	return false;
}

int
tri_direct_connect(struct tri_direct *d, int hwm, int ms, void **ret_sock)
{
	char    monep[64];
	void   *s = zmq_socket(tri_mailbox_ctx(), ZMQ_PUSH), *mon = NULL;
	int     one = 1, never = -1, zero = 0, r = -ETIMEDOUT;
	int64_t deadline;

	ms       = ms < 0 || ms > CONNECT_MS ? CONNECT_MS : ms;
	deadline = tri_deadline(ms);
	if (!s) {
		backoff(d);
		return -zmq_errno();
	}
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
	/* a broken direct connection is final: what it held may be lost,
	 * and the pair starts again on the agent path */
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &never, sizeof(never));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (d->key[0]) { /* a key pair of our own: the server checks none */
		char pub[TR_NODE_KEY_LEN + 1], sec[TR_NODE_KEY_LEN + 1];

		if (zmq_curve_keypair(pub, sec) < 0) {
			zmq_close(s);
			backoff(d);
			return -zmq_errno();
		}
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, d->key, TR_NODE_KEY_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, TR_NODE_KEY_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, TR_NODE_KEY_LEN);
		explicit_bzero(sec, sizeof(sec));
	}
	snprintf(monep, sizeof(monep), "inproc://troupe-direct-%d-%u",
	    (int) tri_getpid(), nmon++);
	if (zmq_socket_monitor(s, monep,
	        ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED |
	            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0 &&
	    (mon = zmq_socket(tri_mailbox_ctx(), ZMQ_PAIR)) != NULL) {
		zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
		if (zmq_connect(mon, monep) < 0) {
			zmq_close(mon);
			mon = NULL;
		}
	}
	if (mon && zmq_connect(s, d->ep) == 0) {
		for (;;) {
			zmq_pollitem_t it   = { s, 0, ZMQ_POLLOUT, 0 };
			int            left = tri_remaining(deadline, ms);

			if (zmq_poll(&it, 1, left) > 0 && it.revents) {
				r = 0;
				break;
			}
			if (tri_remaining(deadline, ms) == 0) {
				break;
			}
		}
	}
	if (r < 0) {
		if (mon) {
			zmq_socket_monitor(s, NULL, 0);
			zmq_close(mon);
		}
		zmq_close(s);
		tr_log(TR_LOG_INFO,
		    "direct connection to %s not made: the node agents "
		    "carry on",
		    d->ep);
		backoff(d);
		return r;
	}
	tri_fds_note_socket(s);
	tri_fds_note_socket(mon);
	d->mon    = mon;
	d->broken = false;
	*ret_sock = s;
	return 0;
}

bool
tri_direct_broken(struct tri_direct *d)
{
	zmq_msg_t f;

	while (d && d->mon && !d->broken) {
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, d->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f);
			break;
		}
		/* any event we asked for means the connection is gone */
		if (!zmq_msg_more(&f)) {
			d->broken = true;
		}
		zmq_msg_close(&f);
	}
	return d && d->broken;
}

/* Link/Unlink carry the linker's address in the payload: make it global,
 * as the agent does on the agent path. */
static void
globalise_link(tr_msg *m, uint32_t id)
{
	const ProtobufCMessageDescriptor *desc =
	    strcmp(m->env.type, "trwire.Link") == 0 ? &trwire__link__descriptor
	    : strcmp(m->env.type, "trwire.Unlink") == 0
	    ? &trwire__unlink__descriptor
	    : NULL;
	ProtobufCMessage *pb;
	Trwire__Addr     *from;
	tr_msg           *nm = NULL;

	if (!desc || tr_msg_unpack(m, desc, &pb) < 0) {
		return;
	}
	from = desc == &trwire__link__descriptor
	    ? ((Trwire__Link *) pb)->from
	    : ((Trwire__Unlink *) pb)->from;
	if (from && from->node == 0) {
		from->node = id;
		if (tri_msg_new_system(&nm, pb) == 0) {
			zmq_msg_close(&m->payload);
			zmq_msg_init(&m->payload);
			zmq_msg_move(&m->payload, &nm->payload);
			tr_msg_destroy(&nm);
		}
	}
	protobuf_c_message_free_unpacked(pb, NULL);
}

void
tri_direct_outgoing(tr_msg *m)
{
	/* a direct peer exists: the file is mapped (no lock per message) */
	struct shm *s = shm;

	if (!s) {
		return;
	}
	m->env.flags |= TRI_FLAG_DIRECT;
	if (m->env.reply_to.pid && m->env.reply_to.node == 0) {
		m->env.reply_to.node = s->id;
	}
	if (m->env.flags & TRI_FLAG_SYSTEM) {
		globalise_link(m, s->id);
	}
}

void
tri_direct_count_sent(void)
{
	struct shm *s = shm; /* set: a direct peer exists */

	if (s) {
		atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
	}
}

void
tri_direct_free(struct tri_direct **dp, bool close_sockets)
{
	struct tri_direct *d = *dp;

	if (!d) {
		return;
	}
	if (d->mon && close_sockets) {
		tri_fds_forget_socket(d->mon);
		zmq_close(d->mon);
	}
	tri_free(d);
	*dp = NULL;
}

void
tri_direct_forked(void)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	lock      = fresh; /* another thread may have held it */
	nacks     = 0;
	my_ep[0]  = '\0'; /* the parent's mailbox listened, not ours */
	my_key[0] = '\0';
	my_for    = NULL;
	nfroms    = 0; /* the parent's senders are not ours */
}

/* ---- broken direct connections: what the senders said they sent --------
 * Per sender: user messages that came on a direct connection since its
 * last DirectEnd, and the count a DirectEnd said (ended) once it came. */
struct from {
	tr_addr  sender;
	uint64_t got, said;
	bool     ended;
};
static struct from *froms;
static size_t       capfroms;

static struct from *
from_find(tr_addr sender, bool add)
{
	for (size_t i = 0; i < nfroms; i++) {
		if (tr_addr_eq(froms[i].sender, sender)) {
			return &froms[i];
		}
	}
	if (!add) {
		return NULL;
	}
	if (nfroms == capfroms) {
		size_t       cap = capfroms ? 2 * capfroms : 16;
		struct from *f   = tri_realloc(froms, cap * sizeof(*f));

		if (!f) {
			return NULL;
		}
		froms    = f;
		capfroms = cap;
	}
	froms[nfroms] = (struct from) { sender, 0, 0, false };
	return &froms[nfroms++];
}

void
tri_direct_from(tr_addr sender)
{
	struct from *f = from_find(sender, true);

	if (f) {
		f->got++;
	}
}

void
tri_direct_end_in(const tr_msg *m)
{
	ProtobufCMessage *pb;
	struct from      *f;

	if (tr_msg_unpack(m, &trwire__direct_end__descriptor, &pb) < 0) {
		return;
	}
	f = from_find(m->env.sender, true);
	if (f) {
		f->said += ((Trwire__DirectEnd *) pb)->count;
		f->ended = true;
	}
	protobuf_c_message_free_unpacked(pb, NULL);
}

int
tri_direct_settle(tr_msg **ret)
{
	*ret = NULL;
	for (size_t i = 0; i < nfroms; i++) {
		struct from f = froms[i];
		uint64_t    lost;
		struct shm *s;

		if (!f.ended) {
			continue;
		}
		froms[i] = froms[--nfroms];
		if (f.said <= f.got) {
			continue; /* everything came */
		}
		lost = f.said - f.got;
		if ((s = conf())) {
			atomic_fetch_add_explicit(
			    &s->lost, lost, memory_order_relaxed);
		}
		tr_log(TR_LOG_WARNING,
		    "mailbox: %" PRIu64 " message(s) sent on a direct "
		    "connection that broke never came",
		    lost);
		return tri_node_notice_new(ret, TR_NODE_NOTICE_GAP,
		    tri_self_cached(), f.sender, "", lost, 0);
	}
	return 0;
}
